"""``burst bench dataset``: how well the builder aligns a far reference to the standard
image, on ``burst synth`` capture sessions whose transforms are known.

For each session: the builder's far -> near homography against the true one (the RMS of
their difference over the near view, in near px), beside the same figure for its starting
point alone (SIFT + MAGSAC, the textbook registration; where too few features match, the
near view searched for in the far frame at every zoom), per size, ratio and noise band; and
sessions with a bad near frame among them, which the builder must report and skip.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from burstlib.synth.session import SessionOptions, load_session, make_session

from .align import SceneRejected
from .build import BuildOptions, build_scene
from .scenes import find_scenes

SIZES = ((320, 240), (640, 480))
RATIOS = (2.0, 2.9)
NOISE = ("low", "recipe", "high")
BAD_KINDS = ("bump", "occluder")


@dataclasses.dataclass
class Outcome:
    """One session's errors (near px RMS) or why it was skipped, and the build time."""

    group: str
    built: float | None  # the builder's error
    start: float | None  # the starting estimate alone
    skipped: str = ""
    seconds: float = 0.0


def transfer_error(estimate: np.ndarray, truth_to_near: np.ndarray, size: tuple[int, int]
                   ) -> float:
    """RMS (near px) of where ``estimate`` (far px -> near px) and the truth put the points
    of the near view's central 80 % (a 20 x 20 grid)."""
    width, height = size
    ys, xs = np.mgrid[0.1 * height:0.9 * height:20j, 0.1 * width:0.9 * width:20j]
    near = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    far = np.linalg.inv(truth_to_near) @ near
    mapped = estimate @ (far / far[2])
    mapped /= mapped[2]
    return float(np.sqrt(np.mean(np.sum((mapped[:2] - near[:2]) ** 2, axis=0))))


def run_session(work: Path, options: SessionOptions, scale: int) -> Outcome:
    """Make one session, build it, compare with its truth."""
    group = (f"{options.width}x{options.height} r{options.ratio:g} {options.noise}"
             + (f" bad-{options.bad_near}" if options.bad_near else ""))
    make_session(work, options)
    truth = load_session(work / options.name)
    (scene,) = [s for s in find_scenes(work) if s.name == options.name]
    start = time.perf_counter()
    try:
        sample = build_scene(scene, BuildOptions(scale))
    except SceneRejected as why:
        return Outcome(group, None, None, str(why), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    to_near = np.asarray(truth["far"][sample.reference]["to_near"])
    size = tuple(truth["size"])
    return Outcome(group, transfer_error(sample.far_to_near, to_near, size),
                   transfer_error(sample.initial, to_near, size), seconds=seconds)


def bench_sessions(per_group: int, scale: int, seed: int, source: Path | None) -> list[Outcome]:
    """Every size x ratio x noise band, ``per_group`` sessions each, plus bad-near ones."""
    plans = [SessionOptions(width=w, height=h, ratio=r, noise=n, seed=seed + i, source=source,
                            name=f"s{w}_{r:g}_{n}_{i}")
             for (w, h), r, n in itertools.product(SIZES, RATIOS, NOISE)
             for i in range(per_group)]
    plans += [SessionOptions(width=320, height=240, bad_near=kind, seed=seed + i, source=source,
                             name=f"bad_{kind}_{i}")
              for kind in BAD_KINDS for i in range(per_group)]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="burst-bench-dataset-") as work:
        for options in plans:
            outcome = run_session(Path(work), options, scale)
            print(_line(options.name, outcome), flush=True)
            outcomes.append(outcome)
    return outcomes


def _line(name: str, outcome: Outcome) -> str:
    if outcome.built is None:
        return f"{name:24s} skipped: {outcome.skipped}"
    return (f"{name:24s} builder {outcome.built:.3f} px   start alone "
            f"{outcome.start:.3f} px   {outcome.seconds:.1f} s")


def summary(outcomes: list[Outcome]) -> str:
    """Per group: sessions, RMS error of the builder and of its start alone (near px),
    sessions skipped; then all good sessions together."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.group].append(outcome)
    rows = [f"{'sessions':34s} {'n':>3s} {'builder':>9s} {'start':>9s} {'skipped':>8s}"]
    good = [o for o in outcomes if "bad-" not in o.group]
    for name, members in [*groups.items(), ("all good sessions", good)]:
        built = [o for o in members if o.built is not None]
        rows.append(f"{name:34s} {len(members):3d} {_rms([o.built for o in built]):>9s} "
                    f"{_rms([o.start for o in built]):>9s} "
                    f"{len(members) - len(built):8d}")
    return "\n".join(rows)


def _rms(values: list[float | None]) -> str:
    kept = [v for v in values if v is not None]
    return f"{np.sqrt(np.mean(np.square(kept))):.3f}" if kept else "-"
