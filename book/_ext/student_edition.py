"""The student edition: every chapter as a notebook that plain JupyterLab, Colab, VS Code and
GitHub render, in English and in Chinese, generated from the chapter notebooks and the catalogs.

    python book/_ext/student_edition.py OUT [--repository URL] [--book-url URL]

writes OUT/en/NN_*.ipynb and OUT/zh/NN_*.ipynb. The chapters are written in MyST for the book;
outside it their roles and directives would show as source. Here every `{glue:text}` and
`{glue:md}` role becomes the value the executed cell glued, formatted as the role says;
`{term}`, `{cite}`, `{ref}`, `{numref}` become plain text and `{doc}` a link into the published
book; a dropdown becomes a collapsed <details> block and any other admonition a quotation.
Math, code and outputs are kept. The Chinese edition takes every paragraph, heading, list item
and table cell from the page's catalog (book/locales/zh_CN), the same messages the Chinese book
is built from, so the two cannot drift: a paragraph without a translation is an error.

As a Sphinx extension (book/_ext, `_config.yml`), it replaces the `.ipynb` that each page offers
for download with the student edition in the page's language, and writes `binder/` into the
built site so that Binder can start the published notebooks.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat
import yaml
from babel.messages.pofile import read_po
from markdown_it.renderer import RendererHTML
from myst_nb.core.variables import format_plain_text
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "book" / "locales" / "zh_CN" / "LC_MESSAGES"
LANGUAGES = ("en", "zh")
GLUE_PREFIX = "application/papermill.record/"
# The environment variable a notebook sets to make the package print its sentences in Chinese.
LANGUAGE_VARIABLE = "PRODGEN_LESSONS_LANGUAGE"

MD = create_md_parser(MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence", "deflist"}),
                      RendererHTML)
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$")  # {term}`text <target>`
DIRECTIVE = re.compile(r"^\{([\w-]+)\}\s*(.*)$")
WORDS = {  # what the generator itself writes, per language
    "en": {"solution": "Solution", "note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
           "and": " and ", "et_al": " et al.", "cite": "({})", "sep": "; ",
           "setup": "# Setup for Colab or Binder: install the course's package when this Python lacks it.\n"},
    "zh": {"solution": "参考答案", "note": "注意", "tip": "提示", "warning": "警告", "important": "重要",
           "and": " 和 ", "et_al": " 等", "cite": "（{}）", "sep": "；",
           "setup": "# 在 Colab 或 Binder 上：若当前 Python 没有本课程的软件包，先安装它。\n"},
}


class EditionError(ValueError):
    pass


def chapters():
    """The chapter notebooks in the table of contents' order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if f.startswith("notebooks/")]


