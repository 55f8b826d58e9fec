"""Synthetic RAW bursts with ground truth, written as real DNG files: see :mod:`.api`
(``make_burst``, ``SynthOptions``, ``load_truth``) and, for the zoom's training samples,
:mod:`.sensor`."""
