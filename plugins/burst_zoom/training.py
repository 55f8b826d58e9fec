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
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from .features import input_channels
from .samples import SampleOptions, load_luma_images, make_batch

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
    values["data"] = tuple(str((base / d).resolve()) for d in values.get("data", ()))
    if values.get("init"):
        values["init"] = str((base / values["init"]).resolve())
    if "branches" in values:
        values["branches"] = tuple(values["branches"])
    config = TrainConfig(**values)
    config.sample_options()  # unknown sample keys fail here, before any training
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
    images = load_luma_images([Path(d) for d in config.data])
    options = config.sample_options()
    validation = _validation_batch(images, options, config.seed)

    def build():  # type: ignore[no-untyped-def]
        model = build_network(config).set_mode("branches" if config.with_bn else "fused")
        if not checkpoint.exists() and config.init:
            warm_start(model, Path(config.init))
        return model

    settings = LoopSettings(config.steps, config.learning_rate, config.checkpoint_every,
                            config.seed)
    return train_loop(build, settings,
                      lambda rng: make_batch(images, options, config.batch, rng), checkpoint,
                      dataclasses.asdict(config), lambda net: validation_gain(net, validation),
                      report)


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


def _validation_batch(images: list[np.ndarray], options: SampleOptions, seed: int):  # type: ignore[no-untyped-def]
    """A fixed batch of training-distribution samples for progress reports (not a benchmark)."""
    return make_batch(images, options, 32, np.random.default_rng([seed, 999]))


def validation_gain(model, batch) -> float:  # type: ignore[no-untyped-def]
    """PSNR gain (dB) of the model over its bicubic base on ``batch`` (full-range Y)."""
    import torch
    inputs, targets = (torch.from_numpy(a) for a in batch)
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
    raw["branches"] = tuple(raw["branches"])
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
                         "init": Path(config.init).name if config.init else None}}
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return out
