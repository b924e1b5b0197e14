# The two quick-start commands of the README:  make demo   and   make test
# Both create .venv (if missing) with this machine's python3 and install reslab into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install install-test system-packages

demo: install
	$(PY) -m reslab demo

test: install-test
	$(PY) -m pytest

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY) system-packages
	$(PY) -m pip install -q -e ".[test]"

# Debian packages the tests use (Fashion-MNIST files); skipped politely without apt/root.
system-packages:
	@./scripts/system-packages.sh
