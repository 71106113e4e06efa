# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
CHROMIUM ?= /usr/bin/chromium

.PHONY: install demo test lab test-py test-js test-ui system-deps js bench clean

## install: Python venv at .venv with the package (editable) and test extras, the built frontend
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml package.json
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[test]"
	$(PY) -m mlpipe_jupyter.watch.build >/dev/null  # the read watcher (cc; without it: opaque steps)
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

## js: rebuild the frontend into labextension/
js: $(VENV)/.installed
	$(BIN)/jlpm install --immutable
	$(BIN)/jlpm build

## system-deps: Debian's chromium for the browser tests (root, apt-get)
system-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

## demo: install, then run the example pipeline on the embedded LocalCluster
demo: install
	cd notebooks && ../$(BIN)/mlpipe dag breast_cancer.ipynb --format text
	cd notebooks && ../$(BIN)/mlpipe run breast_cancer.ipynb --gpu-workers 1
	cd notebooks && ../$(BIN)/mlpipe run breast_cancer.ipynb --gpu-workers 1

## test: install and run every test (Python, JS unit, browser end to end)
test: install system-deps test-py test-js test-ui

# The corpus (real notebooks, CPU-bound) runs in a second pytest beside the rest, which mostly
# waits on kernels and clusters: the 2 cores are used together; its log is printed after.
test-py: install
	@$(BIN)/pytest -q -p no:cacheprovider tests/corpus > .corpus-tests.log 2>&1 & corpus=$$!; \
	$(BIN)/pytest -q -p no:cacheprovider tests --ignore=tests/ui --ignore=tests/corpus; rest=$$?; \
	wait $$corpus; status=$$?; echo "--- tests/corpus ---"; cat .corpus-tests.log; \
	rm -f .corpus-tests.log; test $$rest -eq 0 && test $$status -eq 0

test-js: install
	$(BIN)/jlpm install --immutable >/dev/null
	$(BIN)/jlpm test

test-ui: install system-deps
	$(BIN)/jlpm install --immutable >/dev/null
	test -f labextension/static/style.js || $(BIN)/jlpm build
	$(BIN)/pytest -q -p no:cacheprovider tests/ui

## lab: JupyterLab with the extension, on the example notebooks
lab: install
	$(BIN)/jupyter lab --allow-root --notebook-dir=notebooks \
	  $$(command -v nvidia-smi >/dev/null || echo --MlpipeService.gpu_workers=1)

bench: install
	$(PY) bench/bench_dag.py
	$(PY) bench/bench_run.py

clean:
	rm -rf $(VENV) node_modules lib labextension/static labextension/package.json .yarn/cache
