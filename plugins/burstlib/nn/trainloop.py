"""One training loop for every network of burst: Adam, cosine decay, L1, atomic checkpoints
that a rerun resumes from (an interrupted overnight run loses at most ``checkpoint_every``
steps), progress reported as the run goes. A recipe brings the model and its batches."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: (step, loss, validation gain in dB, seconds per step)
Report = Callable[[int, float, float, float], None]
Batch = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """How long and how fast: ``steps`` of Adam at ``learning_rate`` decayed (cosine) to 1 %,
    the gradient clipped to norm ``clip`` (a rare batch of long blurs and clipped highlights
    otherwise throws a run back by thousands of steps)."""

    steps: int
    learning_rate: float
    checkpoint_every: int = 500
    seed: int = 0
    clip: float | None = None  # the gradient's largest norm (None: not clipped)


def with_steps(settings: Any, steps: int | None) -> Any:
    """A recipe's settings (a dataclass with ``steps`` and ``checkpoint_every``) for a run of
    ``steps`` (None: as they are), checkpointing at least at its end."""
    if steps is None:
        return settings
    return dataclasses.replace(settings, steps=steps,
                               checkpoint_every=min(settings.checkpoint_every, steps))


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` under a temp name, then renamed: a kill never leaves half a checkpoint."""
    temp = path.with_name(path.name + ".tmp")
    torch.save(obj, temp)
    os.replace(temp, path)


def use_threads() -> None:
    """Every core (or ``BURST_TRAIN_THREADS``) for PyTorch."""
    torch.set_num_threads(int(os.environ.get("BURST_TRAIN_THREADS", os.cpu_count() or 1)))


def cosine_rate(settings: LoopSettings, step: int) -> float:
    """The learning rate at ``step``: cosine decay from the full rate to 1 % of it."""
    return settings.learning_rate * (0.01 + 0.99 * 0.5 * (
        1 + math.cos(math.pi * step / settings.steps)))


def train_loop(build: Callable[[], torch.nn.Module], settings: LoopSettings, batch: Batch,
               checkpoint: Path, meta: dict[str, Any],
               validate: Callable[[torch.nn.Module], float] | None = None,
               report: Report | None = None,
               loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
               ) -> Path:
    """Train the model ``build()`` makes (called once PyTorch is seeded, so its initial
    weights are the seed's) on ``batch(rng)`` pairs (NCHW float32 numpy) with an L1 loss,
    resuming from ``checkpoint`` when it exists; ``meta`` (the recipe's config) is saved
    beside the weights. ``validate(model)`` gives the gain in dB reported at each
    checkpoint; ``loss(predicted, targets)`` replaces the L1 (e.g. a masked one, for
    targets that carry their mask)."""
    loss_of = loss or torch.nn.functional.l1_loss
    use_threads()
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    model = build()
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    start = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        start = state["step"]
        rng = np.random.default_rng([settings.seed, start])  # a fresh stream after a resume
    clock = time.perf_counter()
    for step in range(start, settings.steps):
        for group in optimiser.param_groups:
            group["lr"] = cosine_rate(settings, step)
        inputs, targets = (torch.from_numpy(a) for a in batch(rng))
        model.train()
        value = loss_of(model(inputs), targets)
        optimiser.zero_grad()
        value.backward()
        if settings.clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        optimiser.step()
        done = step + 1
        if done % settings.checkpoint_every == 0 or done == settings.steps:
            atomic_save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                         "step": done, "config": meta}, checkpoint)
            if report is not None:
                seconds = (time.perf_counter() - clock) / max(1, done - start)
                gain = validate(model) if validate is not None else float("nan")
                report(done, float(value.detach()), gain, seconds)
    return checkpoint
