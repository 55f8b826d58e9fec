"""Progress and summary: rich progress on a terminal, one plain line per burst otherwise;
with ``--profile``, a table of where each burst's time and memory went.

Registered by ``burst enhance`` only for a run (the way pytest registers its terminal
reporter), so listing commands stay quiet.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table
from rich.text import Text

from burstcli import hookimpl
from burstcli.profiling import MIB, BurstProfile
from burstcli.runner import BurstOutcome, RunPlan, RunSummary
from burstcli.words import counted


def outcome_lines(outcome: BurstOutcome) -> list[str]:
    """The lines one burst's outcome prints: its warnings, then its status."""
    lines = [f"warning {message}" for message in outcome.warnings]
    if outcome.status == "done":
        lines.append(f"done    {outcome.name} -> {outcome.output} ({outcome.seconds:.1f} s)")
    elif outcome.status == "skipped":
        lines.append(f"skip    {outcome.name}: {outcome.message}")
    else:
        lines.append(f"FAILED  {outcome.name}: {outcome.message}")
    return lines


def summary_line(summary: RunSummary) -> str:
    """``3 done, 1 skipped, 0 failed, 2 warnings in 4.2 s`` (+ interrupted)."""
    line = (f"{summary.done} done, {summary.skipped} skipped, {summary.failed} failed, "
            f"{counted(summary.warnings, 'warning')} in {summary.seconds:.1f} s")
    return line + " (interrupted)" if summary.interrupted else line


def profile_table(outcome: BurstOutcome) -> Table | None:
    """Where a burst's time and memory went (``--profile``): a row per stage with its
    seconds, its share of the burst's time and the peak resident memory during it, the
    frames it timed indented below it, then writing the output and the whole burst. None
    for a burst without a profile (skipped or failed)."""
    profile = outcome.profile
    if profile is None:
        return None
    total = max(outcome.seconds, 1e-9)
    table = Table(title=Text(f"profile {outcome.name}"), title_justify="left",
                  caption=_memory_caption(profile), caption_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("stage / frame")
    for name in ("seconds", "share", "peak memory"):
        table.add_column(name, justify="right")
    for stage in profile.measured:
        table.add_row(Text(stage.name), f"{stage.seconds:.3f}", _share(stage.seconds, total),
                      _size(stage.peak_rss))
        for label, seconds in stage.frames:
            table.add_row(Text(f"  {label}"), f"{seconds:.3f}", _share(seconds, total), "",
                          style="dim")
    table.add_section()
    table.add_row("whole burst", f"{outcome.seconds:.3f}", _share(outcome.seconds, total),
                  _size(profile.peak_rss), style="bold")
    return table


def _share(seconds: float, total: float) -> str:
    return f"{100 * seconds / total:.1f} %"


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / MIB / 1024:.2f} GiB" if size >= 1024 * MIB else f"{size / MIB:.1f} MiB"


def _memory_caption(profile: BurstProfile) -> str:
    if profile.memory_scope == "stage":
        return "peak memory: the process's peak resident set during each stage"
    return ("peak memory: the process's peak resident set since it started, not each "
            "stage's own (this system does not let /proc/self/clear_refs reset it)")


class PlainReporter:
    """One line per burst and a summary, for logs and pipes (``profile``: each burst's
    profile table after its line)."""

    def __init__(self, stream: TextIO | None = None, profile: bool = False):
        self.stream = stream or sys.stdout
        self.profile = profile

    @hookimpl
    def burst_run_start(self, plan: RunPlan) -> None:
        """Say what will be done."""
        todo = sum(not p.skip for p in plan.bursts)
        ignored = (f", {counted(len(plan.ignored), 'non-image file')} ignored" if plan.ignored
                   else "")
        self._print(f"{counted(len(plan.bursts), 'burst')} ({todo} to process{ignored}) with "
                    f"preset {plan.preset.name} -> {plan.output_dir}")

    @hookimpl
    def burst_finished(self, outcome: BurstOutcome) -> None:
        """One line per burst (failures name the file and the reason)."""
        for line in outcome_lines(outcome):
            self._print(line)
        table = profile_table(outcome) if self.profile else None
        if table is not None:
            Console(file=self.stream, no_color=True, highlight=False).print(table)
            self.stream.flush()

    @hookimpl
    def burst_run_finish(self, summary: RunSummary) -> None:
        """The summary line."""
        self._print(summary_line(summary))

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class RichReporter:
    """A progress bar with the same lines (and profile tables) printed above it."""

    def __init__(self, profile: bool = False) -> None:
        self.profile = profile
        self.console = Console()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.task: TaskID = self.progress.add_task("", total=None, visible=False)

    @hookimpl
    def burst_run_start(self, plan: RunPlan) -> None:
        """Start the bar."""
        self.progress.start()
        self.task = self.progress.add_task(f"preset {plan.preset.name}", total=len(plan.bursts))

    @hookimpl
    def burst_stage_finish(self, burst, stage: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
        """Show the burst and stage being worked on (serial runs)."""
        self.progress.update(self.task, description=f"{burst.name}: {stage}")

    @hookimpl
    def burst_finished(self, outcome: BurstOutcome) -> None:
        """Print the burst's lines above the bar and advance it."""
        for line in outcome_lines(outcome):
            style = "red" if line.startswith("FAILED") else "yellow" if line.startswith("warn") else None
            self.console.print(line, style=style, highlight=False, markup=False)
        table = profile_table(outcome) if self.profile else None
        if table is not None:
            self.console.print(table, highlight=False)
        self.progress.advance(self.task)

    @hookimpl
    def burst_run_finish(self, summary: RunSummary) -> None:
        """Stop the bar and print the summary."""
        self.progress.stop()
        style = "red" if summary.failed or summary.interrupted else "green"
        self.console.print(summary_line(summary), style=style, highlight=False)


def make_reporter(is_terminal: bool, profile: bool = False) -> PlainReporter | RichReporter:
    """Rich progress on a terminal, plain lines otherwise; ``profile``: with each burst's
    profile table."""
    return RichReporter(profile) if is_terminal else PlainReporter(profile=profile)
