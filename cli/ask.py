"""`gridcast ask [--json] [--lang L] <question>`: the safety knowledge base, as a resident would ask it.

The answer comes in the question's language when that is clearly one of ours (English,
Traditional or Simplified characters), else in the hub's default language; `--lang` asks for
one. `--json` prints `{"answered": bool, "answer": str, "entry_id": str|null, "score": float}`
(a contract scripts rely on); the exit code is 0 when answered, 1 when not.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import CLI_LANGUAGES, arg, command, print_json, with_hub
from hub.core import Hub


@with_hub
async def ask(hub: Hub, args: argparse.Namespace) -> int:
    # Loading the knowledge base (jieba, the index) is for this command only.
    from knowledge.questions import open_knowledge

    kb = await open_knowledge(hub)
    question = " ".join(args.question)
    if args.lang:
        answer = kb.search(question, CLI_LANGUAGES[args.lang])
    else:
        answer = kb.answer(question, hub.settings.default_language)
    if args.json:
        print_json(
            {"answered": answer.answered, "answer": answer.answer, "entry_id": answer.entry_id,
             "score": round(answer.score, 4)},
            indent=None,
        )
    elif answer.answered:
        print(answer.answer)
        if answer.basis:
            print(f"({answer.basis})")
    else:
        key = "ask.cli_place" if answer.reason == "place" else "ask.cli_unknown"
        print(hub.t(answer.lang, key), file=sys.stderr)
    return 0 if answer.answered else 1


def add_parser(sub: Any) -> None:
    command(
        sub, "ask", ask, "ask the safety knowledge base",
        arg("question", nargs="+"),
        arg("--json", action="store_true", help="print answered/answer/entry_id/score"),
        arg("--lang", choices=sorted(CLI_LANGUAGES), default=None,
            help="answer in this language (default: the question's)"),
    )
