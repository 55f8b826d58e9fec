"""burst's shared library: what stage plugins have in common, for ours and a third party's
alike.

Arrays in, arrays out, no knowledge of the pipeline beyond the :mod:`burstcli` model types
(``Frame``, ``RawInfo``):

- :mod:`.arrays`: decoded-array helpers and the luminance proxy;
- :mod:`.noise`: noise estimates; :mod:`.agreement`: how far a registered frame agrees with
  the reference, in units of noise (the robust merges' and the zoom's weights);
- :mod:`.exposure`: the exposure gain between registered frames;
- :mod:`.warps`: frames onto the reference grid; :mod:`.kernel`: kernel-regression
  accumulators (merge.kernel, zoom.classical);
- :mod:`.registration`: image-to-image registration (features, ECC-style Lucas-Kanade,
  verification), behind ``align.global`` and ``merge.sequential``;
- :mod:`.colour`: RGB <-> YUV (BT.601) and chroma upsampling;
- :mod:`.dng`: a DNG writer (rawpy reads its files back exactly); :mod:`.rawfiles`: which
  file extensions are RAW;
- :mod:`.synth`: synthetic RAW bursts with ground truth (``burst synth``, ``burst demo``, the
  benchmarks and the zoom's training samples);
- :mod:`.nn`: seed 004's re-parameterisable network, its exact folding and TFLite export
  (PyTorch only to train: ``pip install 'burstcli[train]'``).

Stage plugins import :mod:`burstcli` and this library, never each other
(``tests/test_plugin_imports.py``); one plugin runs another's stage by name with
:func:`burstcli.registry.run_stage`.
"""
