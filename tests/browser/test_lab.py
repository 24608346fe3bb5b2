"""The student edition as a student sees it: the installed JupyterLab serves an English and a
Chinese chapter on localhost, headless Chromium opens them, and the rendered page is checked.

Runs after the student edition exists (`make notebooks`, part of make test-book). JupyterLab
starts with a throw-away settings folder that turns off its windowed notebook (so that every
cell is rendered, not only those in view) and its news and update checks (offline).
"""

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from test_pages import browser  # noqa: F401  (the shared headless Chromium)

ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "_build" / "notebooks"
CHAPTER = "04_vae"
_spec = importlib.util.spec_from_file_location("student_edition", ROOT / "book" / "_ext" / "student_edition.py")
edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(edition)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    for language in edition.LANGUAGES:
        if not (STUDENT / language / f"{CHAPTER}.ipynb").is_file():
            pytest.fail(f"{STUDENT}/{language}/{CHAPTER}.ipynb missing: make notebooks first")
    home = tmp_path_factory.mktemp("lab")
    for language in edition.LANGUAGES:
        shutil.copytree(STUDENT / language, home / "work" / language)
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={home / 'work'}", f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=open(home / "lab.log", "w"), env={**os.environ, "JUPYTER_RUNTIME_DIR": str(home)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        pytest.fail("JupyterLab did not answer within 60 s")
    yield url
    server.terminate()
    server.wait(timeout=30)


def _rendered(browser, url, language):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/{language}/{CHAPTER}.ipynb?reset", wait_until="load")  # one notebook open
    page.wait_for_selector(".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown", timeout=60000)
    cells = len(nbformat.read(STUDENT / language / f"{CHAPTER}.ipynb", as_version=4).cells)
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= {cells}",
                           timeout=60000)
    page.wait_for_function("() => !document.querySelector('.jp-Notebook .jp-MarkdownCell:not(.jp-mod-rendered)')",
                           timeout=60000)
    text = page.locator(".jp-Notebook").inner_text()
    details = page.evaluate("() => Array.from(document.querySelectorAll('.jp-RenderedMarkdown details'))"
                            ".map(d => d.open)")
    math = page.locator(".jp-RenderedMarkdown mjx-container").count()
    page.close()
    return text, details, math


@pytest.mark.parametrize("language", edition.LANGUAGES)
def test_a_student_chapter_renders_in_jupyterlab(lab, browser, language):  # noqa: F811
    text, details, math = _rendered(browser, lab, language)
    for myst in ("{glue", "{term}", "{cite", "{doc}", "```{", ":class:"):
        assert myst not in text, f"{language}: JupyterLab shows {myst!r}"
    source = nbformat.read(ROOT / "notebooks" / f"{CHAPTER}.ipynb", as_version=4)
    glue = edition.glued(source)
    value = edition.format_plain_text(glue["vae_fid_mixture"]["text/plain"], ".1f")
    assert value in text, f"{language}: the glued FID {value} is not on the page"
    assert details and not any(details), f"{language}: solutions should be collapsed, got {details}"
    assert math > 0, f"{language}: no rendered math"
    chinese = len(re.findall(r"[\u4e00-\u9fff]", text))
    if language == "zh":
        assert chinese > 3000 and "变分自编码器" in text, f"only {chinese} Chinese characters rendered"
    else:
        assert chinese < 200 and "variational autoencoder" in text
