"""004's reconstruction: a trained :class:`~.net.RepNet` as an inference :class:`~.graph.Graph`.

Per module, a :class:`FoldStrategy` picks M *target* branches of the N (004 claim 7) and merges
them into Q >= 1 convs (claim 15); the other branches stay as they were trained (each conv its
own node, BN folded into it). The merged convs, the untouched branches, the add nodes that sum
them and the module's PReLU form the folded module; with everything merged into Q = 1 it is ONE
conv + PReLU. Rules (all exact, see :mod:`.algebra`): BN into its conv with the running
statistics, a 1x1 then a kxk into one kxk, identity into a kernel with 1 at the centre, a
smaller kernel zero-padded into a larger one, parallel convs summed. Nothing is folded across
an activation. The input scale folds into the first conv; PyTorch's pixel (un)shuffle order
becomes TensorFlow's by permuting the last conv's channels (:func:`crd_to_dcr`).

Folding runs in float64 on a copy of the model: the stored float32 weights are rounded once,
at the end, not at every step of the algebra.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch

from .algebra import pad_to, summed
from .graph import Graph, Node
from .net import Branch, IdentityBranch, RepModule, RepNet

SELECTIONS = ("all", "random", "by_kernel_scale", "by_count")
GROUPINGS = ("even", "by_kernel_scale")


@dataclasses.dataclass(frozen=True)
class FoldStrategy:
    """How one module is reconstructed.

    Selection of the M targets (``select``):

    - 'all': every branch.
    - 'random': ``m`` branches drawn at random (``m`` None: M itself drawn from 1..N), seeded
      by ``seed`` and the module's index, so the plan is reproducible.
    - 'by_kernel_scale': the first-type branches whose kernel size (a chain's largest, i.e.
      its folded size) is ``scale`` (004 [0123]: "branches including a convolution kernel
      with a scale of 3*3").
    - 'by_count': the first-type branches holding ``count`` convolution kernels (a 1x1 then a
      3x3, or an edge branch, hold 2); ``count`` None means the largest count in the module,
      i.e. the branches with the most kernels, which gain the most from merging.

    Grouping of the targets into merged convs (``group``): 'even' splits them, in selection
    order, into ``q`` groups of near-equal size (``q`` <= M); 'by_kernel_scale' makes one group
    per kernel size (004 [0104], identity counting as size 1; ``q`` must stay 1). Selecting no
    branch leaves the module as trained.
    """

    select: str = "all"
    q: int = 1
    group: str = "even"
    m: int | None = None
    seed: int = 0
    scale: int = 3
    count: int | None = None

    def __post_init__(self) -> None:
        if self.select not in SELECTIONS or self.group not in GROUPINGS:
            raise ValueError(f"select {self.select!r} / group {self.group!r}: known are "
                             f"{SELECTIONS} / {GROUPINGS}")
        if self.q < 1 or (self.group == "by_kernel_scale" and self.q != 1):
            raise ValueError(f"q = {self.q}: q >= 1, and q applies to group='even' only")
        if self.m is not None and self.m < 1:
            raise ValueError(f"m = {self.m} must be >= 1")


StrategySpec = FoldStrategy | str | Sequence[FoldStrategy | str]


def _strategies(spec: StrategySpec, count: int) -> list[FoldStrategy]:
    def one(s: FoldStrategy | str) -> FoldStrategy:
        return s if isinstance(s, FoldStrategy) else FoldStrategy(select=s)
    if isinstance(spec, (FoldStrategy, str)):
        return [one(spec)] * count
    if len(spec) != count:
        raise ValueError(f"{len(spec)} strategies for {count} modules")
    return [one(s) for s in spec]


def _targets(module: RepModule, strategy: FoldStrategy, index: int) -> list[int]:
    branches = list(module.branches)
    first_type = [i for i, b in enumerate(branches) if b.first_type]
    if strategy.select == "all":
        return list(range(len(branches)))
    if strategy.select == "random":
        rng = np.random.default_rng([strategy.seed, index])
        m = strategy.m if strategy.m is not None else int(rng.integers(1, len(branches) + 1))
        if m > len(branches):
            raise ValueError(f"module {index}: m = {m} of {len(branches)} branches")
        return [int(i) for i in rng.permutation(len(branches))[:m]]
    if strategy.select == "by_kernel_scale":
        return [i for i in first_type if branches[i].size == strategy.scale]
    count = strategy.count if strategy.count is not None else \
        max((branches[i].num_kernels for i in first_type), default=0)
    return [i for i in first_type if branches[i].num_kernels == count]


def fold_plan(model: RepNet, strategy: StrategySpec = "all") -> list[list[list[int]]]:
    """For every module, the groups of branch indices merged into one conv each.

    ``strategy``: one :class:`FoldStrategy` (or selection name) for all modules, or one per
    module. Branches in no group stay unmerged.
    """
    plan = []
    strategies = _strategies(strategy, len(model.body))
    for index, (module, s) in enumerate(zip(model.body, strategies)):
        targets = _targets(module, s, index)
        if s.group == "by_kernel_scale":
            sizes = sorted({module.branches[i].size for i in targets})
            groups = [[i for i in targets if module.branches[i].size == k] for k in sizes]
        elif s.q > len(targets) > 0:
            raise ValueError(f"module {index}: q = {s.q} groups of {len(targets)} targets")
        else:
            groups = [list(map(int, g)) for g in np.array_split(targets, s.q)] if targets else []
        plan.append(groups)
    return plan


def crd_to_dcr(channels: int, block: int) -> np.ndarray:
    """Channel permutation from PyTorch's pixel-shuffle order to TensorFlow's depth_to_space.

    ``new[(i*r + j)*C + c] = old[c*r*r + i*r + j]``: index a conv's output channels with it
    before depth_to_space (or, for space_to_depth, the next conv's input channels).
    """
    return np.arange(channels * block * block).reshape(channels, block * block).T.reshape(-1)


class _Builder:
    """Appends nodes with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.counts: Counter[str] = Counter()

    def add(self, op: str, inputs: Sequence[str] = (), params: dict | None = None,
            **attrs: int) -> str:
        name = f"{op}{self.counts[op]}"
        self.counts[op] += 1
        self.nodes.append(Node(op, name, tuple(inputs),
                               {k: _numpy(v) for k, v in (params or {}).items()}, attrs))
        return name

    def conv(self, x: str, weight: torch.Tensor, bias: torch.Tensor) -> str:
        return self.add("conv", [x], {"weight": weight.permute(0, 2, 3, 1), "bias": bias})

    def sum(self, names: Sequence[str]) -> str:
        total = names[0]
        for name in names[1:]:
            total = self.add("add", [total, name])
        return total


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)


def _unfolded_branch(b: _Builder, x: str, branch: Branch | IdentityBranch) -> str:
    """A branch as it was trained: one conv node per stage, BN folded into its own conv.

    A chain's 1x1 sees a zero-padded input in training, so at the border its output is its
    bias; a graph conv pads the 1x1 output with zeros instead. Moving each stage's bias into
    the next conv's bias (through that conv's kernel sum) makes the two agree everywhere.
    """
    if not branch.first_type:
        return x
    assert isinstance(branch, Branch)  # the first-type branches are the chains
    kernels = [stage.kernel() for stage in branch.stages]
    carry = torch.zeros(kernels[0][0].shape[1], dtype=kernels[0][0].dtype)
    for position, (weight, bias) in enumerate(kernels):
        carry = bias + torch.einsum("oiyx,i->o", weight, carry)
        last = position == len(kernels) - 1
        x = b.conv(x, weight, carry if last else torch.zeros_like(bias))
    return x


def _merged(module: RepModule, group: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The branches of ``group`` as one conv of the group's largest kernel size."""
    size = max(module.branches[i].size for i in group)
    like = module.act.weight
    kernels = [module.branches[i].kernel() for i in group]
    return (summed(pad_to(w.to(like), size) for w, _ in kernels),
            summed(bias.to(like) for _, bias in kernels))


def _build(model: RepNet, plan: list[list[list[int]]], fold_input_scale: bool) -> Graph:
    net = copy.deepcopy(model).double().eval()
    config = net.config
    r = config.scale
    b = _Builder()
    with torch.no_grad():
        x = b.add("input", channels=config.in_channels)
        weight, bias = net.first.weight, net.first.bias
        assert bias is not None  # RepNet's first and last convs have biases
        if net.input_scale is not None:
            if fold_input_scale:  # conv(x * s) = conv with K[:, i] * s[i], zero padding too
                weight = weight * net.input_scale.view(1, -1, 1, 1)
            else:
                x = b.add("mul_const", [x], {"scale": net.input_scale})
        f0 = f = b.conv(x, weight, bias)
        for index, (module, groups) in enumerate(zip(net.body, plan), 1):
            merged = {i for group in groups for i in group}
            outputs = [b.conv(f, *_merged(module, group)) for group in groups]
            outputs += [_unfolded_branch(b, f, branch)
                        for i, branch in enumerate(module.branches) if i not in merged]
            f = b.add("prelu", [b.sum(outputs)], {"alpha": module.act.weight})
            if index == config.skip_index:
                f = b.add("add", [f, f0])
        weight, bias = net.last.weight, net.last.bias
        assert bias is not None
        if config.head == "down":
            f = b.add("space_to_depth", [f], block=r)
            weight = weight[:, crd_to_dcr(config.features, r)]
        elif config.head == "up":
            perm = crd_to_dcr(config.out_channels, r)
            weight, bias = weight[perm], bias[perm]
        y = b.conv(f, weight, bias)
        if config.head == "up":
            y = b.add("depth_to_space", [y], block=r)
        b.add("output", [y])
    graph = Graph(b.nodes)
    graph.validate()
    return graph


def fold_model(model: RepNet, strategy: StrategySpec = "all") -> Graph:
    """The inference graph of ``model`` reconstructed by ``strategy`` (see :class:`FoldStrategy`).

    Uses eval semantics whatever the model's mode: BatchNorm with its running statistics.
    """
    return _build(model, fold_plan(model, strategy), fold_input_scale=True)


def unfolded_graph(model: RepNet) -> Graph:
    """The same weights with every branch as its own conv nodes summed by add nodes (BN folded
    only into its own conv, the input scale a ``mul_const``): exact, and as slow as training."""
    return _build(model, [[] for _ in model.body], fold_input_scale=False)