def catalog(page):
    """{English message: Chinese} of a page's catalog, translated and not fuzzy."""
    with open(CATALOGS / f"{page}.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


def glued(nb):
    """{name: {mime type: value}} of everything the notebook's cells glued."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                found[name] = {k[len(GLUE_PREFIX):]: v for k, v in out["data"].items() if k.startswith(GLUE_PREFIX)}
    return found


def references():
    """{bibtex key: (author surnames, year)} of book/references.bib."""
    from pybtex.database import parse_file

    bib = parse_file(str(ROOT / "book" / "references.bib"))
    return {key: ([" ".join(p.last_names) for p in e.persons.get("author", [])], e.fields.get("year", ""))
            for key, e in bib.entries.items()}


class Edition:
    """One language's student edition of the course: `notebook(path)` converts one chapter."""

    def __init__(self, language, book_url=None, repository=None):
        if language not in LANGUAGES:
            raise EditionError(f"unknown language {language!r}; the editions are {', '.join(LANGUAGES)}")
        self.language, self.words = language, WORDS[language]
        self.book_url = book_url.rstrip("/") + "/" if book_url else None
        self.repository = repository
        self.bib = references()

    # --- roles -------------------------------------------------------------------------------
    def _cite(self, keys):
        w = self.words
        parts = []
        for key in keys.split(","):
            if key.strip() not in self.bib:
                raise EditionError(f"{{cite}} of {key.strip()!r}: not in book/references.bib")
            authors, year = self.bib[key.strip()]
            who = (authors[0] + w["et_al"] if len(authors) > 2 else w["and"].join(authors)) or key
            parts.append(f"{who}, {year}")
        return w["cite"].format(w["sep"].join(parts))

    def _page_url(self, target):
        """The published book's URL of a {doc} target written relative to notebooks/."""
        page = (Path("notebooks") / target).as_posix()
        while "/../" in page:
            page = re.sub(r"[^/]+/\.\./", "", page, count=1)
        return f"{self.book_url}{'zh/' if self.language == 'zh' else ''}{page}.html"

    def _role(self, match, glue):
        role, text = match[1], match[2]
        if role.startswith("glue"):
            key, _, spec = text.partition(":")
            if key not in glue:
                raise EditionError(f"{{{role}}}`{text}`: no cell glued {key!r}")
            data = glue[key]
            if role == "glue:md":
                return self.roles(data.get("text/markdown", data.get("text/plain", "")), glue)
            return format_plain_text(data.get("text/plain", ""), spec)
        if role.startswith("cite"):
            return self._cite(text)
        titled = TITLED.match(text)
        label, target = (titled[1], titled[2]) if titled else (text, text)
        if role == "doc" and self.book_url:
            return f"[{label}]({self._page_url(target)})"
        return label

    def roles(self, text, glue):
        return ROLE.sub(lambda m: self._role(m, glue), text)

    # --- markdown ----------------------------------------------------------------------------
    def markdown(self, text, glue, messages):
        """A markdown cell's source in plain Jupyter markdown, in this edition's language."""
        def say(content):
            message = content.replace("\n", " ").strip()
            if self.language == "zh":
                if message not in messages:
                    raise EditionError(f"no Chinese translation in the catalog for: {message[:90]!r}")
                messages.used.add(message)
                message = messages[message]
            return self.roles(message, glue)

        lines = text.split("\n")
        tokens = MD.parse(text)
        blocks = []  # (first line, end line, new lines), replaced bottom-up below
        row = None
        for i, tok in enumerate(tokens):
            if tok.type == "tr_open":
                row = [tok.map[0], 0]
            elif tok.type == "fence" and DIRECTIVE.match(tok.info):
                blocks.append((tok.map[0], tok.map[1], self._directive(tok, glue, messages)))
            elif tok.type == "inline" and tok.content.strip():
                parent = tokens[i - 1]
                if parent.type in ("th_open", "td_open"):  # a table cell: replaced inside its row
                    line = lines[row[0]]
                    at = line.index(tok.content, row[1])
                    new = say(tok.content)
                    lines[row[0]] = line[:at] + new + line[at + len(tok.content):]
                    row[1] = at + len(new)
                elif parent.map:
                    first, end = parent.map
                    prefix = lines[first][:lines[first].index(tok.content.split("\n")[0])]
                    blocks.append((first, end, [prefix + say(tok.content)]))
        for first, end, new in sorted(blocks, reverse=True):
            lines[first:end] = new
        return "\n".join(lines)

    def _directive(self, tok, glue, messages):
        name, title = DIRECTIVE.match(tok.info).groups()
        options = dict(re.findall(r"^:(\w+):\s*(.*)$", tok.content, re.M))
        body = re.sub(r"\A(?::\w+:.*\n)+", "", tok.content).strip("\n")
        body = self.markdown(body, glue, messages)
        if title:
            title = self.markdown(title, glue, messages)
        else:
            title = self.words.get(name, name.capitalize())
        if name == "dropdown" or "dropdown" in options.get("class", ""):
            return ["<details>", f"<summary>{title}</summary>", "", body, "", "</details>"]
        return [f"> **{title}**", ">"] + [f"> {line}".rstrip() for line in body.split("\n")]

    # --- notebook ----------------------------------------------------------------------------
    def _outputs(self, cell, glue):
        """In Chinese, a sentence a cell glued in both languages is printed in Chinese too."""
        if self.language != "zh":
            return
        twins = []
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and f"{name}_zh" in glue:
                en, zh = (_text(glue[n]) for n in (name, f"{name}_zh"))
                if en and zh:
                    twins.append((en, zh))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for en, zh in sorted(twins, key=lambda t: -len(t[0])):
                    out["text"] = out["text"].replace(en, zh)

    def _setup_cell(self):
        imports, lines = [], []
        if self.language == "zh":
            imports.append("import os")
            lines.append(f'os.environ["{LANGUAGE_VARIABLE}"] = "zh"  # 软件包打印的句子用中文')
        if self.repository:
            imports.insert(0, "import importlib.util")
            lines += ['if importlib.util.find_spec("prodgen_lessons") is None:',
                      f'    %pip install --quiet "prodgen-lessons @ git+{self.repository}@main"']
        if not lines:
            return None
        return nbformat.v4.new_code_cell(self.words["setup"] + "\n".join(imports + [""] + lines))

    def notebook(self, path):
        """The student edition of one chapter notebook (an nbformat notebook)."""
        path = Path(path)
        nb = nbformat.read(path, as_version=4)
        glue = glued(nb)
        messages = _Messages(catalog(f"notebooks/{path.stem}") if self.language == "zh" else {})
        student = copy.deepcopy(nb)
        for cell in student.cells:
            cell.pop("id", None)
            if cell.cell_type == "markdown":
                try:
                    cell.source = self.markdown(cell.source, glue, messages)
                except EditionError as e:
                    raise EditionError(f"{path.name}: {e}") from None
            elif cell.cell_type == "code":
                self._outputs(cell, glue)
        setup = self._setup_cell()
        if setup is not None:  # after the title, before the first code
            first_code = next(i for i, c in enumerate(student.cells) if c.cell_type == "code")
            student.cells.insert(first_code, setup)
        student.metadata["language"] = "zh-CN" if self.language == "zh" else "en"
        student.nbformat_minor = max(student.nbformat_minor, 5)
        for i, cell in enumerate(student.cells):  # fresh, unique ids
            cell["id"] = f"{path.stem[:2]}-{i:03d}"
        return student, messages


class _Messages(dict):
    """A page's catalog that remembers which messages a conversion used."""

    def __init__(self, *args):
        super().__init__(*args)
        self.used = set()


def _text(data):
    value = data.get("text/markdown") or data.get("text/plain") or ""
    try:
        value = ast.literal_eval(value) if "text/markdown" not in data else value
    except (SyntaxError, ValueError):
        pass
    return str(value).strip()


def write_editions(out_dir, languages=LANGUAGES, book_url=None, repository=None, notebooks=None):
    """Write out_dir/<language>/<chapter>.ipynb for every chapter; return the paths written."""
    written = []
    for language in languages:
        edition = Edition(language, book_url, repository)
        folder = Path(out_dir) / language
        folder.mkdir(parents=True, exist_ok=True)
        for path in notebooks or chapters():
            student, _ = edition.notebook(path)
            target = folder / Path(path).name
            nbformat.write(student, target)
            written.append(target)
    return written


def book_url_of(repository):
    """Where GitHub Pages publishes the book of a GitHub repository (https://OWNER.github.io/NAME/)."""
    m = re.match(r"^https://github\.com/([\w.-]+)/([\w.-]+?)/?$", repository or "")
    return f"https://{m[1].lower()}.github.io/{m[2]}/" if m else None


# --- Sphinx --------------------------------------------------------------------------------------
BINDER_REQUIREMENTS = "prodgen-lessons @ git+{repository}@main\n"


def _install(app, exception):
    """Each page's .ipynb download becomes its student edition in the page's language."""
    if exception or app.builder.name != "html":
        return
    theme = app.config.html_theme_options or {}
    repository = theme.get("repository_url") or None
    language = "zh" if str(app.config.language or "").startswith("zh") else "en"
    book_url = app.config.html_baseurl or book_url_of(repository)
    if language == "zh" and book_url:
        book_url = book_url.rstrip("/").removesuffix("/zh") + "/"
    edition = Edition(language, book_url, repository)
    sources = Path(app.outdir) / "_sources"
    for path in chapters():
        target = sources / "notebooks" / path.name
        if target.parent.is_dir():
            nbformat.write(edition.notebook(path)[0], target)
    if repository and language == "en":  # Binder builds its environment from the published branch
        binder = Path(app.outdir) / "binder"
        binder.mkdir(exist_ok=True)
        (binder / "requirements.txt").write_text(BINDER_REQUIREMENTS.format(repository=repository))
        (binder / "runtime.txt").write_text("python-3.11\n")


def setup(app):
    app.connect("build-finished", _install)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write <language>/NN_*.ipynb into")
    parser.add_argument("--repository", default=None, help="the public GitHub repository (for the setup cell)")
    parser.add_argument("--book-url", default=None, help="where the book is published (links); "
                        "default: the repository's GitHub Pages site")
    parser.add_argument("--language", choices=LANGUAGES, action="append", help="default: both")
    args = parser.parse_args(argv)
    try:
        written = write_editions(args.out, args.language or LANGUAGES,
                                 args.book_url or book_url_of(args.repository), args.repository)
    except EditionError as e:
        sys.exit(f"error: {e}")
    print(f"{len(written)} student notebooks in {args.out}/({'|'.join(args.language or LANGUAGES)})")


if __name__ == "__main__":
    main()
