# The two quick-start commands of the README:  make demo   and   make test
# Both create .venv (if missing) with this machine's python3 and install reslab into it, with
# the tested versions of constraints.txt. `make test-latest` tries the newest releases instead
# (in .venv-latest); `make constraints` rewrites constraints.txt from .venv after such a try.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LATEST := .venv-latest
CONSTRAINTS := constraints.txt

.PHONY: demo test install install-test system-packages test-latest constraints

demo: install
	$(PY) -m reslab demo

test: install-test
	$(PY) -m pytest

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q -e . -c $(CONSTRAINTS)

install-test: $(PY) system-packages
	$(PY) -m pip install -q -e ".[test]" -c $(CONSTRAINTS)

# The newest releases that requirements.txt and the test extras allow, in a venv of their own.
test-latest: system-packages
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m pytest

# After a green `make test-latest`: take its versions as the tested set (review the diff).
constraints:
	@echo "# Exact versions for make demo / make test / .ci/run (pip -c): pip freeze of a" > $(CONSTRAINTS)
	@echo "# venv where make test passed. Update deliberately: make test-latest, then make constraints." >> $(CONSTRAINTS)
	$(LATEST)/bin/python -m pip freeze --exclude-editable >> $(CONSTRAINTS)

# Debian packages the tests use (Fashion-MNIST files); skipped politely without apt/root.
system-packages:
	@./scripts/system-packages.sh
