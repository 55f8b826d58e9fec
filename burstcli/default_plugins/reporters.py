"""Progress and summary: rich progress on a terminal, one plain line per burst otherwise.

Registered by ``burst enhance`` only for a run (the way pytest registers its terminal
reporter), so listing commands stay quiet.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)

from burstcli import hookimpl
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


class PlainReporter:
    """One line per burst and a summary, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

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

    @hookimpl
    def burst_run_finish(self, summary: RunSummary) -> None:
        """The summary line."""
        self._print(summary_line(summary))

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class RichReporter:
    """A progress bar with the same lines printed above it."""

    def __init__(self) -> None:
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
        self.progress.advance(self.task)

    @hookimpl
    def burst_run_finish(self, summary: RunSummary) -> None:
        """Stop the bar and print the summary."""
        self.progress.stop()
        style = "red" if summary.failed or summary.interrupted else "green"
        self.console.print(summary_line(summary), style=style, highlight=False)


def make_reporter(is_terminal: bool) -> PlainReporter | RichReporter:
    """Rich progress on a terminal, plain lines otherwise."""
    return RichReporter() if is_terminal else PlainReporter()
