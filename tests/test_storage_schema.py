"""The migrated schema is the models' schema, table for table, on SQLite and PostgreSQL.

Models register themselves on `hub.models.Base` when their module is imported, and nothing
keeps a list of those modules. So this test imports every module the product ships — the
packages and modules pyproject.toml gives setuptools, walked file by file — and then asks
alembic's autogenerate what it would change in a freshly migrated database: the answer must
be nothing. A model whose module is never imported, a table left without a model, a column
added to a model without a revision (or the other way round) all fail here, by name.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hub.core import Hub
from hub.migrate import MIGRATIONS
from hub.models import Base

ROOT = Path(__file__).resolve().parent.parent


def product_modules() -> list[str]:
    """Every module the wheel ships, found on disk from pyproject.toml's package selection.

    Skipped, and only these: alembic's script directory (alembic runs those files against a
    connection; `env.py` refuses to be imported without one) and `__main__` modules (importing
    one runs the command line).
    """
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    patterns = setuptools["packages"]["find"]["include"]
    names = list(setuptools.get("py-modules", []))
    for top in sorted(ROOT.iterdir()):
        if not (top / "__init__.py").is_file() or not any(fnmatch(top.name, p) for p in patterns):
            continue
        for path in sorted(top.rglob("*.py")):
            if path.is_relative_to(MIGRATIONS.resolve()) or path.stem == "__main__":
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.fixture(scope="module")
def imported() -> list[str]:
    names = product_modules()
    for name in names:
        importlib.import_module(name)
    return names


def test_every_product_package_is_walked(imported: list[str]):
    tops = {name.split(".")[0] for name in imported}
    # The layers of DESIGN.md; the walk finds them from pyproject.toml, this only checks it did.
    assert {"hub", "hazards", "knowledge", "audio", "broadcasts", "bot", "web", "cli",
            "scheduler"} <= tops
    assert all(name in sys.modules for name in imported)


def _differences(connection: Connection) -> tuple[list[Any], set[str]]:
    # Types and server defaults are compared too (alembic leaves the latter out by default).
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    changes = compare_metadata(context, Base.metadata)
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return changes, tables


async def test_migrated_schema_equals_the_models(imported: list[str], hub: Hub):
    async with hub.db.engine.connect() as conn:
        changes, tables = await conn.run_sync(_differences)
    models = set(Base.metadata.tables)
    assert not models - tables, f"models whose table no migration creates: {models - tables}"
    assert not tables - models, f"tables no imported model declares: {tables - models}"
    assert changes == [], f"{hub.db.engine.dialect.name}: autogenerate would change {changes}"
