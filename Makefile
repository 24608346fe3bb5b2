# prodgen-lessons: `make book` builds the HTML book, `make test` runs every check.
# Both create .venv when missing, install the package and make the data available; both are
# safe to run again. Override the interpreter with `make PYTHON=/path/to/python3.11 ...`.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := _vendor
NBVAL  := -n 2 --dist loadfile --nbval-lax --nbval-current-env --nbval-sanitize-with .ci/nbval_sanitize.cfg
# The public GitHub repository that the Colab and Binder buttons open; by default the clone's origin.
REPOSITORY_URL ?= $(shell git remote get-url origin 2>/dev/null | grep github.com)
BOOK_CONFIG := _build/_config.publish.yml
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

STUDENT   := _build/notebooks
WORKSPACE := my_notebooks

.PHONY: translations help setup data browser vendor book notebooks workspace test test-unit test-notebooks test-book lab lab-zh pretrained benchmark benchmark-pipeline clean

help:
	@echo "make book        build the HTML book into _build/html, its Chinese edition into _build/html/zh"
	@echo "make translations  merge changed English into the Chinese catalogs (book/locales)"
	@echo "make test        unit tests, nbval over every notebook, book build with warnings as errors"
	@echo "make notebooks   the student edition, English and Chinese, into $(STUDENT)/en and $(STUDENT)/zh"
	@echo "make lab         JupyterLab on your copy of the English student edition ($(WORKSPACE)/en)"
	@echo "make lab-zh      JupyterLab on your copy of the Chinese student edition ($(WORKSPACE)/zh)"
	@echo "make pretrained  re-train every shipped model from its recipe (hours on 2 CPU cores)"
	@echo "make benchmark   time-to-quality benchmark (benchmarks/RESULTS.md)"
	@echo "make benchmark-pipeline   the folder pipeline's speed and memory (benchmarks/PIPELINE.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the package's metadata changed.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(STAMP)

# Full Fashion-MNIST if any source has it (Debian package, Keras cache, $$PRODGEN_DATA_DIR);
# as root on Debian/Ubuntu, install the package; else the bundled sample, with a warning.
data: setup
	@if ! $(BIN)/python -m prodgen_lessons.cli data info --require-full >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && apt-get install -y -q dataset-fashion-mnist; fi
	@$(BIN)/python -m prodgen_lessons.cli data info

# The browser test's Chromium and a CJK font: as root on Debian/Ubuntu, install them; otherwise
# stop before any test runs, with the one command that installs them.
BROWSER_PACKAGES := chromium chromium-driver fonts-wqy-zenhei
browser:
	@missing=$$(for p in $(BROWSER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else echo "The browser test needs: sudo apt-get install -y $$missing"; exit 1; fi; fi

# MathJax and the widgets' embed script, served by the book itself so that it works offline.
$(VENDOR)/.stamp:
	@command -v npm >/dev/null || { echo "npm is needed once to fetch MathJax and the widget embedder (apt-get install npm)"; exit 1; }
	npm install --prefix .venv/npm --no-audit --no-fund --silent mathjax@3.2.2 @jupyter-widgets/html-manager@1.0.6
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/mathjax
	cp -r .venv/npm/node_modules/mathjax/es5/. $(VENDOR)/mathjax/
	cd .venv/npm/node_modules/@jupyter-widgets/html-manager/dist && \
	  cp embed.js *.embed.js *.woff *.woff2 *.ttf *.eot *.svg $(CURDIR)/$(VENDOR)/
	touch $@

vendor: $(VENDOR)/.stamp

# The Chinese edition is built from the same sources with Sphinx's i18n (book/locales, see
# .ci/translations.py); Jupyter Book 1's command line cannot set Sphinx's language (jupyter-book#1791).
ZH_TITLE  := prodgen-lessons：用深度生成模型生成商品图像
ZH_SEARCH := 搜索本书……

# $(call build_book,URL): the book in English (_build/html) and Chinese (_build/html/zh), with
# launch buttons for repository URL when there is one.
define build_book
	@if [ -n "$(1)" ]; then $(BIN)/python .ci/book_config.py "$(1)" $(BOOK_CONFIG); else \
	  echo "No Colab/Binder buttons: no GitHub remote 'origin'; add them with" \
	       "make book REPOSITORY_URL=https://github.com/OWNER/prodgen-lessons"; fi
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going $(if $(1),--config $(BOOK_CONFIG))
	$(BIN)/python .ci/translations.py conf $(if $(1),$(BOOK_CONFIG))
	$(BIN)/sphinx-build -q -b html -W -n --keep-going -d _build/.doctrees-zh -D language=zh_CN \
	  -D html_title="$(ZH_TITLE)" -D html_theme_options.search_bar_text="$(ZH_SEARCH)" \
	  $(if $(1),-D html_theme_options.path_to_docs=zh/_sources) . _build/html/zh
endef

# The chapters as plain notebooks (glued numbers written out, no MyST), in English and Chinese.
notebooks: setup
	@$(BIN)/python book/_ext/student_edition.py $(STUDENT)

book: data vendor notebooks
	$(call build_book,$(REPOSITORY_URL))
	@echo "The book is in $(CURDIR)/_build/html: open $(CURDIR)/_build/html/index.html in a browser"
	@echo "(the Chinese edition: $(CURDIR)/_build/html/zh/index.html),"
	@echo "or serve it with: $(BIN)/python -m http.server -d _build/html 8000"

test-unit: data
	$(BIN)/python -m pytest -n 2 --dist loadfile tests --ignore=tests/browser

# The chapters, and one chapter of the Chinese student edition, re-executed against their outputs.
test-notebooks: data notebooks
	$(BIN)/python -m pytest $(NBVAL) notebooks $(STUDENT)/zh/02_deep_learning_basics.ipynb

test-book: data vendor browser notebooks
	rm -rf _build/html
	$(call build_book,$(or $(REPOSITORY_URL),https://github.com/example/prodgen-lessons))
	$(BIN)/python -m pytest tests/browser

test: browser test-unit test-notebooks test-book

# After an English paragraph changed: its message becomes fuzzy or new in book/locales/zh_CN;
# `python .ci/translations.py export|import` hand them to a translator (test_translations fails meanwhile).
translations: setup
	$(BIN)/python .ci/translations.py update
	$(BIN)/python .ci/translations.py check || true

# A student works in $(WORKSPACE)/en or /zh: a chapter is copied there once and never overwritten,
# so edits survive a later `make notebooks` or `make book`. Authors edit notebooks/ instead.
EDITION ?= en
workspace: notebooks
	@mkdir -p $(WORKSPACE)/$(EDITION)
	@for f in $(STUDENT)/$(EDITION)/*.ipynb; do t=$(WORKSPACE)/$(EDITION)/$$(basename $$f); \
	  if [ ! -e $$t ]; then cp $$f $$t; elif ! cmp -s $$f $$t; then \
	    echo "kept your $$t (a newer edition is in $$f)"; fi; done

lab: data
	@$(MAKE) --no-print-directory workspace EDITION=en
	$(BIN)/jupyter lab $(WORKSPACE)/en

lab-zh: data
	@$(MAKE) --no-print-directory workspace EDITION=zh
	$(BIN)/jupyter lab $(WORKSPACE)/zh

pretrained: data
	$(BIN)/python -m prodgen_lessons.pretrained --retrain-all

benchmark: data
	$(BIN)/python benchmarks/time_to_quality.py $(BENCHMARK_ARGS)

benchmark-pipeline: data
	$(BIN)/python benchmarks/data_pipeline.py

clean:
	rm -rf _build .pytest_cache $(VENDOR)
