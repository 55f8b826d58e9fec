"""A :class:`~.graph.Graph` as a ``.tflite`` flatbuffer, written with the schema classes that
ship inside ai-edge-litert (no TensorFlow), and a small runner.

The model has one float32 input of shape [1, 1, 1, C] whose shape signature is [1, -1, -1, C]:
H and W are dynamic, set with ``resize_tensor_input`` before ``allocate_tensors`` (a graph with
space_to_depth blocks gets the smallest static size it accepts instead of 1). Ops: CONV_2D
(OHWI weights, always a bias: XNNPACK wants one; padding SAME, stride 1), PRELU (alpha shaped
[1, 1, C]), ADD, MUL (a [C] constant), DEPTH_TO_SPACE and SPACE_TO_DEPTH (both TensorFlow's
order, which the IR already uses).
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from .graph import Graph

_OPTIONS = {  # IR op -> (builtin operator name, builtin options name or None)
    "conv": ("CONV_2D", "Conv2DOptions"),
    "prelu": ("PRELU", None),
    "add": ("ADD", "AddOptions"),
    "mul_const": ("MUL", "MulOptions"),
    "depth_to_space": ("DEPTH_TO_SPACE", "DepthToSpaceOptions"),
    "space_to_depth": ("SPACE_TO_DEPTH", "SpaceToDepthOptions"),
}
# Builtin codes above this live only in the (newer) builtinCode field.
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def _schema():  # type: ignore[no-untyped-def]
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def _interpreter_class():  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter


class _Writer:
    """Tensors, buffers and operator codes of one subgraph."""

    def __init__(self, schema) -> None:  # type: ignore[no-untyped-def]
        self.s = schema
        self.tensors: list = []
        self.buffers: list = [schema.BufferT()]  # buffer 0: the empty one, by convention
        self.codes: dict[str, int] = {}
        self.operators: list = []

    def tensor(self, name: str, shape: list[int], signature: list[int] | None = None,
               data: np.ndarray | None = None) -> int:
        t = self.s.TensorT()
        t.name, t.shape, t.type = name, shape, self.s.TensorType.FLOAT32
        t.shapeSignature = signature
        t.buffer = 0
        if data is not None:
            buffer = self.s.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data, "<f4").tobytes(), np.uint8)
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def operator(self, op: str, inputs: list[int], outputs: list[int], **options: int) -> None:
        builtin, options_name = _OPTIONS[op]
        if builtin not in self.codes:
            self.codes[builtin] = len(self.codes)
        o = self.s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[builtin], inputs, outputs
        if options_name is not None:
            o.builtinOptionsType = getattr(self.s.BuiltinOptions, options_name)
            o.builtinOptions = getattr(self.s, options_name + "T")()
            for key, value in options.items():
                setattr(o.builtinOptions, key, value)
        self.operators.append(o)

    def operator_codes(self) -> list:
        codes = []
        for builtin in self.codes:  # dicts keep insertion order: index = opcodeIndex
            code = self.s.OperatorCodeT()
            code.builtinCode = getattr(self.s.BuiltinOperator, builtin)
            code.deprecatedBuiltinCode = min(code.builtinCode, _PLACEHOLDER_FOR_GREATER_OP_CODES)
            code.version = 1
            codes.append(code)
        return codes


def to_tflite(graph: Graph, description: str = "burstlib.nn graph") -> bytes:
    """The ``.tflite`` flatbuffer of ``graph`` (dynamic H and W)."""
    graph.validate()
    s = _schema()
    w = _Writer(s)
    side = graph.min_size()
    shapes = graph.shapes(side, side)
    index: dict[str, int] = {}

    def activation(name: str) -> int:
        h, wd, c = shapes[name]
        return w.tensor(name, [1, h, wd, c], [1, -1, -1, c])

    for node in graph.nodes:
        if node.op == "input":
            index[node.name] = activation(node.name)
            continue
        if node.op == "output":
            index[node.name] = index[node.inputs[0]]
            continue
        ins = [index[name] for name in node.inputs]
        options: dict[str, int] = {}
        if node.op == "conv":
            ins += [w.tensor(f"{node.name}/weight", list(node.params["weight"].shape),
                             data=node.params["weight"]),
                    w.tensor(f"{node.name}/bias", list(node.params["bias"].shape),
                             data=node.params["bias"])]
            options = {"padding": s.Padding.SAME, "strideW": 1, "strideH": 1}
        elif node.op == "prelu":
            alpha = node.params["alpha"].reshape(1, 1, -1)
            ins.append(w.tensor(f"{node.name}/alpha", list(alpha.shape), data=alpha))
        elif node.op == "mul_const":
            scale = node.params["scale"]
            ins.append(w.tensor(f"{node.name}/scale", list(scale.shape), data=scale))
        elif node.op in ("depth_to_space", "space_to_depth"):
            options = {"blockSize": node.attrs["block"]}
        index[node.name] = activation(node.name)
        w.operator(node.op, ins, [index[node.name]], **options)

    subgraph = s.SubGraphT()
    subgraph.tensors, subgraph.operators = w.tensors, w.operators
    subgraph.inputs = [index[graph.input.name]]
    subgraph.outputs = [index[graph.output.name]]
    subgraph.name = "main"
    model = s.ModelT()
    model.version = 3  # the schema version every current runtime reads
    model.description = description
    model.subgraphs, model.buffers = [subgraph], w.buffers
    model.operatorCodes = w.operator_codes()
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def save_tflite(graph: Graph, path: str | Path, description: str = "burstlib.nn graph") -> Path:
    """Write :func:`to_tflite` of ``graph`` to ``path``."""
    path = Path(path)
    path.write_bytes(to_tflite(graph, description))
    return path


def run_tflite(model: str | Path | bytes, x: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Run a dynamic-size ``.tflite`` (a path or its bytes) on ``x`` (H x W x C or
    1 x H x W x C); float32 out, same rank. Builds an interpreter per call: fine for tests and
    one-off checks; reuse one per input size for throughput (burstlib.litert does)."""
    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    batched = x.ndim == 4
    image = np.ascontiguousarray(x if batched else x[None], np.float32)
    interpreter = _interpreter_class()(model_content=content, num_threads=num_threads)
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(input_index, list(image.shape), strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_index, image)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return out if batched else out[0]
