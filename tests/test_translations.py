"""The Chinese edition keeps up with the English one: its catalogs cover the current English."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("translations", ROOT / ".ci" / "translations.py")
translations = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translations)


def test_catalogs_cover_the_current_english(capsys):
    ok = translations.check(min_percent=98.0)
    report = capsys.readouterr().out
    assert ok, "the Chinese catalogs lag behind the English (run `make translations`):\n" + report


def test_a_translation_must_keep_roles_math_and_code():
    english = "FID {glue:text}`fid:.1f` after `fit`, with $L_G = -\\log D(G(z))$ [see](https://a.b/c)."
    assert translations.markup_differs(english, "训练后 FID 为 {glue:text}`fid:.1f`（`fit`），"
                                                "$L_G = -\\log D(G(z))$，[参见](https://a.b/c)。") == []
    assert translations.markup_differs(english, "FID 为 {glue:text}`fid:.2f`，`fit`，$L_G$。") == [
        "$L_G = -\\log D(G(z))$", "](https://a.b/c)", "{glue:text}`fid:.1f`"]


def test_a_translation_may_title_cross_references_and_glue_chinese_words():
    english = "See {term}`discriminator` and the {doc}`glossary <../book/glossary>`; {glue:md}`furthest_case` lag."
    chinese = "参见{term}`判别器 <discriminator>`和{doc}`术语表 <../book/glossary>`；{glue:md}`furthest_case_zh`落后。"
    assert translations.markup_differs(english, chinese) == []
    assert translations.markup_differs(english, "参见{term}`判别器 <generator>`。") != []
