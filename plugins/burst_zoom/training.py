"""``burst train`` and ``burst export`` for the zoom network (needs ``burstcli[train]``).

The network is seed 004's re-parameterisable one (:mod:`burstlib.nn.net`) with the inputs of
:mod:`burst_zoom.features`; samples are made on the fly from clean images
(:mod:`burst_zoom.samples`, i.e. :mod:`burstlib.synth.sensor`). Branches without BatchNorm are
trained in folded form (each module's single kernel rebuilt from its branches every step:
the same gradients at the plain network's cost); with BatchNorm the branches run as they are.
Export folds every module into one convolution and writes a ``.tflite`` (dynamic height and
width) and a ``.json`` card beside it.

A config file (YAML; paths relative to it)::

    scale: 4
    data: [../../shared/data/t91, ../../shared/data/kodak24]
    steps: 20000
    batch: 16
    patch: 32            # LR side of a sample
    learning_rate: 0.002
    network: {features: 16, modules: 4, with_bn: false,
              branches: [conv3, conv1-conv3, sobelx, sobely, laplacian, identity]}
    samples: {max_frames: 8, noise: [0.0001, 0.003], classical_iterations: 0}
    seed: 0
    init: null           # a checkpoint or folded .tflite to start from (:func:`warm_start`)
    # Real captures (seed 000): datasets made by `burst dataset build` (paths relative to
    # the file), the share of each batch drawn from them, scenes held out for benchmarks,
    # and how many HR px of residual misalignment the loss forgives (:mod:`.capture_samples`).
    captures: [../../built/city100_x2]
    capture_share: 0.5
    capture_exclude: [city100-held-out]   # or scene names
    shift_tolerance: 1
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from .features import input_channels
from .samples import SampleOptions, load_luma_images, make_sample

DEFAULT_BRANCHES = ("conv3", "conv1-conv3", "sobelx", "sobely", "laplacian", "identity")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (what the model card reports)."""

    scale: int = 4
    data: tuple[str, ...] = ()
    steps: int = 20000
    batch: int = 16
    patch: int = 32
    learning_rate: float = 2e-3
    features: int = 16
    modules: int = 4
    with_bn: bool = False
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    samples: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int = 500
    init: str | None = None
    captures: tuple[str, ...] = ()
    capture_share: float = 0.0
    capture_exclude: tuple[str, ...] = ()
    shift_tolerance: int = 0

    @property
    def input_channels(self) -> int:
        """The network's input channels (the classical planes when the samples have them)."""
        return input_channels(self.scale, self.sample_options().classical_iterations > 0)

    def sample_options(self) -> SampleOptions:
        extra: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in self.samples.items()}
        return SampleOptions(scale=self.scale, patch=self.patch, **extra)


def load_config(path: Path) -> TrainConfig:
    """A :class:`TrainConfig` from YAML; data folders resolved against the file's folder."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    network = raw.pop("network", {}) or {}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    renamed = {"features": network.get("features"), "modules": network.get("modules"),
               "with_bn": network.get("with_bn"), "branches": network.get("branches")}
    values = {**raw, **{k: v for k, v in renamed.items() if v is not None}}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    base = Path(path).resolve().parent
    for key in ("data", "captures"):
        values[key] = tuple(str((base / d).resolve()) for d in values.get(key, ()))
    values["capture_exclude"] = tuple(str(v) for v in values.get("capture_exclude", ()))
    if values.get("init"):
        values["init"] = str((base / values["init"]).resolve())
    if "branches" in values:
        values["branches"] = tuple(values["branches"])
    config = TrainConfig(**values)
    config.sample_options()  # unknown sample keys fail here, before any training
    if not config.data and config.capture_share < 1:
        raise ValueError(f"{path}: no data folders (needed unless capture_share is 1)")
    if config.capture_share > 0 and not config.captures:
        raise ValueError(f"{path}: capture_share without captures (built datasets)")
    return config


def build_network(config: TrainConfig):  # type: ignore[no-untyped-def]
    """The training-time network: reference channel weighted 2 at the start (learnt)."""
    from burstlib.nn.net import NetConfig, RepNet
    channels = config.input_channels
    net = NetConfig(in_channels=channels, out_channels=1, features=config.features,
                    num_modules=config.modules, scale=config.scale, head="up",
                    branches=config.branches, with_bn=config.with_bn,
                    input_scale=(2.0,) + (1.0,) * (channels - 1), learn_input_scale=True)
    return RepNet(net)


def train(config: TrainConfig, checkpoint: Path,
          report: Callable[[int, float, float, float], None] | None = None) -> Path:
    """Train (or resume from ``checkpoint``) for ``config.steps``; returns the checkpoint.

    ``report(step, loss, validation_psnr_gain_db, seconds_per_step)`` is called every
    ``checkpoint_every`` steps and at the end."""
    from burstlib.nn.trainloop import LoopSettings, train_loop
    draw = example_source(config)
    # A fixed batch of training-distribution examples for progress reports (not a benchmark).
    fixed = np.random.default_rng([config.seed, 999])
    validation = _stack([draw(fixed) for _ in range(32)])

    def build():  # type: ignore[no-untyped-def]
        model = build_network(config).set_mode("branches" if config.with_bn else "fused")
        if not checkpoint.exists() and config.init:
            warm_start(model, Path(config.init))
        return model

    settings = LoopSettings(config.steps, config.learning_rate, config.checkpoint_every,
                            config.seed)
    loss = None
    if config.captures:
        from .capture_samples import tolerant_l1
        loss = functools.partial(tolerant_l1, tolerance=config.shift_tolerance)
    return train_loop(build, settings,
                      lambda rng: _stack([draw(rng) for _ in range(config.batch)]),
                      checkpoint, dataclasses.asdict(config),
                      lambda net: validation_gain(net, validation), report, loss)


Example = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def example_source(config: TrainConfig) -> Example:
    """What draws one training example (input h x w x C, target planes x H x W): a synthetic
    burst from the clean images, or (``capture_share`` of the time) a window of a real
    capture; with captures, every target carries its base, mask and whether it is real
    (four planes)."""
    options = config.sample_options()
    images = load_luma_images([Path(d) for d in config.data]) if config.data else []

    def synthetic_parts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return make_sample(images[int(rng.integers(len(images)))], options, rng)

    def synthetic(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        features, residual, _ = synthetic_parts(rng)
        return features, residual[None]

    if not config.captures:
        return synthetic
    from .capture_samples import (
        capture_example, excluded_scenes, load_captures, synthetic_target)
    captures = load_captures([Path(d) for d in config.captures], config.scale,
                             excluded_scenes(config.capture_exclude))

    def mixed(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not images or rng.random() < config.capture_share:
            return capture_example(captures[int(rng.integers(len(captures)))], config.patch,
                                   rng, options.classical_iterations)
        features, residual, base = synthetic_parts(rng)
        return features, synthetic_target(residual, base)

    return mixed


def _stack(examples: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs B x C x h x w, targets B x planes x H x W), float32, channels first."""
    return (np.stack([f.transpose(2, 0, 1) for f, _ in examples]).astype(np.float32),
            np.stack([t for _, t in examples]).astype(np.float32))


