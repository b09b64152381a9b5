import pytest

from hub.errors import ContentError
from hub.i18n import Texts, language_for


@pytest.mark.parametrize(
    ("chosen", "code", "expected"),
    [
        (None, "zh-hans", "zh-Hans"),
        (None, "zh", "zh-Hans"),
        (None, "zh-TW", "zh-Hant"),
        (None, "zh-hk", "zh-Hant"),
        (None, "en-GB", "en"),
        (None, "ru", "zh-Hans"),
        (None, None, "zh-Hans"),
        ("en", "zh-hans", "en"),
        ("klingon", "en", "en"),
    ],
)
def test_language_choice(chosen, code, expected):
    assert language_for(chosen, code) == expected


def test_traditional_is_converted_and_overridable():
    texts = Texts()
    assert "網格" in texts.get("zh-Hant", "start.group", grid=None)
    assert texts.get("zh-Hant", "lang.set") == "好的，以後用繁體中文和您交流。"


def test_every_key_renders_in_every_language():
    texts = Texts()
    for lang in ("zh-Hans", "zh-Hant", "en"):
        for key in texts.names():
            params = dict.fromkeys(texts.parameters(lang, key), "X")
            assert texts.get(lang, key, **params)


def test_broken_templates_fail_at_load(tmp_path):
    for lang in ("zh-Hans", "en", "zh-Hant"):
        (tmp_path / lang).mkdir()
    (tmp_path / "zh-Hans" / "core.yaml").write_text("a: '{{ broken'\n", encoding="utf-8")
    (tmp_path / "en" / "core.yaml").write_text("a: fine\n", encoding="utf-8")
    with pytest.raises(ContentError, match="zh-Hans: a:"):
        Texts(tmp_path)
    (tmp_path / "zh-Hans" / "core.yaml").write_text("a: ok\nb: only here\n", encoding="utf-8")
    with pytest.raises(ContentError, match="not in both"):
        Texts(tmp_path)
    (tmp_path / "zh-Hans" / "more.yaml").write_text("a: again\n", encoding="utf-8")
    with pytest.raises(ContentError, match="defined twice"):
        Texts(tmp_path)
