"""The command-line transport: `gridcast` and its command groups, one module a group.

`cli.serve` runs the roles and is the one place that starts `bot`, `web` and the
`scheduler`; it sits above every other package and nothing imports it.
"""
