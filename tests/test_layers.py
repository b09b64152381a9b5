"""The layers of DESIGN.md where import-linter cannot look: `scheduler.py` is a module.

import-linter checks the packages (`make test` runs `lint-imports`); this holds the
scheduler to the same rule: it calls the domain, and only `cli/` starts it.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = {"hub", "hazards", "knowledge", "audio", "broadcasts", "content"}
TRANSPORTS = {"bot", "web", "cli"}
PRODUCT = DOMAIN | TRANSPORTS


def imported(path: Path) -> set[str]:
    """Top-level names of every module a file imports, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_scheduler_calls_the_domain_and_no_transport():
    assert imported(ROOT / "scheduler.py") & TRANSPORTS == set()


def test_only_the_cli_starts_the_scheduler():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "scheduler" in imported(path)
    )
    assert importers and all(name.startswith("cli/") for name in importers), importers


def test_planted_upward_import_is_seen(tmp_path):
    """The checker above is not blind: an import of a transport from the scheduler is caught."""
    planted = tmp_path / "scheduler.py"
    planted.write_text("def job():\n    from bot import app\n", encoding="utf-8")
    assert imported(planted) & TRANSPORTS == {"bot"}
