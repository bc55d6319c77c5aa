# Two commands on a fresh machine: `make run` (the main job, embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install run test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[jax,dev]"
	touch $@

install: $(VENV)/.installed

run: install  ## noise-robustness smoke study: local Ray, offline digits data, a few minutes on a laptop CPU
	$(PY) sweeps/noise_robustness.py

test: install  ## the whole suite on TensorFlow, then the backend-sensitive tests (models, training) on JAX
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q tests/test_models.py tests/test_train.py
