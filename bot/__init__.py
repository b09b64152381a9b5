"""The Telegram transport: wiring (`app`), polling and webhook, one module per feature,
and the outbox sender (`delivery`).

Thin: a handler turns an update into one service call of the domain and its answer back.
Imports the domain packages; never `web`, `cli` or the scheduler.
"""
