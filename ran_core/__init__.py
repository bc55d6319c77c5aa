"""ran_core: Residual Attention Networks (Wang et al., CVPR 2017) for Keras 3, their data,
training recipe, Ray Tune sweeps and result analysis.

Layers, each importing only those listed before it (tests/test_architecture.py holds this):
`common` (names, keys, paper facts, atomic writes) -> `model`, `data` -> `training` ->
`results` -> `sweep`, `analysis`. Names are imported lazily so that light users (analysis,
reports) never import Keras.
"""

import os

from ran_core._lazy import lazy_exports

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the way

_EXPORTS = {
    "build_model": "ran_core.model.builder",
    "list_models": "ran_core.model.architectures",
    "load_dataset": "ran_core.data",
    "noisy_labels": "ran_core.data.noise",
    "TrainConfig": "ran_core.training.config",
    "train": "ran_core.training.loop",
    "load_results": "ran_core.results.loading",
    "Results": "ran_core.results.loading",
    "Study": "ran_core.sweep.space",
    "run_study": "ran_core.sweep.runner",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
