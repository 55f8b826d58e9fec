"""Man pages generated from the click commands themselves (``burst man -o man/``).

The pages in the repository's ``man/`` folder are made by this command; a test regenerates
them and fails when they differ, so the help text and the man pages never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from burstcli import __version__


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def _walk(cmd: click.Command, ctx: click.Context, path: tuple[str, ...]) -> Iterator[
        tuple[tuple[str, ...], click.Command, click.Context]]:
    yield path, cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
                yield from _walk(sub, sub_ctx, (*path, name))


def render_page(path: tuple[str, ...], cmd: click.Command, ctx: click.Context) -> str:
    """One roff page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS and, for groups, COMMANDS."""
    title = "-".join(path)
    lines = [f'.TH "{title.upper()}" "1" "" "burst {__version__}" "burst manual"',
             ".SH NAME", _escape(f"{title} - {cmd.get_short_help_str(limit=200)}"),
             ".SH SYNOPSIS", f".B {_escape(' '.join(path))}",
             _escape(" ".join(cmd.collect_usage_pieces(ctx)))]
    if cmd.help:
        lines += [".SH DESCRIPTION", _escape(click.unstyle(cmd.help).replace("\b\n", ""))]
    # The command's own parameters plus a help entry from the context: click caches the help
    # option on the command object, so get_params() would depend on earlier invocations.
    options = [record for record in (p.get_help_record(ctx) for p in cmd.params) if record]
    if ctx.help_option_names:
        options.append((", ".join(sorted(ctx.help_option_names, key=len)),
                        "Show this message and exit."))
    if options:
        lines.append(".SH OPTIONS")
        for names, help_text in options:
            lines += [".TP", f".B {_escape(names)}", _escape(help_text)]
    if isinstance(cmd, click.Group):
        lines.append(".SH COMMANDS")
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                lines += [".TP", f".B {_escape(name)}", _escape(sub.get_short_help_str(limit=200)),
                          f"See \\fB{title}-{_escape(name)}\\fR(1)."]
    return "\n".join(lines) + "\n"


def generate(root: click.Command) -> dict[str, str]:
    """``{file name: roff text}`` for the root command and every sub-command."""
    # make_context applies the commands' context_settings (-h), as a real invocation does.
    ctx = root.make_context("burst", [], resilient_parsing=True)
    return {f"{'-'.join(path)}.1": render_page(path, cmd, sub_ctx)
            for path, cmd, sub_ctx in _walk(root, ctx, ("burst",))}


@click.command("man", hidden=True)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("man"), show_default=True, help="Folder to write the pages to.")
def man_command(output: Path) -> None:
    """Write the man pages of burst and every sub-command to a folder."""
    from burstcli.cli import cli  # the root group, with plugin commands

    output.mkdir(parents=True, exist_ok=True)
    pages = generate(cli)
    for stale in output.glob("burst*.1"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        (output / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(pages)} man pages to {output}")
