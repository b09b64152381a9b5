"""Imports every module that declares tables, so metadata is complete for alembic."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "hub.models", "hub.questions", "broadcasts.outbox", "hub.hazard_models",
    "broadcasts.warning_models", "audio.recording_models",
)


def load_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
