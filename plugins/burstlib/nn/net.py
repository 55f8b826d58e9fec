"""The training-time network of 004: multi-branch feature reconstruction modules (PyTorch).

Layout (004 fig. 5a)::

    x * input_scale -> first conv (in -> C) = f0
    -> P modules: (sum of N branches) -> PReLU;  after the j-th, f = f + f0 (feature connection)
    -> head 'up':   last conv (C -> out*r*r) -> pixel shuffle r          (super-resolution)
       head 'down': pixel unshuffle r -> last conv (C*r*r -> out)       (compressed image)
       head 'none': last conv (C -> out)                                 (noise reduction)

Branch kinds (every module maps C -> C; ``with_bn`` puts a BatchNorm after every conv):

- ``conv1``, ``conv3``, ``conv5``: one k x k conv.
- ``conv1-conv3``, ``conv1-conv5``: a 1x1 (C -> expand*C) then a 3x3 / 5x5. Only a 1x1 may
  precede another conv, so every branch folds to a kernel no larger than its last one and a
  whole module folds to ONE conv of its largest branch size (3x3 then 5x5 would need 7x7).
- ``sobelx``, ``sobely``, ``laplacian``: ECBSR's edge branches, a 1x1 (C -> C) then a fixed
  3x3 filter per channel with a learnable per-channel scale and bias.
- ``identity``: the second-type branch.

A chained branch zero-pads its *input* and convolves with no padding after, so its 1x1
output at the border is the 1x1's bias: exactly what the folded kxk conv computes on the
zero-padded input (FACTS: zero-padding the 1x1 output instead is off at the border).

``mode``: 'branches' runs every branch (needed while BatchNorm uses batch statistics);
'fused' (SESR-style) rebuilds each module's single kernel from the branch weights every
forward, inside autograd, so training costs about what the plain net costs and gives the same
gradients. Both give the same output for the same weights in eval mode (BN running stats).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from . import algebra

EDGE_FILTERS = {
    "sobelx": ((1.0, 0.0, -1.0), (2.0, 0.0, -2.0), (1.0, 0.0, -1.0)),
    "sobely": ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0)),
    "laplacian": ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0)),
}
CONV_BRANCHES = {"conv1": (1,), "conv3": (3,), "conv5": (5,), "conv1-conv3": (1, 3),
                 "conv1-conv5": (1, 5)}
BRANCH_KINDS = (*CONV_BRANCHES, *EDGE_FILTERS, "identity")
HEADS = ("up", "down", "none")
MODES = ("branches", "fused")


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Shape of a :class:`RepNet`.

    ``branches``: one tuple of kinds for every module, or one tuple per module (P of them).
    ``skip_after``: j of the feature connection unit (f0 added to the j-th module's output);
    None means P (a global skip before the last conv), 0 means no feature connection.
    ``input_scale``: a fixed per-input-channel factor (e.g. :func:`reference_weights` for a
    multi-frame stack, reference first and weighted more); ``learn_input_scale`` makes it a
    parameter (initialised from ``input_scale`` or ones). Either way it folds exactly into the
    first conv (zero padding times a scale is still zero).
    """

    in_channels: int = 1
    out_channels: int = 1
    features: int = 16
    num_modules: int = 4
    scale: int = 2
    head: str = "up"
    branches: tuple[str, ...] | tuple[tuple[str, ...], ...] = (
        "conv3", "conv1-conv3", "sobelx", "sobely", "laplacian", "identity")
    with_bn: bool = False
    expand: int = 1
    skip_after: int | None = None
    input_scale: tuple[float, ...] | None = None
    learn_input_scale: bool = False

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head {self.head!r} is not one of {HEADS}")
        if (self.head == "none") != (self.scale == 1) or not 1 <= self.scale <= 4:
            raise ValueError(f"head {self.head!r} with scale {self.scale}: 'up' and 'down' "
                             "take 2..4, 'none' takes 1")
        if min(self.in_channels, self.out_channels, self.features, self.num_modules,
               self.expand) < 1:
            raise ValueError("channel counts, num_modules and expand must be >= 1")
        for p in range(self.num_modules):
            kinds = self.branches_of(p)
            if not kinds or set(kinds) - set(BRANCH_KINDS):
                raise ValueError(f"module {p}: branches {kinds} (known: {BRANCH_KINDS})")
        if self.skip_after is not None and not 0 <= self.skip_after <= self.num_modules:
            raise ValueError(f"skip_after {self.skip_after} is not in 0..{self.num_modules}")
        if self.input_scale is not None and len(self.input_scale) != self.in_channels:
            raise ValueError(f"{len(self.input_scale)} input scales for {self.in_channels} "
                             "input channels")

    def branches_of(self, index: int) -> tuple[str, ...]:
        """The branch kinds of module ``index`` (0-based)."""
        if self.branches and not isinstance(self.branches[0], str):
            if len(self.branches) != self.num_modules:
                raise ValueError(f"{len(self.branches)} branch sets for {self.num_modules} "
                                 "modules")
            return tuple(self.branches[index])
        # Not narrowed by the test above: a tuple of kinds whose first one is a str.
        return tuple(cast(tuple[str, ...], self.branches))

    @property
    def skip_index(self) -> int:
        """j of the feature connection, 1-based; 0 when there is none."""
        return self.num_modules if self.skip_after is None else self.skip_after


