"""Secrets never reach a log line, an exception's text or a traceback (#12 item 7)."""

import logging
import sys

from hub.logs import MASK, RedactingFormatter, setup_logging
from tests.conftest import make_settings

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret123"


def record(message, *args, exc_info=None):
    return logging.LogRecord("gridcast", logging.ERROR, __file__, 1, message, args, exc_info)


def test_message_arguments_and_traceback_are_scrubbed():
    formatter = RedactingFormatter([TOKEN])
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        exc_info = sys.exc_info()
    line = formatter.format(record("request to %s", f"/bot{TOKEN}/sendMessage", exc_info=exc_info))
    assert TOKEN not in line
    assert line.count(MASK) == 2  # the argument and the exception's text in the traceback
    assert "Traceback" in line


def test_uncaught_exceptions_go_through_the_scrubbing_handler(capsys, tmp_path):
    old_hook, root = sys.excepthook, logging.getLogger()
    old_handlers, old_level = root.handlers[:], root.level
    try:
        setup_logging(make_settings(tmp_path, telegram_token=TOKEN))
        try:
            raise ValueError(f"token {TOKEN} rejected")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        err = capsys.readouterr().err
    finally:
        sys.excepthook = old_hook
        root.handlers[:], root.level = old_handlers, old_level
    assert "uncaught exception" in err and "ValueError" in err
    assert TOKEN not in err and MASK in err
