"""``python -m burstcli``: the same as the ``burst`` command."""

from burstcli.cli import main

main()
