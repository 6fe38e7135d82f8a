# Two entry points: `make demo` and `make test`. Both set everything up first
# (a project venv in .venv with faastui installed in editable mode); nothing
# needs root or anything installed by hand. `make lint` runs ruff (installed on first use).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.lint-installed
# what `make lint` checks (and `make format` rewrites): every Python file of the project
LINT_PATHS := faastui backends bench tests functions

.PHONY: setup demo test lint format bench bytecode proto clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 'setuptools>=77'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# Byte-compile the project's own sources, as pip does for a wheel install (an editable
# install does not). Where PYTHONDONTWRITEBYTECODE=1 is set, as on this CI, Python
# otherwise compiles every faastui module on every start: ~100 ms of each `faastui`
# command and of the dashboard's first frame. A stale .pyc is never used (mtime check).
bytecode:
	$(BIN)/python -m compileall -q faastui backends functions bench

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/faastui demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The Ilúvatar gRPC messages and stubs, generated from the .proto beside them (the output is
# committed; tests/test_iluvatar_proto.py checks it matches what this regenerates).
PROTO := backends/iluvatar/rpc/iluvatar_rpc.proto
# Knative's queue-proxy Stat (messages only; tests/test_kube_queue_stat.py checks it likewise)
KUBE_PROTO := backends/kube/rpc/queue_stat.proto
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. --pyi_out=. $(PROTO)
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. $(KUBE_PROTO)

$(LINT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[lint]'
	touch $(LINT_STAMP)

# the rules are in pyproject.toml ([tool.ruff]); `make lint` changes nothing, `make format`
# rewrites the files the way `make lint` wants them (CI runs `make lint` after the tests)
lint: $(LINT_STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: $(LINT_STAMP)
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) build *.egg-info
