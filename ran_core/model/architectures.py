"""The Attention-N family and the ResNet baselines as data: a table of depths, the spec of any
`attentionN` (N = 36m + 20), and the settings that name an architecture.

Free of Keras, so that configs, sweeps and their drivers validate a model without importing a
backend (`ran_core.model.builder` builds from these tables).
"""

import dataclasses

from ran_core.common.names import is_attention, split_model_name

ATTENTION_TYPES = ("mixed", "channel", "spatial")
LEARNING_MODES = ("arl", "nal")


def canonical_choice(value, allowed, what):
    """Lower-cased `value` if it names one of `allowed`, else a ValueError echoing it."""
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise ValueError(f"Unknown {what}. Expected one of {list(allowed)}. Received: {what}={value!r}")


STEM_FILTERS = 16
# CIFAR widths of the paper's Table 6 parameter counts (ResNet-164 style): bottleneck outputs
# per stage, inner width a quarter of that.
STAGE_FILTERS = (64, 128, 256)
# Max-poolings of the soft mask branch per stage. Rule: pool down to 1/8 of the stage-1
# resolution, as the paper's ImageNet masks do (56 -> 7 with 3/2/1 poolings); on 32x32 CIFAR
# inputs the smallest mask map is 4x4 in every stage.
DEFAULT_MASK_POOLS = (3, 2, 1)


@dataclasses.dataclass(frozen=True)
class AttentionSpec:
    """Attention-N: m modules per stage, each with p/t/r units (paper, Sec. 4.1)."""

    modules_per_stage: tuple
    p: int = 1
    t: int = 2
    r: int = 1

    @property
    def depth(self):
        # Trunk weighted layers: 3 per unit, 2p + t trunk units per module, plus the stem, six
        # stage-boundary units and the classifier (20 layers).
        return 3 * (2 * self.p + self.t) * sum(self.modules_per_stage) + 20


@dataclasses.dataclass(frozen=True)
class ResNetSpec:
    """Pre-activation CIFAR ResNet: n units per stage, basic (6n + 2) or bottleneck (9n + 2)."""

    units_per_stage: tuple
    bottleneck: bool
    stage_filters: tuple

    @property
    def depth(self):
        return (3 if self.bottleneck else 2) * sum(self.units_per_stage) + 2


MODELS = {
    "attention56": AttentionSpec((1, 1, 1)),
    "attention92": AttentionSpec((2, 2, 2)),
    "attention128": AttentionSpec((3, 3, 3)),
    "attention164": AttentionSpec((4, 4, 4)),
    "attention236": AttentionSpec((6, 6, 6)),
    "attention452": AttentionSpec((6, 6, 6), p=2, t=4, r=3),
    "resnet56": ResNetSpec((9, 9, 9), bottleneck=False, stage_filters=(16, 32, 64)),
    "resnet164": ResNetSpec((18, 18, 18), bottleneck=True, stage_filters=STAGE_FILTERS),
}

# Paper, Table 6: parameters (millions) at paper widths, 10 classes.
PAPER_PARAMS_M = {"attention92": 1.9, "attention236": 5.1, "attention452": 8.6, "resnet164": 1.7}


def list_models():
    """Registered model names, Attention-N first, then the ResNet baselines."""
    return list(MODELS)


def resolve_spec(name, modules_per_stage=None):
    """The spec for a registered name, an `attentionN` with N = 36m + 20, or explicit modules."""
    key = name.lower() if isinstance(name, str) else name
    if modules_per_stage is not None:
        if not (isinstance(key, str) and is_attention(key)):
            raise ValueError(
                "modules_per_stage applies to Attention models only. "
                f"Received: name={name!r}, modules_per_stage={modules_per_stage!r}"
            )
        modules = tuple(modules_per_stage)
        if len(modules) != 3 or not all(isinstance(m, int) and m >= 1 for m in modules):
            raise ValueError(
                "modules_per_stage must be three integers >= 1, one per stage. "
                f"Received: modules_per_stage={modules_per_stage!r}"
            )
        base = MODELS.get(key, AttentionSpec((1, 1, 1)))
        return dataclasses.replace(base, modules_per_stage=modules)
    if key in MODELS:
        return MODELS[key]
    family, depth = split_model_name(key) if isinstance(key, str) else (None, None)
    if family == "attention":
        if depth < 56 or (depth - 20) % 36:
            raise ValueError(
                f"Attention depth must be of the form 36m + 20 with m >= 1 (56, 92, 128, "
                f"164, 200, 236, ...). Received: name={name!r} (depth {depth})"
            )
        m = (depth - 20) // 36
        return AttentionSpec((m, m, m))
    raise ValueError(
        f"Unknown model. Expected one of {list_models()} or 'attentionN' with N = 36m + 20. Received: name={name!r}"
    )
