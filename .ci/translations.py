"""The Chinese edition's message catalogs (Sphinx i18n): extract, check, and hand to translators.

    python .ci/translations.py conf [CONFIG]   write conf.py for sphinx-build (from _config.yml or CONFIG)
    python .ci/translations.py update          extract the English messages, merge them into
                                               book/locales/zh_CN/LC_MESSAGES/**.po
    python .ci/translations.py check [--min P] fail unless every catalog covers >= P % (98) of the
                                               current English messages and holds no fuzzy entry
    python .ci/translations.py export PO OUT [REGEX]
                                               untranslated or fuzzy messages of PO (and translated
                                               ones whose English matches REGEX) into OUT.json
                                               ({"0": english, ...}) and their present or old
                                               translations into OUT.fuzzy.json
    python .ci/translations.py import PO OUT ZH   write translations ZH.json ({"0": chinese, ...},
                                               numbered as in OUT.json) into PO

Each page has its own catalog (gettext_compact: false), so a changed English paragraph shows up
as a fuzzy or untranslated message of that page instead of drifting silently. The messages are
the MyST source of each paragraph: roles (glue, cite), math and links stay as they are in the
translation. `make book` builds the Chinese edition with `sphinx-build -D language=zh_CN` from the
conf.py that `conf` writes: Jupyter Book 1's own command line cannot set Sphinx's `language`
(jupyter-book#1791).
"""

import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = "zh_CN"
CATALOGS = ROOT / "book" / "locales" / LOCALE / "LC_MESSAGES"
BIN = Path(sys.executable).parent


def write_conf(config=None):
    """conf.py from the book's configuration, plus the path of its local extensions (book/_ext),
    which `jupyter-book config sphinx` leaves out."""
    subprocess.run([BIN / "jupyter-book", "config", "sphinx", str(ROOT)] + (["--config", config] if config else []),
                   check=True, capture_output=True)
    if config:  # jupyter-book writes it beside the configuration file
        (Path(config).resolve().parent / "conf.py").replace(ROOT / "conf.py")
    with open(ROOT / "conf.py", "a") as f:
        f.write('\nimport os, sys\nsys.path.insert(0, os.path.abspath("book/_ext"))\n')


def extract(out_dir):
    """The English messages as .pot files under out_dir (one per page)."""
    write_conf()
    subprocess.run([BIN / "sphinx-build", "-q", "-b", "gettext", "-d", str(Path(out_dir) / ".doctrees"),
                    str(ROOT), str(out_dir)], check=True)
    return sorted(Path(out_dir).rglob("*.pot"))


def _read(path, locale=None):
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


# What a translation must keep as it is: roles ({glue:text}`key`), inline code, math, link targets.
MARKUP = re.compile(r"``.+?``|\{[\w:-]+\}`[^`]*`|`[^`]+`|\$\$?[^$]+\$\$?|\]\([^)\s]+\)")


# A translation may give a cross-reference its own text ({term}`判别器 <discriminator>`) and glue
# a word's Chinese version ({glue:md}`furthest_case_zh` for {glue:md}`furthest_case`).
TITLED = re.compile(r"^\{(term|doc|ref|numref)\}`(?:[^`<]*<([^`>]+)>|([^`]*))`$")
GLUE_ZH = re.compile(r"^(\{glue:md\}`[\w-]+?)_zh(`)$")


def _markup(text):
    found = []
    for m in MARKUP.findall(text):
        titled = TITLED.match(m)
        if titled:
            m = f"{{{titled[1]}}}`{(titled[2] or titled[3]).strip()}`"
        found.append(GLUE_ZH.sub(r"\1\2", m))
    return collections.Counter(found)


def markup_differs(english, chinese):
    """The markup of `english` that `chinese` lost or changed (empty when they agree)."""
    return sorted(_markup(english) - _markup(chinese))


