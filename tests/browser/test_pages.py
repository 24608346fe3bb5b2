"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

Every page exists twice: in English at the root and in Chinese under zh/. Runs after
`make book` has built both (make test-book). Every request that would leave the machine is
blocked and recorded; a page fails on such a request, on math that MathJax did not render, on a
broken image, on a JavaScript error other than the known stock ones, or if it is missing.
Needs the Debian packages chromium (and chromium-driver) and Playwright from PyPI (no browser
download: it drives the system Chromium).
"""

import functools
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/lib/chromium/chromium")
SCREENSHOT = ROOT / "_build" / "screenshots" / "chapter.png"
# Known stock messages: sphinx-thebe declares its config twice; the theme's mode check.
KNOWN_JS_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared", "Got invalid theme mode")


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [edition + p + ".html" for edition in ("", "zh/") for p in pages]


def cjk_fonts():
    """The installed font families that have Chinese glyphs (fontconfig)."""
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",")}


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML}/index.html missing: build the book first (make book)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.mark.parametrize("page_path", toc_pages())
def test_page_renders_offline(server, browser, page_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside, errors = [], []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(f"{server}/{page_path}", wait_until="load")
    assert response is not None and response.status == 200, f"{page_path}: missing from the build"

    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container").count() > 0, f"{page_path}: math not rendered"
        assert page.locator("mjx-merror").count() == 0, f"{page_path}: MathJax reported an error"

    if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
        page.wait_for_selector(".jupyter-widgets", timeout=20000)  # saved widget state rendered

    broken = page.evaluate("""() => Array.from(document.images)
        .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
    assert not broken, f"{page_path}: broken images {broken}"
    page.wait_for_timeout(300)  # late console errors
    assert not outside, f"{page_path}: requests leaving the machine: {outside}"
    unexpected = [e for e in errors if not any(k in e for k in KNOWN_JS_ERRORS)]
    assert not unexpected, f"{page_path}: JavaScript errors: {unexpected}"

    _check_other_edition(page, page_path)
    if page_path.startswith("zh/"):
        _check_chinese(context, page, page_path)
    if "notebooks/" in page_path:
        _check_launch_buttons(page, page_path)
        if not SCREENSHOT.exists() and not page_path.startswith("zh/"):
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))  # the README's picture of a chapter page
    context.close()


def _check_other_edition(page, page_path):
    """The language link leads to the same page in the other edition, and that page exists."""
    other = page_path[3:] if page_path.startswith("zh/") else "zh/" + page_path
    href = page.locator("a.language-switch").get_attribute("href") or ""
    assert href.endswith("/" + other), f"{page_path}: the language link goes to {href!r}, not {other!r}"
    status = page.evaluate("async (u) => (await fetch(u)).status", href)
    assert status == 200, f"{page_path}: the other edition {href} answers {status}"


def _check_chinese(context, page, page_path):
    """A Chinese page says so, its title is Chinese, and the browser draws it with a CJK font."""
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN", f"{page_path}: lang is not zh-CN"
    heading = page.locator("article h1").first.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", heading), f"{page_path}: heading {heading!r} is not Chinese"
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "article h1"})["nodeId"]
    used = {f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            if f["glyphCount"] > 0}
    installed = cjk_fonts()
    assert used & installed, (f"{page_path}: the heading is drawn with {sorted(used)}, none of which has "
                              f"Chinese glyphs (installed CJK fonts: {sorted(installed) or 'none'})")


def _check_launch_buttons(page, page_path):
    """A notebook page offers its student edition, in the page's language, for download, and
    Colab and Binder open that same file where the built site is published: the gh-pages branch
    of the repository (make test-book builds with an example repository; `make book` with the
    publisher's), whose root is _build/html."""
    chinese = page_path.startswith("zh/")
    notebook = page_path.removeprefix("zh/").replace(".html", ".ipynb")
    published = ("zh/" if chinese else "") + "_sources/" + notebook
    assert (ROOT / notebook).is_file() and (HTML / published).is_file(), f"{page_path}: {published} missing"
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/github/")]
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/v2/gh/")]
    assert colab and colab[0].endswith(f"/blob/gh-pages/{published}"), f"{page_path}: Colab button {colab}"
    assert binder and binder[0].endswith(f"/gh-pages?urlpath=lab/tree/{published}"), f"{page_path}: Binder {binder}"
    repository = colab[0].split("/github/")[1].split("/blob/")[0]
    assert f"git+https://github.com/{repository}@main" in (HTML / "binder" / "requirements.txt").read_text()
    download = page.locator("a.btn-download-source-button").get_attribute("href") or ""
    assert download.endswith(notebook), f"{page_path}: download button {download!r}"
    served = page.evaluate("async (u) => { const r = await fetch(u); return [r.status, await r.text()]; }",
                           download)
    assert served[0] == 200, f"{page_path}: download {download} answers {served[0]}"
    student = json.loads(served[1])
    assert student["metadata"]["language"] == ("zh-CN" if chinese else "en"), f"{page_path}: wrong edition"
    markdown = "".join("".join(c["source"]) for c in student["cells"] if c["cell_type"] == "markdown")
    assert "{glue" not in markdown and "```{" not in markdown, f"{page_path}: the download is not the student edition"


def test_chinese_search_finds_a_chinese_phrase(server, browser):
    """灾难性遗忘 (catastrophic forgetting) is a phrase of chapter 6's Chinese page."""
    page = browser.new_page()
    page.goto(f"{server}/zh/search.html?q=灾难性遗忘", wait_until="load")
    page.wait_for_selector("#search-results p.search-summary", timeout=20000)
    found = page.evaluate("() => Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)")
    assert any("notebooks/06_cgan_case_studies.html" in h for h in found), f"search found {found}"
    page.goto(f"{server}/zh/search.html?q=量子纠缠", wait_until="load")
    page.wait_for_selector("#search-results p.search-summary", timeout=20000)
    assert page.locator("#search-results li").count() == 0
    page.close()
