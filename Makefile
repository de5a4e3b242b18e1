# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HUB_PROXY := $(VENV)/bin/configurable-http-proxy
KODISC_PLUGIN := manim-kodisc==1.1.5

.PHONY: demo test lint bench system-deps browser-deps clean

$(STAMP): pyproject.toml package.json yarn.lock $(wildcard src/*.ts style/*.css)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	rm -rf kodisc_jupyter/labextension  # the install's build hook rebuilds the player extension (node)
	$(PY) -m pip install -q -e '.[test]'
	# Kodisc's Manim plugin, for scenes written for Kodisc (PiChart, ...): without its dependencies, since its
	# wheel pins pillow<10 and Manim 0.22 needs pillow>=11; it runs on Manim's (docs/server.md, "Kodisc's plugin")
	# (it needs Python 3.11+; on 3.10 the rest still works and the pre-flight says how to get it)
	if $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	  $(PY) -m pip install -q --no-deps $(KODISC_PLUGIN) && $(PY) -c "import manim_kodisc"; \
	else echo "manim-kodisc needs Python 3.11+: not installed"; fi
	touch $(STAMP)

# tests/hub: JupyterHub's proxy comes from npm, into the venv (its bin/ is where the test looks for it)
$(HUB_PROXY): | $(STAMP)
	npm install --global --prefix $(VENV) --no-fund --no-audit --loglevel=error configurable-http-proxy@4

system-deps:
	bash scripts/system-deps.sh

browser-deps:
	bash scripts/system-deps.sh --browser

## make demo: execute notebooks/quickstart.ipynb on the embedded local server, write build/quickstart.html
demo: system-deps $(STAMP)
	$(PY) scripts/demo.py

## make lint: ruff, mypy and the import layering (import-linter contracts in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## make test: the static checks, then the whole suite (unit, real server, real Manim, real kernel, real browser,
## a real JupyterHub)
test: browser-deps lint $(HUB_PROXY)
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: every benchmark, each printing its own table
bench: system-deps $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
