"""Shipped presets: YAML files found by name (``burst presets list``)."""