def coverage(pot_dir):
    """{page: (translated, total, missing English messages, fuzzy English messages)}."""
    report = {}
    for pot in sorted(Path(pot_dir).rglob("*.pot")):
        page = pot.relative_to(pot_dir).with_suffix("").as_posix()
        po_path = CATALOGS / f"{page}.po"
        po = _read(po_path, LOCALE) if po_path.is_file() else None
        missing, fuzzy, done, total = [], [], 0, 0
        for message in _read(pot):
            if not message.id:
                continue
            total += 1
            entry = po.get(message.id) if po else None
            if entry is None or not entry.string:
                missing.append(message.id)
            elif entry.fuzzy or markup_differs(message.id, entry.string):
                fuzzy.append(message.id)
            else:
                done += 1
        report[page] = (done, total, missing, fuzzy)
    return report


def check(min_percent=98.0):
    with tempfile.TemporaryDirectory() as tmp:
        extract(tmp)
        report = coverage(tmp)
    done = sum(r[0] for r in report.values())
    total = sum(r[1] for r in report.values())
    problems = []
    for page, (d, t, missing, fuzzy) in report.items():
        print(f"{page}: {d}/{t} translated" + (f", {len(fuzzy)} fuzzy" if fuzzy else ""))
        problems += [f"{page}: fuzzy (the English changed) or its markup differs: {m[:70]!r}" for m in fuzzy]
        if 100 * d / max(t, 1) < min_percent:
            problems += [f"{page}: untranslated: {m[:70]!r}" for m in missing]
    percent = 100 * done / max(total, 1)
    print(f"all pages: {done}/{total} = {percent:.1f} % (needed: {min_percent} % per page, no fuzzy)")
    for p in problems:
        print(p)
    return not problems


def update():
    with tempfile.TemporaryDirectory() as tmp:
        extract(tmp)
        subprocess.run([BIN / "sphinx-intl", "update", "-p", tmp, "-l", LOCALE, "-d", str(CATALOGS.parents[1]),
                        "--line-width", "-1"], check=True)


def _json(path, value):
    Path(path).write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n")


def export(po_path, out, pattern=None):
    po = _read(po_path, LOCALE)
    again = re.compile(pattern) if pattern else None
    todo = [m for m in po if m.id and (not m.string or m.fuzzy or markup_differs(m.id, m.string)
                                      or (again and again.search(m.id)))]
    _json(f"{out}.json", {str(i): m.id for i, m in enumerate(todo)})
    _json(f"{out}.fuzzy.json", {str(i): m.string for i, m in enumerate(todo) if m.string})
    print(f"{len(todo)} messages to translate in {out}.json")


def import_(po_path, out, zh_path):
    po = _read(po_path, LOCALE)
    english = json.loads(Path(f"{out}.json").read_text())
    translations = json.loads(Path(zh_path).read_text())
    problems = []
    for n, chinese in translations.items():
        message = po.get(english[n]) if n in english else None
        if message is None:
            problems.append(f"{n}: not a message of {out}.json that {po_path} holds")
        elif chinese.strip():
            message.string = chinese
            message.flags.discard("fuzzy")
            if markup_differs(message.id, chinese):
                problems.append(f"{n}: the translation lost or changed {markup_differs(message.id, chinese)}")
    with open(po_path, "wb") as f:
        write_po(f, po, width=-1, include_previous=True)
    print(f"{len(translations) - len(problems)} translations written into {po_path}")
    for p in problems:
        print(p)
    return not problems


def main(argv):
    if not argv or argv[0] not in {"conf", "update", "check", "export", "import"}:
        sys.exit(__doc__)
    if argv[0] == "conf":
        write_conf(argv[1] if len(argv) > 1 else None)
    elif argv[0] == "update":
        update()
    elif argv[0] == "check":
        minimum = float(argv[argv.index("--min") + 1]) if "--min" in argv else 98.0
        return 0 if check(minimum) else 1
    elif argv[0] == "export":
        export(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    else:
        return 0 if import_(argv[1], argv[2], argv[3]) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
