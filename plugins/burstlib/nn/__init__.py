"""Training side of the learned networks: 004's re-parameterizable model, its exact folding
and its exact TFLite export (see README.md in this folder).

Modules: :mod:`.graph` (framework-free IR, ``.npz`` files, numpy executor), :mod:`.net` (the
multi-branch PyTorch model), :mod:`.algebra` (the folding rules on tensors), :mod:`.fold`
(model -> graph), :mod:`.tflite_export` (graph -> ``.tflite``, and a runner),
:mod:`.tflite_import` (``.tflite`` -> graph -> a RepNet's weights: warm starts).

Importing this package imports neither PyTorch nor the TFLite runtime: the names below load
their module on first use, so the graph tools work without the ``train`` extra.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Graph": "graph", "Node": "graph", "load_graph": "graph", "save_graph": "graph",
    "run_graph": "graph",
    "NetConfig": "net", "RepNet": "net", "reference_weights": "net", "BRANCH_KINDS": "net",
    "FoldStrategy": "fold", "fold_model": "fold", "fold_plan": "fold",
    "unfolded_graph": "fold", "crd_to_dcr": "fold",
    "to_tflite": "tflite_export", "save_tflite": "tflite_export", "run_tflite": "tflite_export",
    "from_tflite": "tflite_import", "load_folded": "tflite_import",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
