"""The book pages that describe code must not drift from it.

book/errata.md lists the flaws of the article's printed code. These tests check, without building
the book, that it cites only tests that exist in tests/test_article_code.py, that every entry of
`article.FLAWS` is on the page (under its own section, with both of its tests), that each printed
excerpt is copied line for line from `article.LISTINGS`, and that every corrected function it
names or includes exists. book/glossary.md and book/appendix_resources.md get light checks.
"""

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from prodgen_lessons import article

ROOT = Path(__file__).resolve().parents[1]
ERRATA = ROOT / "book" / "errata.md"
GLOSSARY = ROOT / "book" / "glossary.md"
APPENDIX = ROOT / "book" / "appendix_resources.md"
ARTICLE_TESTS = ROOT / "tests" / "test_article_code.py"


def _normalise(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def errata():
    return ERRATA.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def article_test_names():
    tree = ast.parse(ARTICLE_TESTS.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _section_label(section):
    return "errata-" + section.replace(".", "-")


def _sections(page):
    """{label: text up to the next label} for every MyST target `(errata-...)=` on the page."""
    parts = re.split(r"^\((errata-[\w-]+)\)=\s*$", page, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_cited_test_exists(errata, article_test_names):
    cited = set(re.findall(r"\btest_(?:printed|library)_\w+", errata))
    assert cited, "the errata page cites no tests"
    missing = sorted(cited - article_test_names)
    assert not missing, f"book/errata.md cites tests that tests/test_article_code.py lacks: {missing}"


def test_every_flaw_is_on_the_page_in_its_section(errata):
    sections = _sections(errata)
    for section, flaws in article.FLAWS.items():
        label = _section_label(section)
        assert label in sections, f"book/errata.md has no section ({label})= for listing {section}"
        block = _normalise(sections[label])
        for text, printed_test, library_test in flaws:
            assert _normalise(text) in block, f"flaw of {section} missing from its section: {text!r}"
            assert printed_test in block, f"{section}: {printed_test} not cited beside its flaw"
            if library_test is not None:
                assert library_test in block, f"{section}: {library_test} not cited beside its flaw"


def test_every_flaw_is_numbered_once(errata):
    numbers = [int(n) for n in re.findall(r"\*\*Flaw (\d+)\.\*\*", errata)]
    assert numbers == list(range(1, sum(len(f) for f in article.FLAWS.values()) + 1))


def test_printed_excerpts_are_copied_from_the_listings(errata):
    blocks = re.findall(r"```\{code-block\} python\n:caption: Article ([\w.]+), as printed[^\n]*\n(.*?)```",
                        errata, flags=re.S)
    assert {section for section, _ in blocks} == set(article.LISTINGS)
    for section, body in blocks:
        printed = set(article.LISTINGS[section].splitlines())
        for line in body.splitlines():
            if line.strip() and line != "# [...]":
                assert line in printed, f"excerpt of {section} has a line not in the listing: {line!r}"


def test_named_library_code_exists(errata):
    names = set(re.findall(r"`(prodgen_lessons(?:\.\w+)+)`", errata))
    assert len(names) >= 10
    for dotted in sorted(names):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # longest importable module prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                assert hasattr(obj, attr), f"book/errata.md names {dotted}, which does not exist"
                obj = getattr(obj, attr)
            break
        else:
            pytest.fail(f"book/errata.md names {dotted}, which cannot be imported")


def test_included_functions_exist(errata):
    includes = re.findall(r"```\{literalinclude\} (\S+)\n(?::[^\n]*\n)*?:pyobject: (\S+)", errata)
    assert includes
    for path, pyobject in includes:
        source = (ERRATA.parent / path).resolve()
        assert source.is_file(), f"literalinclude of a missing file: {path}"
        tree = ast.parse(source.read_text(encoding="utf-8"))
        scope = tree.body
        for part in pyobject.split("."):
            found = [n for n in scope if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part]
            assert found, f"{path} has no {pyobject}"
            scope = found[0].body


def test_glossary_terms_are_unique_and_defined():
    text = GLOSSARY.read_text(encoding="utf-8")
    body = re.search(r"```\{glossary\}\n(.*?)\n```", text, flags=re.S)
    assert body, "book/glossary.md has no {glossary} directive"
    lines = body.group(1).splitlines()
    terms = [line for line in lines if line.strip() and not line.startswith((" ", ":"))]
    definitions = [line for line in lines if line.startswith("  ") and line.strip()]
    assert len(definitions) >= 30, "fewer than 30 glossary entries"
    assert len(set(terms)) == len(terms), "a glossary term is listed twice"
    # every entry: term line(s), then exactly one indented one-line definition
    entries = [e for e in re.split(r"\n\s*\n", body.group(1)) if e.strip() and not e.startswith(":")]
    for entry in entries:
        rows = entry.splitlines()
        assert rows[-1].startswith("  ") and not any(r.startswith(" ") for r in rows[:-1]), entry


def test_appendix_keeps_the_chinese_headings():
    text = APPENDIX.read_text(encoding="utf-8")
    for heading in ("深度学习学习资源", "商品图像生成技术相关数据集", "深度学习框架与工具介绍",
                    "实际项目开发经验分享与交流平台"):
        assert heading in text


def _book_config():
    spec = importlib.util.spec_from_file_location("book_config", ROOT / ".ci" / "book_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("remote", ["https://github.com/acme/prodgen-lessons", "https://github.com/acme/prodgen-lessons.git",
                                    "git@github.com:acme/prodgen-lessons.git", "ssh://git@github.com/acme/prodgen-lessons/"])
def test_launch_buttons_take_any_spelling_of_a_github_remote(remote):
    assert _book_config().github_url(remote) == "https://github.com/acme/prodgen-lessons"


@pytest.mark.parametrize("remote", ["", "/work/main", "https://gitlab.com/acme/prodgen-lessons", "github.com/acme"])
def test_launch_buttons_refuse_what_colab_cannot_open(remote):
    with pytest.raises(ValueError, match="not a GitHub repository"):
        _book_config().github_url(remote)


def test_publish_config_is_the_book_config_plus_the_repository(tmp_path):
    import subprocess
    import sys

    import yaml

    out = tmp_path / "config.yml"
    subprocess.run([sys.executable, str(ROOT / ".ci" / "book_config.py"), "git@github.com:acme/pl.git", str(out)],
                   check=True, capture_output=True)
    published, ours = yaml.safe_load(out.read_text()), yaml.safe_load((ROOT / "_config.yml").read_text())
    assert published["repository"].pop("url") == "https://github.com/acme/pl"
    # the buttons open the student edition on the published branch
    assert published["repository"] == {**ours["repository"], "branch": "gh-pages", "path_to_book": "_sources"}
    published["repository"] = ours["repository"]
    launch = published.pop("launch_buttons")
    assert launch["colab_url"] and launch["binderhub_url"]
    # local extensions are found from the config file's folder: the published one names them absolutely
    extensions = published["sphinx"].pop("local_extensions")
    assert extensions == {k: str((ROOT / v).resolve()) for k, v in ours["sphinx"].pop("local_extensions").items()}
    assert published == {k: v for k, v in ours.items() if k != "launch_buttons"}
    # without a repository no buttons: Jupyter Book would aim them at its own repository
    assert not ours["launch_buttons"]["colab_url"] and not ours["launch_buttons"]["binderhub_url"]
    bad = subprocess.run([sys.executable, str(ROOT / ".ci" / "book_config.py"), "/tmp/x", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "not a GitHub repository" in bad.stderr
