# windowqa: `make demo` runs the main job, `make test` the whole suite. Both set up what is missing:
# Debian packages, the virtual environment at .venv/ and the model files.
VENV := .venv
PY := $(VENV)/bin/python
WINDOWQA := $(VENV)/bin/windowqa
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test bench clean-venv

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	$(WINDOWQA) models install
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(WINDOWQA) demo

test: setup
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) benchmarks/bench_matcher.py

clean-venv:
	rm -rf $(VENV)
