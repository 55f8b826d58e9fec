"""A tiny framework-free IR of an inference network, its ``.npz`` form and a numpy executor.

A :class:`Graph` is a list of :class:`Node` in execution order (a DAG: every input names an
earlier node). Tensors are NHWC float32 with batch 1; the executor works on H x W x C.

Ops and their arrays (``params``) and integers (``attrs``):

- ``input``: ``attrs["channels"]``; exactly one, first.
- ``conv``: ``params["weight"]`` **OHWI** (out, kh, kw, in: the TFLite layout, so export is a
  plain copy), ``params["bias"]`` (out,) always present; stride 1, 'same' zero padding of
  ``k // 2``; odd square kernels (1, 3, 5, 7).
- ``prelu``: ``params["alpha"]`` (C,): ``x if x >= 0 else alpha * x`` per channel.
- ``add``: two inputs of the same shape.
- ``mul_const``: ``params["scale"]`` (C,): per-channel scale.
- ``depth_to_space``: ``attrs["block"]`` r, TensorFlow "DCR" order: input channel
  ``(i * r + j) * C + c`` goes to output pixel offset (i, j), channel c.
- ``space_to_depth``: ``attrs["block"]`` r, the exact inverse of ``depth_to_space`` (H and W
  must be multiples of r).
- ``output``: one input; exactly one, last.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

OPS = ("input", "conv", "prelu", "add", "mul_const", "depth_to_space", "space_to_depth",
       "output")
_FORMAT = 1  # version of the .npz layout


@dataclasses.dataclass
class Node:
    """One operation: its kind, unique name, input node names, arrays and integer attributes."""

    op: str
    name: str
    inputs: tuple[str, ...] = ()
    params: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    attrs: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Graph:
    """An inference network: nodes in execution order, one ``input`` and one ``output``."""

    nodes: list[Node]

    @property
    def input(self) -> Node:
        """The ``input`` node."""
        return self.nodes[0]

    @property
    def output(self) -> Node:
        """The ``output`` node."""
        return self.nodes[-1]

    def count(self, op: str) -> int:
        """How many nodes of kind ``op`` the graph holds."""
        return sum(node.op == op for node in self.nodes)

    def num_params(self) -> int:
        """Number of stored weights (all arrays together)."""
        return sum(a.size for node in self.nodes for a in node.params.values())

    def min_size(self) -> int:
        """The smallest input side the graph accepts (the product of its space-to-depth blocks);
        any input side must be a multiple of it."""
        return int(np.prod([n.attrs["block"] for n in self.nodes if n.op == "space_to_depth"]))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first node that does not fit (see :meth:`shapes`)."""
        self.shapes(self.min_size(), self.min_size())

    def shapes(self, height: int, width: int) -> dict[str, tuple[int, int, int]]:
        """(H, W, C) of every node's output for an input of ``height`` x ``width``.

        Also the graph's full check: order, arity, channel counts, kernel and block sizes;
        raises ``ValueError`` naming the node at fault.
        """
        if not self.nodes or self.input.op != "input" or self.output.op != "output":
            raise ValueError("a graph starts with its input node and ends with its output node")
        shapes: dict[str, tuple[int, int, int]] = {}
        for node in self.nodes:
            shapes[node.name] = _shape(node, [shapes[_known(shapes, node, i)]
                                              for i in node.inputs], height, width)
        return shapes


def _known(shapes: dict, node: Node, name: str) -> str:
    if name not in shapes:
        raise ValueError(f"node {node.name!r}: input {name!r} is not an earlier node")
    return name


def _shape(node: Node, ins: list[tuple[int, int, int]], height: int,
           width: int) -> tuple[int, int, int]:
    arity = {"input": 0, "add": 2}.get(node.op, 1)
    if node.op not in OPS or len(ins) != arity:
        raise ValueError(f"node {node.name!r}: op {node.op!r} with {len(ins)} inputs")
    if node.op == "input":
        return height, width, node.attrs["channels"]
    h, w, c = ins[0]
    if node.op == "conv":
        weight, bias = node.params["weight"], node.params["bias"]
        o, kh, kw, i = weight.shape
        if i != c or kh != kw or kh % 2 == 0 or bias.shape != (o,):
            raise ValueError(f"node {node.name!r}: weight {weight.shape} / bias {bias.shape} "
                             f"do not fit {c} input channels (OHWI, odd square kernel)")
        return h, w, o
    if node.op in ("prelu", "mul_const"):
        vector = node.params["alpha" if node.op == "prelu" else "scale"]
        if vector.shape != (c,):
            raise ValueError(f"node {node.name!r}: {vector.shape} for {c} channels")
    elif node.op == "add" and ins[1] != ins[0]:
        raise ValueError(f"node {node.name!r}: adds shapes {ins[0]} and {ins[1]}")
    elif node.op == "depth_to_space":
        r = node.attrs["block"]
        if c % (r * r):
            raise ValueError(f"node {node.name!r}: {c} channels for block {r}")
        return h * r, w * r, c // (r * r)
    elif node.op == "space_to_depth":
        r = node.attrs["block"]
        if h % r or w % r:
            raise ValueError(f"node {node.name!r}: {h}x{w} is not a multiple of block {r}")
        return h // r, w // r, c * r * r
    return h, w, c


