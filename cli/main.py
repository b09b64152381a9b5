"""`gridcast …`: the command line, a transport like the bot and the web app.

Wiring only: the parser is built from GROUPS, one module per command group, each with an
`add_parser(subparsers)` that declares its commands (see cli.common). Adding a group is one
module and one line here. Each command is one service call and its answer; a configuration
mistake or a refused request ends in one line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from cli import (
    ask,
    audio,
    campaigns,
    db,
    demo,
    grids,
    hazards,
    people,
    roles,
    speaker_agent,
    speakers,
    warnings,
)
from cli.common import CliError
from hub.errors import ContentError, HubError
from hub.logs import setup_logging
from hub.settings import ConfigError, Settings, load_settings

# In the order `gridcast --help` lists them.
GROUPS = (roles, db, grids, people, ask, warnings, audio, hazards, speakers, campaigns, speaker_agent, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridcast", description="gridcast community-safety hub")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for group in GROUPS:
        group.add_parser(sub)
    return parser


def _say_error(settings: Settings | None, error: HubError) -> str:
    from hub.i18n import Texts

    lang = settings.default_language if settings else "zh-Hans"
    try:
        return Texts().get(lang, error.key, **error.params)
    except (KeyError, ContentError):
        return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        setup_logging(settings)
        return args.run(settings, args)
    except ConfigError as error:
        print(f"gridcast: configuration error: {error}", file=sys.stderr)
        return 2
    except ContentError as error:
        print(f"gridcast: content error: {error}", file=sys.stderr)
        return 2
    except CliError as error:
        print(f"gridcast: {error}", file=sys.stderr)
        return 2
    except HubError as error:
        print(f"gridcast: {_say_error(settings, error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, DBAPIError) as error:
        # The database or the data dir cannot be reached: say which, in one line.
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"gridcast: cannot reach the database or data dir: {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
