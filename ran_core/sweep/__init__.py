"""Sweeps on Ray Tune: the search space, the flags, the Tuner (Optuna, ASHA), the trainable, the
recorder that writes every trial and epoch to Parquet, and the safety around them (pre-flight
checks, locks, interrupts, resume).

A study script is a page:

    study = Study("noise_robustness", grid={...}, fixed={...})
    sys.exit(run_study({"smoke": smoke_study, "paper": paper_study}, argv))
"""

from ran_core._lazy import lazy_exports

_EXPORTS = {"Study": "ran_core.sweep.space", "SMOKE": "ran_core.sweep.space", "run_study": "ran_core.sweep.runner"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