def save_graph(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` to an ``.npz`` file (no pickles: structure as JSON, weights as arrays)."""
    graph.validate()
    structure = [{"op": n.op, "name": n.name, "inputs": list(n.inputs), "attrs": n.attrs,
                  "params": sorted(n.params)} for n in graph.nodes]
    # Any: mypy cannot tell that no key here is savez's own ``allow_pickle`` keyword.
    arrays: dict[str, Any] = {f"{i}/{key}": np.asarray(value, np.float32)
                              for i, node in enumerate(graph.nodes)
                              for key, value in node.params.items()}
    path = Path(path)
    with path.open("wb") as f:  # an open file keeps numpy from appending ".npz" to the name
        np.savez(f, __graph__=np.array(json.dumps({"format": _FORMAT, "nodes": structure})),
                 **arrays)
    return path


def load_graph(path: str | Path) -> Graph:
    """Read a graph written by :func:`save_graph`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__graph__"]))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path}: graph format {meta.get('format')}, expected {_FORMAT}")
        return Graph([Node(n["op"], n["name"], tuple(n["inputs"]),
                           {key: data[f"{i}/{key}"] for key in n["params"]}, dict(n["attrs"]))
                      for i, n in enumerate(meta["nodes"])])


def depth_to_space(x: np.ndarray, block: int) -> np.ndarray:
    """(H, W, r*r*C) -> (H*r, W*r, C) in TensorFlow's DCR order."""
    h, w, c = x.shape
    c //= block * block
    x = x.reshape(h, w, block, block, c).transpose(0, 2, 1, 3, 4)
    return x.reshape(h * block, w * block, c)


def space_to_depth(x: np.ndarray, block: int) -> np.ndarray:
    """(H, W, C) -> (H/r, W/r, r*r*C): the inverse of :func:`depth_to_space`."""
    h, w, c = x.shape
    x = x.reshape(h // block, block, w // block, block, c).transpose(0, 2, 1, 3, 4)
    return x.reshape(h // block, w // block, block * block * c)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'Same' zero-padded stride-1 cross-correlation of H x W x I with an OHWI kernel."""
    h, w, _ = x.shape
    k = weight.shape[1]
    p = k // 2
    padded = np.pad(x, ((p, p), (p, p), (0, 0)))
    out = np.empty((h, w, weight.shape[0]), x.dtype)
    out[:] = bias
    # One matrix product per kernel tap: k*k BLAS calls instead of a Python loop over pixels.
    for dy in range(k):
        for dx in range(k):
            out += padded[dy:dy + h, dx:dx + w] @ weight[:, dy, dx, :].T
    return out


def run_graph(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Execute ``graph`` on ``x`` (H x W x C, or 1 x H x W x C); float32 out, same rank.

    The reference executor: computes in float64 so that comparisons against it measure the
    other side's error, not this one's.
    """
    batched = x.ndim == 4
    image = np.asarray(x[0] if batched else x, np.float64)
    graph.shapes(*image.shape[:2])  # validates before any work
    values: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        ins = [values[name] for name in node.inputs]
        p = {key: np.asarray(value, np.float64) for key, value in node.params.items()}
        if node.op == "input":
            out = image
        elif node.op == "conv":
            out = conv2d(ins[0], p["weight"], p["bias"])
        elif node.op == "prelu":
            out = np.where(ins[0] >= 0, ins[0], ins[0] * p["alpha"])
        elif node.op == "add":
            out = ins[0] + ins[1]
        elif node.op == "mul_const":
            out = ins[0] * p["scale"]
        elif node.op == "depth_to_space":
            out = depth_to_space(ins[0], node.attrs["block"])
        elif node.op == "space_to_depth":
            out = space_to_depth(ins[0], node.attrs["block"])
        else:  # output
            out = ins[0]
        values[node.name] = out
    result = values[graph.output.name].astype(np.float32)
    return result[None] if batched else result
