"""Time and peak memory of denoise and the zoom presets on a RAW burst, beside rawpy reading and
fully developing the same frames, measured in one run (issue 16, items 2 and 3).

    python benchmarks/raw_speed.py                      # 8 x 4000x3000: denoise, zoom2x, zoom4x
    python benchmarks/raw_speed.py --repeats 3 --presets denoise,zoom4x
    python benchmarks/raw_speed.py --big                # + 10 x 8000x6000 (48 MP): denoise, zoom2x
    python benchmarks/raw_speed.py --big --jpeg         # + both bursts as JPEG frames
    python benchmarks/raw_speed.py --profile            # + burst enhance --profile's own tables
    python benchmarks/raw_speed.py --repeats 0 --quality 2   # the quality check alone

The burst is written by ``burst synth OUT --size WxH --frames N --blur 0 --sharp-margin 0
--seed 5`` (the other speed benchmarks' burst). Every measurement is a separate process, timed
from here; its peak resident memory is the whole process's (imports and writing included:
``wait4``'s ``ru_maxrss``, its resident set sampled every 0.1 s, and for ``burst enhance`` the
sidecar's per-stage peaks, since it resets the kernel's peak before each stage). A process
past ``--max-rss-gb`` or ``--max-minutes`` is killed and reported so (the machine is shared).
The repeats are interleaved (rawpy, then each preset, then the next repeat), each figure is the
median over the repeats, and every ratio is taken within one repeat first (only side-by-side
ratios mean something on a shared machine).

- ``rawpy read``: ``rawpy.imread`` + ``raw_image.copy()`` of every frame (in-process time;
  the child's interpreter start and ``import rawpy`` are left out).
- ``rawpy postprocess``: ``rawpy.imread`` + ``postprocess()`` with LibRaw's defaults: AHD
  demosaic, daylight white balance (``use_camera_wb=False``), sRGB, BT.709 gamma (2.222, 4.5),
  auto-brightening, 8 bits, full size, no noise reduction or median passes, LibRaw's own
  OpenMP threads (``OMP_NUM_THREADS`` as inherited). The ratio column divides by this.
- ``burst enhance --preset P``: as a user runs it, a subprocess (``--profile --overwrite``,
  16-bit TIFF): ``wall`` includes the interpreter start, imports and plugin discovery;
  ``in-run`` is the runner's time for the burst (every stage and writing, from the
  ``--profile`` table), ``startup`` the difference. The per-stage breakdown comes from the
  sidecar (each stage's seconds and peak memory, per-frame seconds where the stage reports
  them), plus writing and startup.

Then the quality check (``--quality BURSTS``, 0 to skip): the merge and upscale benchmarks'
DNG rows (denoise and the zoom network beside their textbook peers), seeded, so that a
speed-up that changed a result shows against an earlier commit's figures.

``--big`` adds a 10 x 8000x6000 burst through ``--big-presets`` (denoise, zoom2x; run on the
main burst too) and compares seconds per input megapixel with the main burst's (issue 16:
at most 1.3x) and peak memory with 4 GB (4e9 bytes). ``--jpeg`` adds each burst as JPEG
frames (rawpy's postprocess of each DNG, quality 95, made once before timing, not timed); its
ratio column still divides by rawpy's postprocess of the same-sized DNG frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MIB = 1024 * 1024
MEMORY_LIMIT = 4e9  # issue 16 item 3: "peak memory at most 4 GB"
PER_MP_LIMIT = 1.3  # and time per megapixel at most 1.3x the 12 MP figure
BIN = Path(sys.executable).parent


@dataclasses.dataclass
class Case:
    """One burst (DNG or JPEG frames) and the presets run on it."""

    name: str
    width: int
    height: int
    frames: int
    kind: str  # "dng" or "jpeg"
    presets: list[str]
    folder: Path = Path()
    develop_of: str = ""  # the DNG case whose rawpy postprocess is this case's ratio basis

    @property
    def megapixels(self) -> float:
        """Input megapixels: all frames."""
        return self.width * self.height * self.frames / 1e6


@dataclasses.dataclass
class Sample:
    """One measured process."""

    wall: float  # seconds, as timed from here
    peak: int  # bytes, the process's ru_maxrss
    inner: float  # the measured work's own seconds (rawpy's timing, or burst's in-run)
    stages: list[dict] = dataclasses.field(default_factory=list)  # sidecar stages
    write: float | None = None
    sidecar_peak: float | None = None  # MiB
    profile_text: str = ""


# --- processes ---------------------------------------------------------------------------


class Killed(Exception):
    """A measured process stopped by the guard (too much memory or time)."""


@dataclasses.dataclass
class Guard:
    """Limits on every measured process: it is killed past them (the machine is shared)."""

    max_rss: float = 14e9  # bytes
    max_seconds: float = 1200.0


GUARD = Guard()


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``command``; its wall seconds, peak resident bytes and output.

    The peak is the larger of ``wait4``'s ``ru_maxrss`` and the resident set sampled every
    0.1 s. (``burst enhance`` resets the kernel's peak before each stage, so its ``ru_maxrss``
    covers only its last stage: :func:`enhance` adds the sidecar's per-stage peaks.) Past
    :data:`GUARD`'s limits the process is killed and :class:`Killed` raised."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        sampled, killed = 0, ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            sampled = max(sampled, _rss(proc.pid))
            elapsed = time.perf_counter() - start
            if sampled > GUARD.max_rss or elapsed > GUARD.max_seconds:
                killed = (f"killed after {elapsed:.0f} s at {sampled / MIB:.0f} MiB resident "
                          f"(limits {GUARD.max_rss / MIB:.0f} MiB, {GUARD.max_seconds:.0f} s)")
                proc.kill()
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    if killed:
        raise Killed(killed)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{text[-3000:]}")
    return seconds, max(usage.ru_maxrss * 1024, sampled), text


def _rss(pid: int) -> int:
    """``pid``'s resident set now, in bytes (0 where unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def child(action: str, files: list[Path], out: Path | None = None) -> None:
    """Inside a child process: time ``action`` over ``files``; print {"seconds": ...}."""
    import cv2  # noqa: F401 - imported before the clock starts, as rawpy is
    import rawpy

    start = time.perf_counter()
    for path in files:
        if action == "read":
            with rawpy.imread(str(path)) as raw:
                raw.raw_image.copy()
        elif action == "postprocess":
            with rawpy.imread(str(path)) as raw:
                raw.postprocess()
        elif action == "decode-jpeg":
            if cv2.imread(str(path), cv2.IMREAD_COLOR) is None:
                raise SystemExit(f"cannot read {path}")
        elif action == "to-jpeg":  # not timed by anyone: makes the JPEG variant
            assert out is not None
            with rawpy.imread(str(path)) as raw:
                rgb = raw.postprocess()
            cv2.imwrite(str(out / (path.stem + ".jpg")), rgb[:, :, ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
    print(json.dumps({"seconds": time.perf_counter() - start}))


def run_child(action: str, files: list[Path], out: Path | None = None) -> Sample:
    command = [sys.executable, __file__, "--child", action]
    if out is not None:
        command += ["--child-out", str(out)]
    wall, peak, text = measure(command + [str(f) for f in files])
    return Sample(wall, peak, inner=json.loads(text.strip().splitlines()[-1])["seconds"])


def synth(root: Path, case: Case) -> Path:
    """The burst's folder, written by ``burst synth`` unless already there."""
    folder = root / case.name
    if not list(folder.glob("burst_*/*.dng")):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing {case.frames} x {case.width}x{case.height} DNG burst ...", flush=True)
        subprocess.run([str(BIN / "burst"), "synth", str(folder), "--size",
                        f"{case.width}x{case.height}", "--frames", str(case.frames),
                        "--blur", "0", "--sharp-margin", "0", "--seed", "5"],
                       check=True, capture_output=True)
    return next(folder.glob("burst_*"))


def to_jpeg(source: Path, target: Path) -> Path:
    """The DNG frames of ``source`` developed (rawpy defaults) and written as JPEG."""
    if not list(target.glob("*.jpg")):
        target.mkdir(parents=True, exist_ok=True)
        print(f"writing JPEG frames of {source} ...", flush=True)
        run_child("to-jpeg", sorted(source.glob("*.dng")), target)
    return target


def enhance(case: Case, preset: str, out: Path) -> Sample:
    env = {**os.environ, "COLUMNS": "200"}  # rich must not wrap the --profile table
    wall, peak, text = measure([str(BIN / "burst"), "enhance", str(case.folder), "--preset",
                                preset, "-o", str(out), "--overwrite", "--profile"], env)
    sidecar = json.loads(next(out.glob(f"*_{preset}.json")).read_text(encoding="utf-8"))
    write = re.search(r"^\s*write output\s+([0-9.]+)", text, re.M)
    whole = re.search(r"^\s*whole burst\s+([0-9.]+)", text, re.M)
    stage_peaks = [st["peak_rss_mib"] * MIB for st in sidecar["stages"] if st["peak_rss_mib"]]
    peak = int(max([peak, *stage_peaks]))
    return Sample(wall, peak, inner=float(whole[1]) if whole else sidecar["seconds"],
                  stages=sidecar["stages"], write=float(write[1]) if write else None,
                  sidecar_peak=sidecar.get("peak_rss_mib"), profile_text=text)


# --- reporting ---------------------------------------------------------------------------


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(case: Case, rows: dict[str, list[Sample]], basis: list[Sample]) -> None:
    print(f"\n== {case.name}: {case.frames} x {case.width}x{case.height} {case.kind.upper()}"
          f" ({case.megapixels:.1f} input MP); median of {len(basis)}")
    print(f"{'method':<34} {'wall s':>8} {'in-run s':>9} {'startup':>8} {'x postproc':>11} "
          f"{'best x':>7} {'wall x':>7} {'s/MP':>7} {'peak MiB':>9}")
    for method, samples in rows.items():
        # ratio within each repeat: in-run (or rawpy's in-process) seconds / rawpy postprocess
        ratios = [s.inner / b.inner for s, b in zip(samples, basis) if s.inner and b.inner]
        wall_ratios = ([s.wall / b.inner for s, b in zip(samples, basis) if b.inner]
                       if samples[0].stages else [])
        inner = median([s.inner for s in samples])
        wall = median([s.wall for s in samples])
        startup = median([s.wall - s.inner for s in samples]) if samples[0].stages else None
        print(f"{method:<34} {fmt(wall):>8} {fmt(inner):>9} {fmt(startup):>8} "
              f"{fmt(median(ratios)):>11} {fmt(min(ratios) if ratios else None):>7} "
              f"{fmt(median(wall_ratios)):>7} "
              f"{fmt(inner / case.megapixels if inner else None, '.3f'):>7} "
              f"{max(s.peak for s in samples) / MIB:>9.0f}")


def print_stages(case: Case, preset: str, samples: list[Sample]) -> None:
    whole = median([s.inner for s in samples]) or 1e-9
    print(f"\n  {case.name} {preset}: where the in-run {whole:.2f} s go "
          f"(+ {fmt(median([s.wall - s.inner for s in samples]))} s startup)")
    print(f"    {'stage':<18} {'seconds':>8} {'share':>7} {'frames':>6} {'s/frame':>8} "
          f"{'peak MiB':>9}")
    names = list(dict.fromkeys(st["name"] for s in samples for st in s.stages))
    for name in names:
        found = [next((st for st in s.stages if st["name"] == name), None) for s in samples]
        seconds = median([st["seconds"] for st in found if st])
        peak = max((st["peak_rss_mib"] or 0) for st in found if st)
        frames = [st["frame_seconds"] for st in found if st and st.get("frame_seconds")]
        count = len(frames[0]) if frames else 0
        per_frame = (median([statistics.mean(f.values()) for f in frames]) if frames else None)
        print(f"    {name:<18} {fmt(seconds):>8} {100 * (seconds or 0) / whole:>6.1f}% "
              f"{count or '':>6} {fmt(per_frame, '.3f'):>8} {peak:>9.0f}")
    write = median([s.write for s in samples])
    if write is not None:
        print(f"    {'write output':<18} {write:>8.2f} {100 * write / whole:>6.1f}%")


def print_per_mp(cases: list[Case], results: dict[tuple[str, str], list[Sample]],
                 failures: dict[tuple[str, str], str], main_names: dict[str, str]) -> None:
    """Big bursts against the main one of the same kind: seconds per MP, peak memory."""
    print(f"\n== big burst check (issue 16 item 3: peak <= {MEMORY_LIMIT / 1e9:.0f} GB, "
          f"s/MP <= {PER_MP_LIMIT}x the main burst's)")
    print(f"{'burst':<10} {'method':<34} {'in-run s':>9} {'s/MP':>7} {'x main':>7} "
          f"{'wall x main':>11} {'peak MiB':>9} {'peak ok':>7} {'s/MP ok':>7}")
    for case in cases:
        if case.name not in main_names:
            continue
        main = next(c for c in cases if c.name == main_names[case.name])
        for method in [m for (name, m) in results if name == case.name]:
            if (main.name, method) not in results:
                continue
            big, small = results[(case.name, method)], results[(main.name, method)]
            per_mp = median([b.inner / case.megapixels for b in big]) or 0.0
            ratio = per_mp / (median([s.inner / main.megapixels for s in small]) or 1.0)
            wall_ratio = (median([b.wall / case.megapixels for b in big]) or 0.0) / (
                median([s.wall / main.megapixels for s in small]) or 1.0)
            peak = max(b.peak for b in big)
            memory_ok = "-" if method.startswith(("rawpy", "cv2")) else (
                "yes" if peak <= MEMORY_LIMIT else "NO")
            speed_ok = "-" if method.startswith(("rawpy", "cv2")) else (
                "yes" if ratio <= PER_MP_LIMIT else "NO")
            print(f"{case.name:<10} {method:<34} {fmt(median([b.inner for b in big])):>9} "
                  f"{per_mp:>7.3f} {ratio:>7.2f} {wall_ratio:>11.2f} "
                  f"{peak / MIB:>9.0f} {memory_ok:>7} {speed_ok:>7}")
        for (name, method), message in failures.items():
            if name == case.name:
                print(f"{case.name:<10} {method:<34} NO: {message}")


# --- quality ------------------------------------------------------------------------------


def quality(bursts: int) -> None:
    """Print the merge benchmark's DNG rows (denoise beside ECC + mean and the oracle) and the
    upscale benchmark's (upscale4x, the zoom presets' network, beside bicubic and ECC +
    back-projection): bursts from photographs by a generator no stage was tuned on, every
    noise band. Their seeds are fixed, so the figures are the same run after run: a speed-up
    that changed a result shows against an earlier commit's run of this same check."""
    for arguments, start in ((["merge", "--presets", "denoise"], "Gain over the reference"),
                             (["upscale", "--scale", "4"], "Y-PSNR dB")):
        command = [*arguments, "--kinds", "dng", "--bursts", str(bursts)]
        print(f"\n== quality: burst bench {' '.join(command)}", flush=True)
        text = _bench(command)
        print(text[text.index(start):].rstrip())


def _bench(arguments: list[str]) -> str:
    done = subprocess.run([str(BIN / "burst"), "bench", *arguments], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"burst bench {' '.join(arguments)} exited {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return done.stdout


# --- main --------------------------------------------------------------------------------


def size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--size", type=size, default=(4000, 3000), help="WxH of the main burst")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--presets", default="denoise,zoom2x,zoom4x")
    parser.add_argument("--repeats", type=int, default=1,
                        help="interleaved repeats (0: only write the bursts, for --work)")
    parser.add_argument("--big", action="store_true",
                        help="also the 48 MP case: --big-frames x --big-size")
    parser.add_argument("--big-size", type=size, default=(8000, 6000))
    parser.add_argument("--big-frames", type=int, default=10)
    parser.add_argument("--big-presets", default="denoise,zoom2x")
    parser.add_argument("--jpeg", action="store_true",
                        help="also each burst as JPEG frames (rawpy's development of the DNGs)")
    parser.add_argument("--only-big", action="store_true",
                        help="with --big: skip the main burst's presets not in --big-presets")
    parser.add_argument("--profile", action="store_true",
                        help="also print burst enhance --profile's tables (last repeat)")
    parser.add_argument("--quality", type=int, default=2, metavar="BURSTS",
                        help="bursts per noise band of the quality check (0: skip it)")
    parser.add_argument("--work", type=Path,
                        help="keep the bursts and outputs here (reused by a later run); "
                             "default: a temporary folder, removed")
    parser.add_argument("--max-rss-gb", type=float, default=14.0,
                        help="kill a measured process whose resident set passes this (GB)")
    parser.add_argument("--max-minutes", type=float, default=20.0,
                        help="kill a measured process running longer than this")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.files, args.child_out)
        return

    GUARD.max_rss, GUARD.max_seconds = args.max_rss_gb * 1e9, args.max_minutes * 60
    presets = [p for p in args.presets.split(",") if p]
    big_presets = [p for p in args.big_presets.split(",") if p]
    main_presets = presets
    if args.big:
        main_presets = (big_presets if args.only_big else
                        list(dict.fromkeys(presets + big_presets)))
    cases = [Case("main", args.size[0], args.size[1], args.frames, "dng", main_presets)]
    if args.big:
        cases.append(Case("big", args.big_size[0], args.big_size[1], args.big_frames, "dng",
                          big_presets))
    main_names = {"big": "main"}
    if args.jpeg:
        cases += [Case(c.name + "-jpeg", c.width, c.height, c.frames, "jpeg",
                       big_presets if args.big else c.presets, develop_of=c.name)
                  for c in list(cases)]
        main_names["big-jpeg"] = "main-jpeg"

    work = args.work or Path(tempfile.mkdtemp(prefix="burst-rawspeed-"))
    work.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{os.cpu_count()} CPUs, OMP_NUM_THREADS {threads}, load average "
          f"{os.getloadavg()[0]:.2f} at start; work in {work}", flush=True)
    try:
        for case in cases:
            if case.kind == "dng":
                case.folder = synth(work / "bursts", case)
        for case in cases:
            if case.kind == "jpeg":
                source = next(c for c in cases if c.name == case.develop_of)
                case.folder = to_jpeg(source.folder, work / "bursts" / case.name / "b")
        if args.repeats < 1:
            print("--repeats 0: bursts written, nothing timed")
            if args.quality > 0:
                quality(args.quality)
            return
        results: dict[tuple[str, str], list[Sample]] = {}
        failures: dict[tuple[str, str], str] = {}
        for repeat in range(args.repeats):
            for case in cases:
                jobs: list[tuple[str, Callable[[], Sample]]]
                if case.kind == "dng":
                    files = sorted(case.folder.glob("*.dng"))
                    jobs = [("rawpy read (imread + raw copy)", lambda: run_child("read", files)),
                            ("rawpy postprocess (AHD, 8-bit)",
                             lambda: run_child("postprocess", files))]
                else:
                    files = sorted(case.folder.glob("*.jpg"))
                    jobs = [("cv2 decode of the JPEG frames",
                             lambda: run_child("decode-jpeg", files))]
                for preset in case.presets:
                    jobs.append((f"burst enhance --preset {preset}",
                                 functools.partial(enhance, case, preset,
                                                   work / "out" / case.name)))
                for method, job in jobs:
                    print(f"  repeat {repeat + 1}/{args.repeats} {case.name}: {method} ...",
                          end=" ", flush=True)
                    try:
                        sample = job()
                    except Killed as exc:
                        print(exc, flush=True)
                        failures[(case.name, method)] = str(exc)
                        continue
                    print(f"{sample.wall:.1f} s, {sample.peak / MIB:.0f} MiB", flush=True)
                    results.setdefault((case.name, method), []).append(sample)
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
        for case in cases:
            basis = results[(case.develop_of or case.name, "rawpy postprocess (AHD, 8-bit)")]
            print_table(case, {m: s for (n, m), s in results.items() if n == case.name}, basis)
            for (name, method), message in failures.items():
                if name == case.name:
                    print(f"{method:<34} {message}")
        print("\nx postproc: in-run (rawpy: in-process) seconds over rawpy postprocess of the "
              "same frames,\nmedian of the per-repeat ratios; best x: the smallest; wall x: "
              "the subprocess's wall\ntime (startup included) over the same; s/MP: in-run "
              "seconds per input megapixel;\npeak MiB: the whole process's largest resident set")
        if args.big:
            print_per_mp(cases, results, failures, main_names)
        print("\n== per stage (medians; peak MiB: the process's peak during the stage)")
        for case in cases:
            for preset in case.presets:
                if (case.name, f"burst enhance --preset {preset}") in results:
                    print_stages(case, preset,
                                 results[(case.name, f"burst enhance --preset {preset}")])
        if args.profile:
            for case in cases:
                for preset in case.presets:
                    if (case.name, f"burst enhance --preset {preset}") not in results:
                        continue
                    text = results[(case.name, f"burst enhance --preset {preset}")][-1]
                    print(f"\n-- {case.name}: burst enhance --preset {preset} --profile\n"
                          + text.profile_text.rstrip())
        if args.quality > 0:
            quality(args.quality)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