def warm_start(model, init: Path) -> None:  # type: ignore[no-untyped-def]
    """Start from another checkpoint's weights. A model with more input channels (e.g. the
    classical estimate added) keeps the old channels' weights and starts the new ones at
    zero weight (scale 1): it begins as exactly the old network and learns to use them.

    A folded ``.tflite`` (a shipped model, of this network's shape) is read back instead
    (:func:`burstlib.nn.tflite_import.load_folded`): each module's conv3 branch holds the
    folded kernel, the other branches start silent, the input scale at ones; the network then
    computes exactly what the file does."""
    import torch
    if Path(init).suffix == ".tflite":
        from burstlib.nn.tflite_import import from_tflite, load_folded
        load_folded(model, from_tflite(Path(init)))
        return
    old = torch.load(init, weights_only=False)["model"]
    state = model.state_dict()
    for name, value in old.items():
        target = state[name]
        if target.shape == value.shape:
            target.copy_(value)
        elif name == "first.weight" and target.shape[1] > value.shape[1]:
            target.zero_()
            target[:, :value.shape[1]] = value
        elif name == "input_scale" and target.shape[0] > value.shape[0]:
            target.fill_(1.0)
            target[:value.shape[0]] = value
        else:
            raise ValueError(f"{init}: {name} is {tuple(value.shape)}, "
                             f"this network's is {tuple(target.shape)}")
    model.load_state_dict(state)


def validation_gain(model, batch) -> float:  # type: ignore[no-untyped-def]
    """PSNR gain (dB) of the model over its bicubic base on ``batch`` (full-range Y; of
    several-plane targets, the residual)."""
    import torch
    inputs, targets = (torch.from_numpy(a) for a in batch)
    targets = targets[:, :1]
    model.eval()
    with torch.no_grad():
        predicted = model(inputs)
    base_error = float((targets ** 2).mean())
    model_error = float(((targets - predicted) ** 2).mean())
    return 10 * math.log10(base_error / max(model_error, 1e-12))


def load_trained(checkpoint: Path):  # type: ignore[no-untyped-def]
    """(model in eval mode with branches, TrainConfig) from a checkpoint."""
    import torch
    state = torch.load(checkpoint, weights_only=False)
    raw = dict(state["config"])
    raw["data"] = tuple(raw["data"])
    for key in ("branches", "captures", "capture_exclude"):
        raw[key] = tuple(raw.get(key, ()))
    config = TrainConfig(**raw)
    model = build_network(config)
    model.load_state_dict(state["model"])
    model.set_mode("branches").eval()
    return model, config, int(state["step"])


def export(checkpoint: Path, out: Path, strategy: str = "all", folded: bool = True) -> Path:
    """Fold (or, for comparison, keep every branch) and write ``out`` (.tflite) with its
    .json card; returns the .tflite path."""
    from burstlib.nn.fold import fold_model, unfolded_graph
    from burstlib.nn.tflite_export import to_tflite
    model, config, steps = load_trained(checkpoint)
    graph = fold_model(model, strategy) if folded else unfolded_graph(model)
    content = to_tflite(graph, f"burst zoom x{config.scale}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(out.name + ".tmp")
    temp.write_bytes(content)
    os.replace(temp, out)
    card = {"task": "zoom", "planes": "y", "scale": config.scale, "input_channels": config.input_channels,
            "classical_iterations": config.sample_options().classical_iterations,
            "folded": folded, "fold_strategy": strategy if folded else None,
            "steps": steps, "parameters": graph.num_params(), "bytes": len(content),
            "training": {**dataclasses.asdict(config),
                         "data": [Path(d).name for d in config.data],
                         "captures": [Path(d).name for d in config.captures],
                         "init": Path(config.init).name if config.init else None}}
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return out
