"""Model registry: Attention-N and the ResNet baselines, built from tables of depths.

Depth never appears in code; it arrives as data (`ran_core.model.architectures`). `build_model("attention92")`
looks up the modules per stage, `build_model("attention200")` derives them from N = 36m + 20, and
`build_model("attention", modules_per_stage=(1, 2, 3))` takes them as given.
"""

import keras
from keras import layers

from ran_core.model.architectures import (
    ATTENTION_TYPES,
    DEFAULT_MASK_POOLS,
    LEARNING_MODES,
    STAGE_FILTERS,
    STEM_FILTERS,
    AttentionSpec,
    ResNetSpec,
    canonical_choice,
    resolve_spec,
)
from ran_core.model.initial_weights import HeNormal
from ran_core.model.layers import AttentionModule, ResidualUnit


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
        scaled(STEM_FILTERS), 3, padding="same", use_bias=False, kernel_initializer=HeNormal(), name="stem_conv"
    )(inputs)
    for stage, filters in enumerate(stage_filters):
        filters, strides, prefix = scaled(filters), 1 if stage == 0 else 2, f"stage{stage + 1}"
        if isinstance(spec, ResNetSpec):
            x = _resnet_stage(x, spec.units_per_stage[stage], filters, strides, spec.bottleneck, bn_momentum, prefix)
        else:
            modules = [
                (mask_pools[stage], spec.p, spec.t, spec.r, attention_type, learning_mode)
            ] * spec.modules_per_stage[stage]
            x = _attention_stage(x, modules, filters, strides, bn_momentum, prefix)
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1e-5, name="head_bn")(x)
    x = layers.Activation("relu", name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, kernel_initializer=HeNormal(), name="logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=label)


def _resnet_stage(x, units, filters, strides, bottleneck, bn_momentum, prefix):
    """`units` residual units; the first changes the resolution and width."""
    for i in range(units):
        unit = ResidualUnit(
            filters,
            strides if i == 0 else 1,
            bottleneck=bottleneck,
            bn_momentum=bn_momentum,
            name=f"{prefix}_unit{i + 1}",
        )
        x = unit(x)
    return x


def _attention_stage(x, modules, filters, strides, bn_momentum, prefix):
    """A residual unit, the stage's attention modules (each given by its (mask poolings, p, t, r,
    attention type, learning mode)) and another residual unit, as in the paper's Table 2."""
    x = ResidualUnit(filters, strides, bn_momentum=bn_momentum, name=f"{prefix}_unit1")(x)
    for i, settings in enumerate(modules):
        x = AttentionModule(filters, *settings, bn_momentum, name=f"{prefix}_attention{i + 1}")(x)
    return ResidualUnit(filters, bn_momentum=bn_momentum, name=f"{prefix}_unit2")(x)


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
