"""`python -m speaker_agent --hub URL --id ID --token T [--cache DIR] [--player CMD]`
(also `gridcast speaker-agent …`, which hands its arguments here).

Runs until SIGTERM or Ctrl-C; then the clip playing is cut, reported and owed its replay,
and the state is on disk for the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from speaker_agent import __version__
from speaker_agent.agent import DRIFT_WARN_SECONDS, Agent, Config
from speaker_agent.clock import SystemClock
from speaker_agent.players import (
    Player,
    PlayerError,
    ProcessPlayer,
    SinkPlayer,
    default_command,
    parse_command,
)

DEFAULT_CACHE = "~/.cache/gridcast-speaker"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The agent's options, on its own parser or on `gridcast speaker-agent`'s."""
    env = os.environ.get
    parser.add_argument("--hub", default=env("SPEAKER_AGENT_HUB"),
                        required=not env("SPEAKER_AGENT_HUB"),
                        help="the hub's base URL, e.g. http://127.0.0.1:8080 (env SPEAKER_AGENT_HUB)")
    parser.add_argument("--id", dest="speaker_id", default=env("SPEAKER_AGENT_ID"),
                        required=not env("SPEAKER_AGENT_ID"),
                        help="this speaker's id (env SPEAKER_AGENT_ID)")
    parser.add_argument("--token", default=env("SPEAKER_AGENT_TOKEN"),
                        required=not env("SPEAKER_AGENT_TOKEN"),
                        help="this speaker's token; better in the environment variable "
                             "SPEAKER_AGENT_TOKEN, which `ps` does not show")
    parser.add_argument("--cache", default=env("SPEAKER_AGENT_CACHE", DEFAULT_CACHE),
                        help=f"where clips and state are kept (default {DEFAULT_CACHE}; "
                             "env SPEAKER_AGENT_CACHE)")
    player = parser.add_mutually_exclusive_group()
    player.add_argument("--player", help="player command; the clip's path is appended, {volume} "
                        "becomes the schedule's 0..100 (default: the first of mpv, ffplay, aplay)")
    player.add_argument("--sink", metavar="FILE",
                        help="play nothing: write what would play, and when, to FILE (JSON lines)")
    parser.add_argument("--max-drift", type=float, default=DRIFT_WARN_SECONDS,
                        help="warn when this clock is further off the hub's than this many seconds (default %(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speaker_agent",
                                     description="gridcast loudspeaker agent " + __version__)
    add_arguments(parser)
    return parser


async def _serve(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    tasks = await agent.start()
    ended = asyncio.ensure_future(asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION))
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait([ended, stop], return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    await agent.stop()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def run(args: argparse.Namespace) -> int:
    """Run the agent from parsed arguments (this parser's or `gridcast speaker-agent`'s)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    clock = SystemClock()
    cache = Path(args.cache).expanduser()
    player: Player
    try:
        if args.sink:
            player = SinkPlayer(clock, Path(args.sink).expanduser())
        else:
            player = ProcessPlayer(parse_command(args.player) if args.player else default_command(),
                                   clock)
    except PlayerError as error:
        print(f"speaker_agent: {error}", file=sys.stderr)
        return 2
    config = Config(hub_url=args.hub, speaker_id=args.speaker_id, token=args.token,
                    cache_dir=cache, drift_warn_seconds=args.max_drift)
    try:
        asyncio.run(_serve(Agent(config, clock=clock, player=player)))
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(f"speaker_agent: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
