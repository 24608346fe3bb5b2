"""The student edition (book/_ext/student_edition.py): every chapter, in English and in Chinese,
reads in plain Jupyter markdown with the numbers the book shows, and the Chinese one is the catalog's."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("student_edition", ROOT / "book" / "_ext" / "student_edition.py")
edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(edition)

CHAPTERS = edition.chapters()
MYST = re.compile(r"\{[\w:-]+\}`|^\s*(```|~~~|:::)\s*\{|^:class:|^\(\S+\)=\s*$", re.M)
CJK = re.compile(r"[\u4e00-\u9fff]")
REPOSITORY = "https://github.com/acme/prodgen-lessons"


@pytest.fixture(scope="module", params=edition.LANGUAGES)
def editions(request):
    e = edition.Edition(request.param, book_url="https://acme.github.io/prodgen-lessons/", repository=REPOSITORY)
    return request.param, {p.stem: (nbformat.read(p, as_version=4), *e.notebook(p)) for p in CHAPTERS}


def _markdown(nb):
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_every_chapter_is_converted():
    assert [p.stem[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(1, len(CHAPTERS) + 1)]


def test_no_myst_is_left_and_every_glued_value_is_written_out(editions):
    language, books = editions
    for name, (source, student, _) in books.items():
        text = "\n".join(_markdown(student))
        assert not MYST.findall(text), f"{language}/{name}: MyST left: {MYST.findall(text)[:5]}"
        glue = edition.glued(source)
        shown = 0
        for key, spec in re.findall(r"\{glue:text\}`([\w-]+):?([^`]*)`", "\n".join(_markdown(source))):
            value = edition.format_plain_text(glue[key]["text/plain"], spec)
            assert value in text, f"{language}/{name}: glued {key} = {value} missing"
            shown += 1
        assert shown or name.startswith(("01", "02")), f"{name}: no glued number at all?"


def test_solutions_stay_collapsed_and_math_and_code_are_kept(editions):
    language, books = editions
    for name, (source, student, _) in books.items():
        dropdowns = sum(s.count(":class: dropdown") for s in _markdown(source))
        details = sum(s.count("<details>") for s in _markdown(student))
        assert details == dropdowns, f"{language}/{name}: {dropdowns} dropdowns, {details} <details>"
        original = [c for c in source.cells if c.cell_type == "code"]
        converted = [c for c in student.cells if c.cell_type == "code"][1:]  # after the setup cell
        assert [c.source for c in converted] == [c.source for c in original]
        assert [len(c.outputs) for c in converted] == [len(c.outputs) for c in original]
        for a, b in zip(_markdown(source), _markdown(student)):
            assert a.count("$$") == b.count("$$"), f"{language}/{name}: display math lost"


def test_the_chinese_edition_is_the_catalog_every_message(editions):
    language, books = editions
    if language != "zh":
        pytest.skip("the English edition is the source itself")
    for name, (source, student, messages) in books.items():
        math = {t.content.strip() for s in _markdown(source) for t in edition.MD.parse(s)
                if t.type in ("math_block", "math_block_label", "amsmath")}
        unused = {m for m in messages if m not in messages.used and m.strip() not in math}
        assert not unused, f"{name}: catalog messages the notebook does not use: {sorted(unused)[:3]}"
        for cell in _markdown(student):
            for heading in re.findall(r"^#+ (.*)$", cell, re.M):
                assert CJK.search(heading), f"{name}: heading {heading!r} is not Chinese"


def test_a_paragraph_without_translation_is_an_error(monkeypatch):
    page = CHAPTERS[1]
    first = next(c for c in nbformat.read(page, as_version=4).cells if c.cell_type == "markdown")
    title = first.source.split("\n")[0].lstrip("# ")
    real = edition.catalog

    monkeypatch.setattr(edition, "catalog", lambda p: {k: v for k, v in real(p).items() if k != title})
    with pytest.raises(edition.EditionError, match="no Chinese translation.*" + re.escape(title[:20])):
        edition.Edition("zh").notebook(page)


def test_chinese_outputs_print_the_chinese_twin_of_a_glued_sentence(editions):
    language, books = editions
    source, student, _ = books["06_cgan_case_studies"]
    glue = edition.glued(source)
    twins = [(k, edition._text(glue[k]), edition._text(glue[k + "_zh"])) for k in glue if k + "_zh" in glue
             and k.startswith("choice_")]   # 6.3's verdict sentences, printed by the cell that glues them
    assert twins, "chapter 6 glues its verdict words in both languages"
    printed = "".join(o.get("text", "") for c in student.cells if c.cell_type == "code" for o in c.outputs)
    for key, en, zh in twins:
        assert (zh if language == "zh" else en) in printed, f"{language}: {key} not printed as {zh!r}"


def test_setup_cell_installs_the_package_and_sets_the_language(editions, monkeypatch):
    language, books = editions
    _, student, _ = books["04_vae"]
    setup = next(c for c in student.cells if c.cell_type == "code").source
    assert f'"prodgen-lessons @ git+{REPOSITORY}@main"' in setup
    assert ('PRODGEN_LESSONS_LANGUAGE"] = "zh"' in setup) == (language == "zh")
    import prodgen_lessons

    monkeypatch.setenv(prodgen_lessons.LANGUAGE_VARIABLE, language)
    assert prodgen_lessons.language() == language


def test_links_go_to_the_published_book_in_the_same_language(editions):
    language, books = editions
    text = "\n".join(_markdown(books["04_vae"][1]))
    prefix = "zh/" if language == "zh" else ""
    assert f"(https://acme.github.io/prodgen-lessons/{prefix}book/glossary.html)" in text


def test_make_notebooks_writes_both_editions_and_lab_never_overwrites_a_students_copy(tmp_path):
    student, work = tmp_path / "student", tmp_path / "work"
    make = ["make", "-s", "-C", str(ROOT), f"STUDENT={student}", f"WORKSPACE={work}"]
    subprocess.run(make + ["notebooks"], check=True, capture_output=True)
    for language in edition.LANGUAGES:
        assert sorted(p.name for p in (student / language).glob("*.ipynb")) == [p.name for p in CHAPTERS]
    subprocess.run(make + ["workspace", "EDITION=zh"], check=True, capture_output=True)
    mine = work / "zh" / CHAPTERS[0].name
    nb = json.loads(mine.read_text())
    nb["cells"][0]["source"] = "# 我的笔记"
    mine.write_text(json.dumps(nb))
    again = subprocess.run(make + ["workspace", "EDITION=zh"], check=True, capture_output=True, text=True)
    assert json.loads(mine.read_text())["cells"][0]["source"] == "# 我的笔记"
    assert f"kept your {mine}" in again.stdout
