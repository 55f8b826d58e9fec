"""burst's shared array library: what stage plugins have in common, for ours and a third
party's alike.

Arrays in, arrays out, no knowledge of the pipeline beyond the :mod:`burstcli` model types
(``Frame``, ``RawInfo``): decoded-array helpers and the luminance proxy (:mod:`.arrays`), noise
estimates (:mod:`.noise`), the exposure gain between registered frames (:mod:`.exposure`),
RGB <-> YUV (BT.601) and chroma upsampling (:mod:`.colour`).
Stage plugins import :mod:`burstcli` and this library, never each other
(``tests/test_plugin_imports.py``).
"""