def reference_weights(frames: int, channels_per_frame: int = 1,
                      reference: float = 2.0) -> tuple[float, ...]:
    """Per-channel input scale of a stack of ``frames`` frames, the reference (first) frame's
    channels weighted ``reference`` and the others 1 (000 claim 7)."""
    return (reference,) * channels_per_frame + (1.0,) * (channels_per_frame * (frames - 1))


class ConvStage(nn.Module):
    """One learned convolution, optionally followed by BatchNorm."""

    def __init__(self, cin: int, cout: int, size: int, bn: bool, padding: int):
        super().__init__()
        self.size = size
        self.conv = nn.Conv2d(cin, cout, size, padding=padding, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) if self.bn is not None else y

    def kernel(self) -> algebra.Kernel:
        """The stage as one conv (BN folded with its running statistics)."""
        weight = self.conv.weight
        bias = self.conv.bias if self.conv.bias is not None else weight.new_zeros(len(weight))
        return algebra.fuse_bn(weight, bias, self.bn) if self.bn is not None else (weight, bias)


class EdgeStage(nn.Module):
    """A fixed 3x3 filter per channel times a learnable per-channel scale, plus a bias
    (ECBSR), optionally followed by BatchNorm. No padding: it always ends a chain."""

    mask: torch.Tensor  # a buffer (registered below)

    def __init__(self, channels: int, filter_name: str, bn: bool):
        super().__init__()
        self.size = 3
        mask = torch.tensor(EDGE_FILTERS[filter_name])
        self.register_buffer("mask", mask.expand(channels, 1, 3, 3).clone())
        # ECBSR's initialisation: small, so the branch starts near silent.
        self.scale = nn.Parameter(torch.randn(channels, 1, 1, 1) * 1e-3)
        self.bias = nn.Parameter(torch.randn(channels) * 1e-3)
        self.bn = nn.BatchNorm2d(channels) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.scale * self.mask, self.bias, groups=len(self.bias))
        return self.bn(y) if self.bn is not None else y

    def kernel(self) -> algebra.Kernel:
        """The stage as one dense conv (BN folded with its running statistics)."""
        weight = algebra.depthwise_dense(self.scale * self.mask)
        return algebra.fuse_bn(weight, self.bias, self.bn) if self.bn is not None else \
            (weight, self.bias)


class Branch(nn.Module):
    """A first-type branch: a chain of stages, all but the last 1x1."""

    first_type = True

    def __init__(self, kind: str, stages: Sequence[ConvStage | EdgeStage]):
        super().__init__()
        self.kind = kind
        # Typed as what it holds (an nn.ModuleList yields plain Modules to a type checker).
        self.stages = cast(Sequence[ConvStage | EdgeStage], nn.ModuleList(stages))
        self.size = stages[-1].size
        self.num_kernels = len(stages)
        # A chain pads its input once, the stages run unpadded (see the module docstring).
        self.pad = self.size // 2 if len(stages) > 1 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4)
        for stage in self.stages:
            x = stage(x)
        return x

    def kernel(self) -> algebra.Kernel:
        """The whole branch as one conv of its last stage's size."""
        return algebra.chain([stage.kernel() for stage in self.stages])


