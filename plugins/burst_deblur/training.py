"""Training recipe of the deblur network: synthetic shake pairs from clean photographs.

``burst train plugins/burst_deblur/models/deblur_rgb.yaml -o deblur.pt --export OUT.tflite``
(``pip install 'burstcli[train]'``). Pairs are made in linear light by
:func:`burstlib.synth.shake.blur_pair` (camera-shake trajectories of every length and exposure
fraction, some defocus and frame averaging, clipped highlights, shot + read noise, sRGB gamma),
a share of them sharp; the network learns the residual that restores the truth. With
``noise_plane: true`` the input gets one more plane, the noise level the stage will compute
(:mod:`.noise_plane`), from the pair's known shot and read noise at its blurry input's level.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from burstlib.colour import luma
from burstlib.images import load_images
from burstlib.metrics import psnr
from burstlib.synth.shake import BlurPair, BlurRecipe, blur_pair, random_kernel

from .noise_plane import estimated, from_shot_read

KERNEL_BANK = 3000  # kernels drawn once per run: a trajectory costs ~5 ms, a batch needs 16


@dataclasses.dataclass(frozen=True)
class DeblurTrainConfig:
    """Everything a training run depends on (what the model card reports)."""

    data: tuple[str, ...] = ()
    steps: int = 3000
    batch: int = 16
    patch: int = 96  # a multiple of 4
    learning_rate: float = 2e-3
    channels: int = 3
    features: tuple[int, int] = (16, 32)
    modules: tuple[int, int] = (2, 3)
    blur: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int = 250
    clip: float | None = None
    noise_plane: bool = False  # one more input plane: the noise std (noise_plane.py)
    #: The plane times exp(N(0, sigma_jitter)) per pair: the stage's estimate (in the shipped
    #: chains always the image's noise level function) is not exact, and the network must not
    #: need it to be.
    sigma_jitter: float = 0.0
    #: This share of pairs gets the plane as the stage measures it without a profile (the
    #: input's own noise level function, which also counts the photograph's grain and fine
    #: texture), the others the plane of their known noise: a network trained on the truth
    #: alone reads the stage's higher low-noise estimates as noise and smooths clean frames.
    estimated_share: float = 0.0

    def recipe(self) -> BlurRecipe:
        """The blur and noise ranges of the pairs."""
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in self.blur.items()}
        return BlurRecipe(**values)


def load_config(path: Path) -> DeblurTrainConfig:
    """A :class:`DeblurTrainConfig` from YAML (``task: deblur``); data folders resolved against
    the file's folder; unknown keys refused."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    raw.pop("task", None)
    network = raw.pop("network", {}) or {}
    values = {**raw, **network}
    known = {f.name for f in dataclasses.fields(DeblurTrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    base = Path(path).resolve().parent
    values["data"] = tuple(str((base / d).resolve()) for d in values.get("data", ()))
    for key in ("features", "modules"):
        if key in values:
            values[key] = tuple(values[key])
    config = DeblurTrainConfig(**values)
    if config.patch % 4:
        raise ValueError(f"{path}: patch must be a multiple of 4, got {config.patch}")
    config.recipe()  # unknown blur keys fail here, before any training
    return config


def make_pairs(images: list[np.ndarray], kernels: list[np.ndarray], config: DeblurTrainConfig,
               count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` (blurry, sharp) patches, NCHW float32, random crops, flips and kernels."""
    recipe, side = config.recipe(), config.patch
    inputs, targets = [], []
    for _ in range(count):
        kernel = kernels[rng.integers(len(kernels))]
        margin = kernel.shape[0] // 2 + 1  # the blur sees real pixels beyond the patch
        image = images[rng.integers(len(images))]
        size = side + 2 * margin
        if min(image.shape[:2]) < size:
            image = cv2.resize(image, None, fx=size / min(image.shape[:2]) + 0.01,
                               fy=size / min(image.shape[:2]) + 0.01)
        y = rng.integers(image.shape[0] - size + 1)
        x = rng.integers(image.shape[1] - size + 1)
        crop = image[y:y + size, x:x + size]
        crop = crop[::-1] if rng.uniform() < 0.5 else crop
        crop = np.ascontiguousarray(crop[:, ::-1] if rng.uniform() < 0.5 else crop)
        pair = blur_pair(crop, rng, recipe, kernel=kernel)
        cut = (slice(margin, margin + side), slice(margin, margin + side))
        planes = _planes(pair.blurry[cut], config.channels)
        if config.noise_plane:
            sigma = _sigma_plane(pair, config, rng)[cut]
            planes = np.concatenate([planes, sigma[None]])
        inputs.append(planes)
        targets.append(_planes(pair.sharp[cut], config.channels))
    return np.stack(inputs), np.stack(targets)


def _sigma_plane(pair: BlurPair, config: DeblurTrainConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """The noise plane of a pair's whole crop (the level's box sees past the cut): measured
    from the input for ``estimated_share`` of pairs, else from the known noise; jittered."""
    # rng is drawn only when a share is set, so runs without one keep their random stream
    if config.estimated_share > 0 and rng.uniform() < config.estimated_share:
        sigma = estimated(pair.blurry)
    else:
        sigma = from_shot_read(pair.blurry, pair.shot, pair.read)
    return sigma * np.float32(np.exp(rng.normal(0.0, config.sigma_jitter)))


def _planes(rgb: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:  # BT.601 luma of the gamma-encoded RGB
        return luma(rgb)[None]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), np.float32)


def build_network(config: DeblurTrainConfig):  # type: ignore[no-untyped-def]
    """The training-time network (004's branches, trained in SESR's fused mode)."""
    from burstlib.nn.deblur_net import DeblurConfig, DeblurNet
    return DeblurNet(DeblurConfig(channels=config.channels, features=config.features,
                                  modules=config.modules,
                                  noise_plane=config.noise_plane)).set_mode("fused")


def train(config: DeblurTrainConfig, checkpoint: Path,
          report: Callable[[int, float, float, float], None] | None = None) -> Path:
    """Train (or resume from ``checkpoint``); ``report(step, loss, gain_db, s_per_step)``
    with the gain over the blurry input on a fixed set of training-distribution pairs."""
    import torch

    from burstlib.nn.trainloop import LoopSettings, train_loop
    rng = np.random.default_rng([config.seed, 1])
    recipe = config.recipe()
    kernels = [random_kernel(rng, recipe) for _ in range(KERNEL_BANK)]
    images = load_images([Path(d) for d in config.data], "rgb", 64)
    val_in, val_out = make_pairs(images, kernels, config, 32, np.random.default_rng(12345))
    blurry = val_in[:, :config.channels]  # without the noise plane

    def validate(net: torch.nn.Module) -> float:
        net.eval()
        with torch.no_grad():
            restored = net(torch.from_numpy(val_in)).numpy()
        return psnr(restored, val_out) - psnr(blurry, val_out)

    settings = LoopSettings(config.steps, config.learning_rate, config.checkpoint_every,
                            config.seed, config.clip)
    return train_loop(lambda: build_network(config), settings,
                      lambda r: make_pairs(images, kernels, config, config.batch, r),
                      checkpoint, dataclasses.asdict(config), validate, report)


def load_trained(checkpoint: Path):  # type: ignore[no-untyped-def]
    """The network of a checkpoint, in eval mode, and its config."""
    import torch
    state = torch.load(checkpoint, weights_only=False)
    known = {f.name for f in dataclasses.fields(DeblurTrainConfig)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in state["config"].items() if k in known}
    config = DeblurTrainConfig(**values)
    model = build_network(config)
    model.load_state_dict(state["model"])
    return model.eval(), config, int(state["step"])


def export(checkpoint: Path, out: Path) -> Path:
    """Fold the checkpoint (every module one conv) and write ``out`` (.tflite) and its card
    facts (.json): task, planes, parameters, training settings."""
    from burstlib.nn.deblur_net import fold_deblur
    from burstlib.nn.tflite_export import save_tflite
    model, config, step = load_trained(checkpoint)
    graph = fold_deblur(model)
    out = Path(out).with_suffix(".tflite")
    save_tflite(graph, out, description="burst deblur network (seed 001 fig. 6, 004 folding)")
    planes = ("rgb" if config.channels == 3 else "y") + ("+sigma" if config.noise_plane else "")
    facts = {"task": "deblur", "scale": 1, "planes": planes,
             "parameters": graph.num_params(), "steps": step,
             "training": {**dataclasses.asdict(config),
                          "data": [Path(d).name for d in config.data]}}
    out.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    return out
