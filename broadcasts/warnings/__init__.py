"""Warnings: drafts, sends, updates and cancellations (`lifecycle`), CAP 1.2 in (`cap`,
`feeds`, `ingest`) and out (`cap_out`), which alert a `<references>` may touch
(`references`), and area targeting onto grids (`targeting`).
"""
