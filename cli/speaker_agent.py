"""`gridcast speaker-agent --hub URL --id ID --token T [--cache DIR] [--player CMD]`: the
reference loudspeaker agent, the same as `python -m speaker_agent`.

Only hands its arguments over: the agent never imports the hub, so it also runs alone.
"""

from __future__ import annotations

import argparse
from typing import Any

from hub.settings import Settings


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from speaker_agent.main import run

    return run(args)


def add_parser(sub: Any) -> None:
    from speaker_agent.main import add_arguments

    parser = sub.add_parser("speaker-agent", help="run the reference loudspeaker agent")
    add_arguments(parser)
    parser.set_defaults(run=_run)
