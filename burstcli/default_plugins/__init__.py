"""Built-in plugins of the core: writers, groupers, shipped presets, reporters.

They are registered like any other plugin (``-p``-style blocking works on them too) and use
only the public hooks.
"""
