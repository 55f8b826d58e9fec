"""The way back: a ``.tflite`` written by :mod:`.tflite_export` as a :class:`~.graph.Graph`, and
a folded graph's weights loaded into a training :class:`~.net.RepNet` (a warm start from a
shipped model when no PyTorch checkpoint of it exists).

:func:`from_tflite` reads the flatbuffer with the schema classes of ai-edge-litert and maps
each operator back to the IR op it was written from (CONV_2D, PRELU, ADD, MUL,
DEPTH_TO_SPACE, SPACE_TO_DEPTH; nothing else is accepted).

:func:`load_folded` makes a RepNet compute exactly the folded graph (one conv + PReLU per
module): every module's ``conv3`` branch holds the folded kernel minus what the other branches
contribute, and those contribute only the identity (``conv1-conv3``'s last conv, the edge
branches' scales and biases are set to zero, so they start silent and learn from there); the
input scale is folded into the first conv, so it becomes ones; the last conv's channels go
back from TensorFlow's depth_to_space order to PyTorch's pixel shuffle (:func:`.fold.crd_to_dcr`
undone). Folding the result again gives back the graph's weights (to float32 rounding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .graph import Graph, Node

_OPS = {"CONV_2D": "conv", "PRELU": "prelu", "ADD": "add", "MUL": "mul_const",
        "DEPTH_TO_SPACE": "depth_to_space", "SPACE_TO_DEPTH": "space_to_depth"}


def from_tflite(model: str | Path | bytes) -> Graph:
    """The :class:`Graph` of a ``.tflite`` (path or bytes) of the kind :func:`.to_tflite` writes."""
    from ai_edge_litert import schema_py_generated as s
    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    m = s.ModelT.InitFromPackedBuf(bytearray(content), 0)
    if len(m.subgraphs) != 1:
        raise ValueError(f"{len(m.subgraphs)} subgraphs: one expected")
    graph = m.subgraphs[0]
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in m.operatorCodes]

    def constant(index: int) -> np.ndarray:
        tensor = graph.tensors[index]
        if tensor.type != s.TensorType.FLOAT32:
            raise ValueError(f"tensor {tensor.name!r} is not float32")
        data = m.buffers[tensor.buffer].data
        if data is None:
            raise ValueError(f"tensor {tensor.name!r} has no data")
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), "<f4").reshape(
            [int(d) for d in tensor.shape]).copy()

    (first,) = graph.inputs
    nodes = [Node("input", "input0", (), {}, {"channels": int(graph.tensors[first].shape[-1])})]
    producer = {first: "input0"}
    counts: dict[str, int] = {}
    for operator in graph.operators:
        code = codes[operator.opcodeIndex]
        if code not in _OPS:
            raise ValueError(f"operator {code} is not one the exporter writes")
        op = _OPS[code]
        name = f"{op}{counts.get(op, 0)}"
        counts[op] = counts.get(op, 0) + 1
        ins = [int(i) for i in operator.inputs]
        params: dict[str, np.ndarray] = {}
        attrs: dict[str, int] = {}
        if op == "conv":
            options = operator.builtinOptions
            if options.padding != s.Padding.SAME or options.strideH != 1 or options.strideW != 1 \
                    or options.fusedActivationFunction != s.ActivationFunctionType.NONE:
                raise ValueError(f"{name}: only stride 1, SAME, no fused activation")
            params = {"weight": constant(ins[1]), "bias": constant(ins[2])}
            ins = ins[:1]
        elif op == "prelu":
            params = {"alpha": constant(ins[1]).reshape(-1)}
            ins = ins[:1]
        elif op == "mul_const":
            params = {"scale": constant(ins[1]).reshape(-1)}
            ins = ins[:1]
        elif op in ("depth_to_space", "space_to_depth"):
            attrs = {"block": int(operator.builtinOptions.blockSize)}
        nodes.append(Node(op, name, tuple(producer[i] for i in ins), params, attrs))
        producer[int(operator.outputs[0])] = name
    (last,) = graph.outputs
    nodes.append(Node("output", "output0", (producer[last],)))
    result = Graph(nodes)
    result.validate()
    return result


def load_folded(net, graph: Graph) -> None:  # type: ignore[no-untyped-def]
    """Set ``net`` (a :class:`~.net.RepNet`, head 'up', no BatchNorm, every module of kernel
    size 3 with a ``conv3`` branch) so that it computes exactly ``graph``, a folded export of a
    net of the same shape (see the module docstring)."""
    import torch

    from .fold import crd_to_dcr
    config = net.config
    if config.with_bn or config.head != "up":
        raise ValueError("load_folded takes a net without BatchNorm and with head 'up'")
    convs = [n for n in graph.nodes if n.op == "conv"]
    prelus = [n for n in graph.nodes if n.op == "prelu"]
    expected = ["input", "conv"] + ["conv", "prelu"] * config.num_modules
    if config.skip_index:
        expected.insert(2 + 2 * config.skip_index, "add")
    expected += ["conv", "depth_to_space", "output"]
    if [n.op for n in graph.nodes] != expected:
        raise ValueError(f"graph {[n.op for n in graph.nodes]} is not a folded net of this "
                         f"shape ({expected})")

    def oihw(node: Node) -> torch.Tensor:
        return torch.from_numpy(node.params["weight"]).double().permute(0, 3, 1, 2)

    def put(parameter: torch.nn.Parameter, value: torch.Tensor) -> None:
        if tuple(parameter.shape) != tuple(value.shape):
            raise ValueError(f"shape {tuple(value.shape)} for a parameter of "
                             f"{tuple(parameter.shape)}")
        parameter.copy_(value.to(parameter))

    with torch.no_grad():
        put(net.first.weight, oihw(convs[0]))
        put(net.first.bias, torch.from_numpy(convs[0].params["bias"]).double())
        if net.input_scale is not None:
            if isinstance(net.input_scale, torch.nn.Parameter):
                net.input_scale.fill_(1.0)
            else:
                raise ValueError("a fixed input scale cannot be set to ones: use a net with "
                                 "learn_input_scale or none")
        for module, conv, prelu in zip(net.body, convs[1:-1], prelus):
            target = [b for b in module.branches if b.kind == "conv3"]
            if len(target) != 1 or module.size != 3:
                raise ValueError("every module needs one conv3 branch and kernel size 3")
            for branch in module.branches:
                if branch.first_type:
                    last = branch.stages[-1]
                    if hasattr(last, "conv"):
                        last.conv.weight.zero_()
                        last.conv.bias.zero_()
                    else:  # an edge stage
                        last.scale.zero_()
                        last.bias.zero_()
            rest_weight, rest_bias = module.kernel()  # what the other branches still add
            put(target[0].stages[0].conv.weight, oihw(conv) - rest_weight.double())
            put(target[0].stages[0].conv.bias,
                torch.from_numpy(conv.params["bias"]).double() - rest_bias.double())
            put(module.act.weight, torch.from_numpy(prelu.params["alpha"]).double())
        last = convs[-1]
        inverse = np.argsort(crd_to_dcr(config.out_channels, config.scale))
        put(net.last.weight, oihw(last)[inverse])
        put(net.last.bias, torch.from_numpy(last.params["bias"]).double()[inverse])


def interpolate(old: Graph, new: Graph, t: float) -> Graph:
    """``(1 - t) * old + t * new``, weight by weight, of two graphs of the same structure (a
    fine-tune and the model it started from: weight-space ensembling, WiSE-FT)."""
    if [(n.op, n.inputs, n.attrs) for n in old.nodes] != [(n.op, n.inputs, n.attrs)
                                                           for n in new.nodes]:
        raise ValueError("the graphs differ in structure")
    nodes = [Node(a.op, a.name, a.inputs,
                  {k: ((1 - t) * v + t * b.params[k]).astype(np.float32)
                   for k, v in a.params.items()}, dict(a.attrs))
             for a, b in zip(old.nodes, new.nodes)]
    return Graph(nodes)