class IdentityBranch(nn.Module):
    """The second-type branch: its output is its input."""

    first_type = False
    kind = "identity"
    size = 1
    num_kernels = 0

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def kernel(self) -> algebra.Kernel:
        """The identity as a 1x1 conv."""
        return algebra.identity(self.channels, torch.empty(0))


def make_branch(kind: str, channels: int, bn: bool,
                expand: int = 1) -> Branch | IdentityBranch:
    """A branch of one of :data:`BRANCH_KINDS` mapping ``channels`` to ``channels``."""
    if kind == "identity":
        return IdentityBranch(channels)
    if kind in EDGE_FILTERS:
        return Branch(kind, [ConvStage(channels, channels, 1, bn, 0),
                             EdgeStage(channels, kind, bn)])
    sizes = CONV_BRANCHES[kind]
    if len(sizes) == 1:
        return Branch(kind, [ConvStage(channels, channels, sizes[0], bn, sizes[0] // 2)])
    mid = channels * expand
    return Branch(kind, [ConvStage(channels, mid, 1, bn, 0),
                         ConvStage(mid, channels, sizes[1], bn, 0)])


class RepModule(nn.Module):
    """A feature reconstruction module: N parallel branches summed, then a per-channel PReLU."""

    def __init__(self, channels: int, kinds: Sequence[str], bn: bool, expand: int = 1):
        super().__init__()
        # Typed as what it holds (an nn.ModuleList yields plain Modules to a type checker).
        self.branches = cast(Sequence[Branch | IdentityBranch],
                             nn.ModuleList(make_branch(k, channels, bn, expand) for k in kinds))
        self.act = nn.PReLU(channels, init=0.25)
        self.size = max(branch.size for branch in self.branches)
        self.with_bn = bn
        self.mode = "branches"

    def kernel(self) -> algebra.Kernel:
        """All branches as one conv (the module before its activation)."""
        weights, biases = zip(*(branch.kernel() for branch in self.branches))
        like = self.act.weight
        weight = algebra.summed(algebra.pad_to(w.to(like), self.size) for w in weights)
        return weight, algebra.summed(b.to(like) for b in biases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "fused":
            if self.training and self.with_bn:
                raise RuntimeError("the fused mode folds BatchNorm with running statistics; "
                                   "train a net with BN in 'branches' mode")
            weight, bias = self.kernel()
            y = F.conv2d(x, weight, bias, padding=self.size // 2)
        else:
            y = sum(branch(x) for branch in self.branches)
        return self.act(y)


class RepNet(nn.Module):
    """The multi-branch network of a :class:`NetConfig` (NCHW in and out)."""

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        c, r = config.features, config.scale
        self.input_scale: torch.Tensor | None
        if config.learn_input_scale:
            self.input_scale = nn.Parameter(torch.tensor(
                config.input_scale or (1.0,) * config.in_channels, dtype=torch.float32))
        elif config.input_scale is not None:
            self.register_buffer("input_scale",
                                 torch.tensor(config.input_scale, dtype=torch.float32))
        else:
            self.input_scale = None
        self.first = nn.Conv2d(config.in_channels, c, 3, padding=1)
        # Typed as what it holds (an nn.ModuleList yields plain Modules to a type checker).
        self.body = cast(Sequence[RepModule], nn.ModuleList(
            RepModule(c, config.branches_of(p), config.with_bn, config.expand)
            for p in range(config.num_modules)))
        last_in = c * r * r if config.head == "down" else c
        last_out = config.out_channels * r * r if config.head == "up" else config.out_channels
        self.last = nn.Conv2d(last_in, last_out, 3, padding=1)

    @property
    def mode(self) -> str:
        """'branches' or 'fused' (see the module docstring)."""
        return self.body[0].mode

    def set_mode(self, mode: str) -> RepNet:
        """Switch every module to ``mode``; returns the net."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        for module in self.body:
            module.mode = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_scale is not None:
            x = x * self.input_scale.view(1, -1, 1, 1)
        f0 = f = self.first(x)
        for index, module in enumerate(self.body, 1):
            f = module(f)
            if index == self.config.skip_index:
                f = f + f0
        if self.config.head == "down":
            f = F.pixel_unshuffle(f, self.config.scale)
        y = self.last(f)
        return F.pixel_shuffle(y, self.config.scale) if self.config.head == "up" else y
