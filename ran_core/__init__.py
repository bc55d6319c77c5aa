"""ran_core: Residual Attention Networks (Wang et al., CVPR 2017) for Keras 3, their data,
training recipe, Ray Tune sweeps and result analysis.

Names are imported lazily so that light users (analysis, reports) never import Keras.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the way

_EXPORTS = {
    "build_model": "ran_core.models",
    "list_models": "ran_core.architectures",
    "load_dataset": "ran_core.data",
    "noisy_labels": "ran_core.noise",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ran_core' has no attribute {name!r}")
