"""The folding algebra of 004 on PyTorch tensors, differentiable (kernels OIHW).

Written once and used twice: by the SESR-style training mode (the folded kernel is rebuilt
from the branch weights inside the autograd graph every step) and by :mod:`.fold` (the same
functions under ``no_grad``). Every rule is exact; none crosses an activation.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

Kernel = tuple[torch.Tensor, torch.Tensor]  # (weight O x I x k x k, bias O)


def fuse_bn(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d) -> Kernel:
    """A conv followed by BatchNorm in eval mode (running statistics) as one conv.

    K' = K * g / sqrt(var + eps),  b' = beta + (b - mean) * g / sqrt(var + eps).
    """
    # None only for a BatchNorm built with track_running_stats=False, which the nets never use.
    assert bn.running_var is not None and bn.running_mean is not None
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    beta = bn.bias if bn.affine else torch.zeros_like(bn.running_var)
    factor = gamma / torch.sqrt(bn.running_var + bn.eps)
    return weight * factor.view(-1, 1, 1, 1), beta + (bias - bn.running_mean) * factor


def chain(kernels: list[Kernel]) -> Kernel:
    """Convolutions applied in sequence, all but the last 1x1, as one conv.

    K = einsum('omyx,mi->oiyx', K2, K1), B = b2 + sum(K2 * b1). Exact at the borders only
    when the 1x1 outputs are padded with their bias, not zeros: the branches of
    :mod:`.net` ensure it by zero-padding the *input* of a chain, where a 1x1 conv of zeros
    gives its bias.
    """
    weight, bias = kernels[0]
    for next_weight, next_bias in kernels[1:]:
        if weight.shape[-1] != 1:
            raise ValueError("only 1x1 convolutions may precede another one in a chain")
        bias = next_bias + torch.einsum("omyx,m->o", next_weight, bias)
        weight = torch.einsum("omyx,mi->oiyx", next_weight, weight[:, :, 0, 0])
    return weight, bias


def summed(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """``sum(tensors)`` of one tensor or more (typed: never the 0 of an empty sum)."""
    total = sum(tensors)
    assert isinstance(total, torch.Tensor), "nothing to sum"
    return total


def pad_to(weight: torch.Tensor, size: int) -> torch.Tensor:
    """A k x k kernel zero-padded (centred) to size x size: the same 'same'-padded conv."""
    p = (size - weight.shape[-1]) // 2
    return F.pad(weight, (p, p, p, p)) if p else weight


def identity(channels: int, like: torch.Tensor) -> Kernel:
    """The identity as a 1x1 conv: 1 from channel i to channel i (004 fig. 5d)."""
    eye = torch.eye(channels, dtype=like.dtype, device=like.device)
    return eye[:, :, None, None], torch.zeros(channels, dtype=like.dtype, device=like.device)


def depthwise_dense(weight: torch.Tensor) -> torch.Tensor:
    """A depthwise kernel (C x 1 x k x k) as the equivalent dense one (C x C x k x k)."""
    eye = torch.eye(weight.shape[0], dtype=weight.dtype, device=weight.device)
    return eye[:, :, None, None] * weight
