# Two commands on a fresh machine: `make run` (the main job, embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install run test test-fast lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[jax,dev]"
	touch $@

install: $(VENV)/.installed

run: install  ## noise-robustness smoke study: local Ray, offline digits data, a few minutes on a laptop CPU
	$(PY) sweeps/noise_robustness.py

test: install  ## what CI runs: every test on TensorFlow, then the backend-sensitive ones (marked backend) on JAX
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q -m backend

test-fast: install  ## development tier, a few minutes: no end-to-end sweeps, training runs, notebook kernels or Ray clusters
	$(PY) -m pytest -q -m "not slow and not cluster"

lint: install  ## ruff rules and formatting (pyproject.toml [tool.ruff]); changes nothing
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
