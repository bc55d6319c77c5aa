"""Residual Attention Networks and their ResNet baselines as Keras 3 models.

`architectures` is the registry (a table of depths, no Keras), `layers` the blocks and the
attention module, `builder` the one Attention-N / ResNet-N builder, `preprocess` the in-graph
mean subtraction and augmentation, `initial_weights` the seeded NumPy start. Names are exported
lazily: importing `ran_core.model.architectures` never imports Keras.
"""

from ran_core._lazy import lazy_exports

_EXPORTS = {"build_model": "ran_core.model.builder", "list_models": "ran_core.model.architectures"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
