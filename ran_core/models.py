"""Model registry: Attention-N and the ResNet baselines, built from tables of depths.

Depth never appears in code; it arrives as data. `build_model("attention92")` looks up the
modules per stage, `build_model("attention200")` derives them from N = 36m + 20, and
`build_model("attention", modules_per_stage=(1, 2, 3))` takes them as given.
"""

import dataclasses

import keras
from keras import layers

from ran_core.layers import ATTENTION_TYPES, LEARNING_MODES, AttentionModule, ResidualUnit, canonical_choice
from ran_core.model_names import is_attention, split_model_name

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


def build_model(
    name,
    num_classes=10,
    *,
    attention_type="mixed",
    learning_mode="arl",
    width=1.0,
    input_shape=(32, 32, 3),
    modules_per_stage=None,
    mask_pools=DEFAULT_MASK_POOLS,
    bn_momentum=0.9,
):
    """Builds a registered network as a Keras functional model (pre-activation, CIFAR layout).

    Attention-N: 3x3 stem (16 filters), three stages at full, 1/2 and 1/4 resolution, each a
    residual unit, m attention modules and another residual unit; then BN-ReLU, global average
    pooling and the classifier. `width` scales every channel count (1.0 = paper widths).
    ResNet baselines have no attention type or learning mode; those arguments are ignored.
    Inputs are images after mean subtraction; the output is float32 class logits (apply a softmax
    where probabilities are shown). Layers follow the global dtype policy (e.g. mixed_bfloat16);
    the classifier always computes in float32.
    """
    spec = resolve_spec(name, modules_per_stage)
    if isinstance(spec, AttentionSpec):  # a ResNet has neither setting: None (or anything) is ignored
        attention_type = canonical_choice(attention_type, ATTENTION_TYPES, "attention_type")
        learning_mode = canonical_choice(learning_mode, LEARNING_MODES, "learning_mode")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2. Received: num_classes={num_classes!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0 (1.0 = paper widths). Received: width={width!r}")
    input_shape = _check_input_shape(input_shape, spec, mask_pools)
    label = name.lower() if modules_per_stage is None else f"attention{spec.depth}"

    def scaled(filters):
        return max(1, int(round(filters * width)))

    stage_filters = spec.stage_filters if isinstance(spec, ResNetSpec) else STAGE_FILTERS
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(
        scaled(STEM_FILTERS), 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="stem_conv"
    )(inputs)
    for stage, filters in enumerate(stage_filters):
        filters, strides = scaled(filters), 1 if stage == 0 else 2
        prefix = f"stage{stage + 1}"
        if isinstance(spec, ResNetSpec):
            for i in range(spec.units_per_stage[stage]):
                x = ResidualUnit(
                    filters,
                    strides if i == 0 else 1,
                    bottleneck=spec.bottleneck,
                    bn_momentum=bn_momentum,
                    name=f"{prefix}_unit{i + 1}",
                )(x)
            continue
        x = ResidualUnit(filters, strides, bn_momentum=bn_momentum, name=f"{prefix}_unit1")(x)
        for i in range(spec.modules_per_stage[stage]):
            x = AttentionModule(
                filters,
                mask_pools[stage],
                spec.p,
                spec.t,
                spec.r,
                attention_type,
                learning_mode,
                bn_momentum,
                name=f"{prefix}_attention{i + 1}",
            )(x)
        x = ResidualUnit(filters, bn_momentum=bn_momentum, name=f"{prefix}_unit2")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1e-5, name="head_bn")(x)
    x = layers.Activation("relu", name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, kernel_initializer="he_normal", name="logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=label)


def _check_input_shape(input_shape, spec, mask_pools):
    """Validated (height, width, channels); an Attention net's masks need room to pool."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1 or shape != tuple(input_shape):
        raise ValueError(
            "input_shape must be three positive integers (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    if isinstance(spec, ResNetSpec):
        needed = 4  # two stride-2 stages
    else:
        pools = tuple(mask_pools) if mask_pools is not None else ()
        if len(pools) != 3 or not all(isinstance(p, int) and p >= 1 for p in pools):
            raise ValueError(
                "mask_pools must be three integers >= 1 (max-poolings of the soft mask "
                f"branch in each stage). Received: mask_pools={mask_pools!r}"
            )
        needed = max(2 ** (stage + p) for stage, p in enumerate(pools))
    if min(shape[:2]) < needed:
        raise ValueError(
            f"input_shape {shape} is too small: this network needs at least {needed}x{needed} "
            f"pixels so that its smallest feature or mask map is 1x1. "
            f"Received: input_shape={input_shape!r}, mask_pools={mask_pools!r}"
        )
    return shape
