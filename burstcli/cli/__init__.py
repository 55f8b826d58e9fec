"""The ``burst`` command line: a click group whose sub-commands come from the core and plugins.

Plugin commands (``register_commands``) are looked up after the global options are parsed,
so ``--plugins-dir`` and ``--disable-plugin`` decide which plugins can add commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from burstcli import __version__
from burstcli.errors import EXIT_INTERRUPTED

from .context import AppState, get_state
from .enhance import enhance
from .listing import models_command, plugins_command, presets_group, stages_command
from .manpages import man_command

CORE_COMMANDS: dict[str, click.Command] = {
    str(cmd.name): cmd
    for cmd in (enhance, plugins_command, stages_command, presets_group, models_command,
                man_command)
}


class BurstGroup(click.Group):
    """A group that asks the plugins for more commands once the global options are known."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*CORE_COMMANDS, *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return CORE_COMMANDS.get(cmd_name) or self._plugin_commands(ctx).get(cmd_name)

    @staticmethod
    def _plugin_commands(ctx: click.Context) -> dict[str, click.Command]:
        if "plugin_commands" not in ctx.meta:
            holder = click.Group()
            get_state(ctx).pm.hook.register_commands(cli=holder)
            ctx.meta["plugin_commands"] = {n: c for n, c in holder.commands.items()
                                           if n not in CORE_COMMANDS}
        return ctx.meta["plugin_commands"]


@click.group(cls=BurstGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="burst")
@click.option("--plugins-dir", "plugin_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Load a one-off plugin: a .py file or a folder of them. Repeatable.")
@click.option("--disable-plugin", "blocked", multiple=True, metavar="NAME",
              help="Do not load the plugin NAME (as `burst plugins` names it). Repeatable.")
@click.option("--no-autoload", is_flag=True,
              help="Load no third-party plugins from entry points "
                   "(also: BURST_DISABLE_PLUGIN_AUTOLOAD=1).")
@click.pass_context
def cli(ctx: click.Context, plugin_paths: tuple[Path, ...], blocked: tuple[str, ...],
        no_autoload: bool) -> None:
    """Turn folders of photo bursts into better single images.

    \b
    burst enhance ./shots --preset sharpest     the sharpest frame of each burst
    burst demo                                  a synthetic RAW burst, processed
    burst presets list                          what presets there are
    """
    ctx.obj = get_state(ctx)


def main() -> None:
    """Console-script entry point: click's own, except that Ctrl-C before a batch has started
    (loading plugins, collecting files) exits 130 in one line, as it does during one (click
    would print "Aborted!" and exit 1)."""
    try:
        code = cli.main(prog_name="burst", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("burst: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["AppState", "cli", "main"]
