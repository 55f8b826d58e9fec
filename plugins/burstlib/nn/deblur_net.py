"""Seed 001's single-frame deblur network (fig. 6) built from seed 004's multi-branch modules.

Shape (001 fig. 6, claims 4 and 10)::

    x (C planes, H x W; H, W multiples of 4; + a noise plane when the config has one)
    -> space_to_depth 2 -> conv 3x3 (4C' -> F1)                       = e        (H/2)
    -> A modules (F1)                                                 = e'
    -> space_to_depth 2 -> conv 3x3 (4 F1 -> F2)                                (H/4)
    -> B modules (F2)
    -> conv 3x3 (F2 -> 4 F1) -> depth_to_space 2 -> + e'                        (H/2)
    -> A modules (F1)
    -> conv 3x3 (F1 -> 4C) -> depth_to_space 2 -> + x[:C]                       (H)

With ``noise_plane`` the input has C' = C + 1 planes: the C image planes and, last, the
per-pixel noise standard deviation (in the image's own encoding, scaled as
``burst_deblur.noise_plane`` builds it), as FFDNet (Zhang et al. 2018) gives it: one network
then knows how hard it may deconvolve (a clean frame's texture is not noise). The output stays C planes, a residual on the image
planes; the fold picks them out of the input with an exact 1x1 conv of ones and zeros (the
graph has no slice op, and one export path serves every model).

The downsampling is a space_to_depth followed by a 3x3 conv: a stride-2 6x6 conv, of which
"2x2 average pooling then a 3x3 conv" is one special case (the pooled downsampling of fig. 6),
learned instead of fixed. The upsampling mirrors it. The network predicts a residual: an
already sharp frame needs only zeros, and the identity is where training starts from.

Every module is a :class:`~.net.RepModule` (004's parallel branches summed, then a PReLU);
:func:`fold_deblur` turns each into ONE conv, exactly, and writes the same :class:`~.graph.Graph`
the zoom networks fold to, so the same TFLite export, runner and tests serve both.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .fold import _Builder, crd_to_dcr
from .graph import Graph
from .net import MODES, RepModule

DEFAULT_BRANCHES = ("conv3", "conv1-conv3", "sobelx", "sobely", "laplacian", "identity")


@dataclasses.dataclass(frozen=True)
class DeblurConfig:
    """Shape of a :class:`DeblurNet`: ``channels`` planes in and out (1: luma, 3: RGB),
    ``features`` (F1, F2) at half and quarter resolution, ``modules`` (A, B) at each;
    ``noise_plane``: one more input plane, the noise level (see the module's docstring)."""

    channels: int = 3
    features: tuple[int, int] = (16, 32)
    modules: tuple[int, int] = (2, 3)
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    noise_plane: bool = False

    @property
    def inputs(self) -> int:
        """Input planes: the image's, and the noise plane when there is one."""
        return self.channels + int(self.noise_plane)

    def __post_init__(self) -> None:
        if self.channels < 1 or min(self.features) < 1 or min(self.modules) < 1:
            raise ValueError(f"channels, features and modules must be positive: {self}")


def _modules(channels: int, branches: Sequence[str], count: int) -> Sequence[RepModule]:
    """``count`` modules as an ``nn.ModuleList`` (registered parameters), typed as modules."""
    return cast(Sequence[RepModule],
                nn.ModuleList(RepModule(channels, branches, False) for _ in range(count)))


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # every conv of the net is made with a bias
    return conv.bias


class DeblurNet(nn.Module):
    """The network of a :class:`DeblurConfig` (NCHW in and out, H and W multiples of 4)."""

    def __init__(self, config: DeblurConfig):
        super().__init__()
        self.config = config
        c, (f1, f2), (a, b) = config.channels, config.features, config.modules
        self.enter = nn.Conv2d(4 * config.inputs, f1, 3, padding=1)
        self.encode = _modules(f1, config.branches, a)
        self.down = nn.Conv2d(4 * f1, f2, 3, padding=1)
        self.middle = _modules(f2, config.branches, b)
        self.up = nn.Conv2d(f2, 4 * f1, 3, padding=1)
        self.decode = _modules(f1, config.branches, a)
        self.leave = nn.Conv2d(f1, 4 * c, 3, padding=1)
        # Start as the identity: the residual is zero until training says otherwise.
        nn.init.zeros_(self.leave.weight)
        nn.init.zeros_(_bias(self.leave))

    def rep_modules(self) -> list[RepModule]:
        """Every multi-branch module, in order."""
        return [*self.encode, *self.middle, *self.decode]

    def set_mode(self, mode: str) -> DeblurNet:
        """'branches' or 'fused' for every module (see :mod:`.net`); returns the net."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        for module in self.rep_modules():
            module.mode = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.enter(F.pixel_unshuffle(x, 2))
        for module in self.encode:
            e = module(e)
        m = self.down(F.pixel_unshuffle(e, 2))
        for module in self.middle:
            m = module(m)
        d = F.pixel_shuffle(self.up(m), 2) + e
        for module in self.decode:
            d = module(d)
        return F.pixel_shuffle(self.leave(d), 2) + x[:, :self.config.channels]


def fold_deblur(model: DeblurNet) -> Graph:
    """The inference graph of ``model``: every module one conv + PReLU (exact, in float64 until
    the weights are stored). PyTorch's pixel (un)shuffle channel order becomes TensorFlow's by
    permuting the adjacent convs' channels."""
    net = copy.deepcopy(model).double().eval()
    c, (f1, _) = net.config.channels, net.config.features
    planes = net.config.inputs
    b = _Builder()

    def modules(x: str, chain: Sequence[RepModule]) -> str:
        for module in chain:
            weight, bias = module.kernel()
            x = b.add("prelu", [b.conv(x, weight, bias)], {"alpha": module.act.weight})
        return x

    with torch.no_grad():
        x = b.add("input", channels=planes)
        e = b.conv(b.add("space_to_depth", [x], block=2),
                   net.enter.weight[:, crd_to_dcr(planes, 2)], _bias(net.enter))
        e = modules(e, net.encode)
        m = b.conv(b.add("space_to_depth", [e], block=2),
                   net.down.weight[:, crd_to_dcr(f1, 2)], _bias(net.down))
        m = modules(m, net.middle)
        up = crd_to_dcr(f1, 2)
        d = b.add("add", [b.add("depth_to_space", [b.conv(m, net.up.weight[up], _bias(net.up)[up])],
                                block=2), e])
        d = modules(d, net.decode)
        out = crd_to_dcr(c, 2)
        y = b.add("depth_to_space", [b.conv(d, net.leave.weight[out], _bias(net.leave)[out])],
                  block=2)
        b.add("output", [b.add("add", [y, _image_planes(b, x, c, planes)])])
    graph = Graph(b.nodes)
    graph.validate()
    return graph


def _image_planes(b: _Builder, x: str, channels: int, planes: int) -> str:
    """The first ``channels`` of the ``planes`` input planes: the input itself when they are
    all, else a 1x1 conv of ones and zeros (exact: x * 1 + sigma * 0)."""
    if planes == channels:
        return x
    pick = torch.zeros(channels, planes, 1, 1, dtype=torch.float64)
    pick[range(channels), range(channels)] = 1.0
    return b.conv(x, pick, torch.zeros(channels, dtype=torch.float64))
