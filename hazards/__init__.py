"""Hazard reports and the rectification ledger (问题清单 → 整改台账 → 逐一销号).

Intake of reports, the lifecycle (the one place a hazard's state changes), duplicates,
photos, categories, sweeps (overdue, "is it fixed?"), views and the ledger export.
Imports `hub` only; tells people through `hub.notify`, never through Telegram.
"""
