"""The ground floor, imported by every other package and importing none of them.

Settings, the database (engine, models base, migrations), grids, people, roles and access,
the audit trail, the outbox and `notify` (the one way a message becomes owed to a person),
chat bindings, texts and the content loader, clock, metrics, logs, leadership, heartbeats.
It may import only `content` (data) and third-party libraries; never Telegram or aiohttp.web.
"""
