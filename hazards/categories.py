"""Hazard categories: what residents pick from, and what each one promises them.

The list lives in `content/categories.yaml` so the emergency bureau can change deadlines or
add a category without a release (a county's `GRIDCAST_CONTENT_DIR/categories.yaml` replaces
it whole); it is validated when loaded, so a typo stops the hub at start-up with the file,
field and line named instead of surfacing in front of a resident.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub import content
from hub.errors import InvalidInput
from hub.i18n import DEFAULT_LANGUAGE, to_traditional

CATEGORIES_FILE = "categories.yaml"  # inside content/ (see hub.content)
OTHER = "other"


class Localized(BaseModel):
    """A text written in zh-Hans and en; zh-Hant is converted, as for the templates."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    zh_hans: str = Field(alias="zh-Hans", min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        if lang == "en":
            return self.en
        if lang == "zh-Hant":
            return to_traditional(self.zh_hans)
        return self.zh_hans


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    name: Localized
    deadline_hours: int = Field(ge=1, le=24 * 30)
    emergency_number: Literal["119", "110", "120"]
    danger_question: Localized
    keywords: tuple[str, ...] = ()

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(_fold(k) for k in value)
        if any(not k for k in cleaned):
            raise ValueError("keywords must not be empty")
        return cleaned

    @property
    def deadline(self) -> timedelta:
        return timedelta(hours=self.deadline_hours)

    def label(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return self.name.get(lang)

    def question(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return self.danger_question.get(lang)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[Category, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _ids(self) -> Catalogue:
        if OTHER not in self.ids:
            raise ValueError(f"a category with id {OTHER!r} is required as the fallback")
        return self

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def get(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise InvalidInput("hazard.unknown_category", category=category_id)

    def suggest(self, text: str) -> str:
        """The category whose keywords cover most of `text`; "other" when none match.

        Longer keywords weigh more, so "楼道里有电动车在充电" goes to e-bikes (电动车, 充电)
        rather than corridor clutter (楼道). Ties go to the category listed first.
        """
        folded = _fold(text)
        best, best_score = OTHER, 0
        for category in self.categories:
            score = sum(len(k) for k in category.keywords if k in folded)
            if score > best_score:
                best, best_score = category.id, score
        return best


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def load_categories(path: Path | None = None) -> Catalogue:
    """Read and validate the categories; ContentError names the file, the field and the line."""
    doc = content.read(path or content.file(CATEGORIES_FILE))
    catalogue = doc.validate(Catalogue)
    content.by_id(
        ((c.id, c, doc.place("categories", i)) for i, c in enumerate(catalogue.categories)),
        what="category id",
    )
    return catalogue


@cache
def catalogue() -> Catalogue:
    """The categories shipped in content/, read once per process."""
    return load_categories()


def get(category_id: str) -> Category:
    return catalogue().get(category_id)


def get_or_other(category_id: str) -> Category:
    """A stored hazard's category, or "other" if content has since dropped the one it had."""
    found = {c.id: c for c in catalogue().categories}
    return found.get(category_id) or found[OTHER]


def suggest_category(text: str) -> str:
    return catalogue().suggest(text)
