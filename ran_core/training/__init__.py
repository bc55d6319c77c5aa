"""Training one configuration: the validated config, the paper's recipe, the compiled epoch engine,
the model cache, checkpoints and the epoch loop.

`python -m ran_core.training --help` lists the flags of one run. Names are exported lazily:
importing `ran_core.training.config` (the sweep driver does) never imports Keras.
"""

from ran_core._lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "ran_core.training.config",
    "TrainResult": "ran_core.training.loop",
    "train": "ran_core.training.loop",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
