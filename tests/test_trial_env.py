"""What a sweep passes to its trial processes: backend, JAX's persistent compile cache (on by
default, every program cached), memory sharing when trials split a GPU, and test fault hooks."""

from ran_core.sweep.config import SweepConfig
from ran_core.sweep.tuner import trial_env


def _args(**overrides):
    return SweepConfig(study=None, **{"backend": "jax", "gpus_per_trial": 0.0, **overrides})


def test_the_compile_cache_is_on_by_default_and_caches_every_program(monkeypatch, tmp_path):
    monkeypatch.delenv("RAN_COMPILE_CACHE", raising=False)
    env = trial_env(_args())
    assert env["KERAS_BACKEND"] == "jax"
    assert env["JAX_COMPILATION_CACHE_DIR"].endswith("ran_jax_cache")
    assert env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    monkeypatch.setenv("RAN_COMPILE_CACHE", str(tmp_path))
    assert trial_env(_args())["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)
    monkeypatch.setenv("RAN_COMPILE_CACHE", "")
    assert "JAX_COMPILATION_CACHE_DIR" not in trial_env(_args())


def test_trials_sharing_a_gpu_take_memory_as_needed_and_fault_hooks_travel(monkeypatch):
    monkeypatch.setenv("RAN_FAIL_TRIAL_IF", "model=attention92")
    shared = trial_env(_args(gpus_per_trial=0.5))
    assert shared["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert shared["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"
    assert shared["RAN_FAIL_TRIAL_IF"] == "model=attention92"
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in trial_env(_args(gpus_per_trial=1.0))
