"""Building blocks of Residual Attention Networks, written with `keras` and `keras.ops` only.

Each block is a small Keras layer, so a network of 1,400 convolutions is a functional
graph of a few dozen nodes (no recursion-limit trouble, a summary that reads like the
paper's figure) and works on every Keras 3 backend.
"""

import keras
from keras import layers, ops

from ran_core.model.architectures import ATTENTION_TYPES, LEARNING_MODES, canonical_choice
from ran_core.model.initial_weights import HeNormal

_INIT = HeNormal()  # paper: He initialisation (drawn with NumPy: ran_core.model.initial_weights)


def _batch_norm(momentum, name):
    # PyTorch/Caffe running-average momentum 0.1 == Keras momentum 0.9; Keras' 0.99 lags
    # badly when epochs are short (see README, "Batch normalisation").
    return layers.BatchNormalization(momentum=momentum, epsilon=1e-5, name=name)


@keras.saving.register_keras_serializable(package="ran_core")
class ResidualUnit(layers.Layer):
    """Pre-activation residual unit (He et al. 2016b).

    `bottleneck=True`: BN-ReLU-1x1 (filters/4), BN-ReLU-3x3 (filters/4), BN-ReLU-1x1 (filters).
    `bottleneck=False`: BN-ReLU-3x3, BN-ReLU-3x3 (the CIFAR basic block). The shortcut is the
    identity, or a strided 1x1 projection of the pre-activated input when the shape changes.
    """

    def __init__(self, filters, strides=1, bottleneck=True, bn_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)
        self.bottleneck, self.bn_momentum = bool(bottleneck), float(bn_momentum)
        if self.bottleneck:
            inner = max(1, self.filters // 4)
            plan = [(inner, 1, 1), (inner, 3, self.strides), (self.filters, 1, 1)]
        else:
            plan = [(self.filters, 3, self.strides), (self.filters, 3, 1)]
        self.norms = [_batch_norm(self.bn_momentum, f"bn{i + 1}") for i in range(len(plan))]
        self.convs = [
            layers.Conv2D(
                f, k, strides=s, padding="same", use_bias=False, kernel_initializer=_INIT, name=f"conv{i + 1}"
            )
            for i, (f, k, s) in enumerate(plan)
        ]
        self.projection = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters or self.strides != 1:
            self.projection = layers.Conv2D(
                self.filters, 1, strides=self.strides, use_bias=False, kernel_initializer=_INIT, name="projection"
            )
            self.projection.build(input_shape)
        shape = input_shape
        for norm, conv in zip(self.norms, self.convs):
            norm.build(shape)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def call(self, x, training=None):
        preact = ops.relu(self.norms[0](x, training=training))
        shortcut = x if self.projection is None else self.projection(preact)
        y = self.convs[0](preact)
        for norm, conv in zip(self.norms[1:], self.convs[1:]):
            y = conv(ops.relu(norm(y, training=training)))
        return y + shortcut

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for conv in self.convs:
            shape = conv.compute_output_shape(shape)
        return shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "bottleneck": self.bottleneck,
            "bn_momentum": self.bn_momentum,
        }


def _units(filters, count, bn_momentum, prefix):
    return [ResidualUnit(filters, bn_momentum=bn_momentum, name=f"{prefix}_{i + 1}") for i in range(count)]


@keras.saving.register_keras_serializable(package="ran_core")
class MaskActivation(layers.Layer):
    """The soft mask's activation f(x) for an attention type (paper, Sec. 3.3).

    mixed:   f1 = sigmoid(x_ic)
    channel: f2 = x_ic / ||x_i||, L2 norm across channels at each spatial position
    spatial: f3 = sigmoid((x_ic - mean_c) / std_c), mean and std of each channel's map
    Computed in float32 whatever the layer's compute dtype (bf16 norms are too coarse).
    """

    def __init__(self, attention_type="mixed", epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.attention_type = canonical_choice(attention_type, ATTENTION_TYPES, "attention_type")
        self.epsilon = float(epsilon)

    def call(self, x):
        x = ops.cast(x, "float32")
        if self.attention_type == "mixed":
            y = ops.sigmoid(x)
        elif self.attention_type == "channel":
            y = x * ops.rsqrt(ops.sum(ops.square(x), axis=-1, keepdims=True) + self.epsilon)
        else:
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            var = ops.var(x, axis=(1, 2), keepdims=True)
            y = ops.sigmoid((x - mean) * ops.rsqrt(var + self.epsilon))
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "attention_type": self.attention_type, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ran_core")
class AttentionMerge(layers.Layer):
    """Combines trunk T and mask M: ARL H = (1 + M) * T, NAL H = M * T (paper, Eq. 3 and 1)."""

    def __init__(self, learning_mode="arl", **kwargs):
        super().__init__(**kwargs)
        self.learning_mode = canonical_choice(learning_mode, LEARNING_MODES, "learning_mode")

    def call(self, inputs):
        trunk, mask = inputs
        return (1.0 + mask) * trunk if self.learning_mode == "arl" else mask * trunk

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "learning_mode": self.learning_mode}


@keras.saving.register_keras_serializable(package="ran_core")
class SoftMaskBranch(layers.Layer):
    """Encoder-decoder soft mask (paper, Sec. 3.3 and Fig. 3).

    Bottom-up: `pools` max-poolings (3x3, stride 2), each followed by r residual units (the
    paper's r, "units between adjacent pooling layers"). Top-down: one more unit at the bottom,
    then as many bilinear up-samplings back to the input size; at every intermediate size the
    bottom-up map, passed through one residual unit, is added and one unit follows. Then
    BN-ReLU-1x1, BN-ReLU-1x1 (both without bias, as in the authors' release) and the attention
    type's activation. With r = 1 this is the
    released Attention-92 mask; scaling only the bottom-up units with r gives Attention-452
    (r = 3) 8.75M parameters against the paper's 8.6M.
    """

    def __init__(self, filters, pools, r=1, attention_type="mixed", bn_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.pools, self.r = int(filters), int(pools), int(r)
        self.attention_type = canonical_choice(attention_type, ATTENTION_TYPES, "attention_type")
        self.bn_momentum = float(bn_momentum)

        self.pool = layers.MaxPooling2D(3, strides=2, padding="same", name="pool")
        self.down = [_units(self.filters, self.r, self.bn_momentum, f"down{level + 1}") for level in range(self.pools)]
        self.skips = [
            ResidualUnit(self.filters, bn_momentum=self.bn_momentum, name=f"skip{level + 1}")
            for level in range(self.pools - 1)
        ]
        self.bottom = ResidualUnit(self.filters, bn_momentum=self.bn_momentum, name="bottom")
        self.up = [
            ResidualUnit(self.filters, bn_momentum=self.bn_momentum, name=f"up{level + 1}")
            for level in range(self.pools - 1)
        ]
        self.head_norms = [_batch_norm(self.bn_momentum, f"head_bn{i + 1}") for i in range(2)]
        self.head_convs = [
            layers.Conv2D(self.filters, 1, use_bias=False, kernel_initializer=_INIT, name=f"head_conv{i + 1}")
            for i in range(2)
        ]
        self.activation = MaskActivation(self.attention_type, name="activation")

    def build(self, input_shape):
        shape = input_shape
        for level in range(self.pools):
            shape = self.pool.compute_output_shape(shape)
            for unit in self.down[level] + (self.skips[level : level + 1]):
                unit.build(shape)
        for unit in [self.bottom] + self.up:
            unit.build(shape)  # every unit is filters -> filters; spatial size does not change weights
        for norm, conv in zip(self.head_norms, self.head_convs):
            norm.build(input_shape)
            conv.build(input_shape)

    def call(self, x, training=None):
        sizes, skips = [], []
        y = x
        for level in range(self.pools):
            sizes.append(ops.shape(y)[1:3])
            y = self.pool(y)
            for unit in self.down[level]:
                y = unit(y, training=training)
            if level < self.pools - 1:
                skips.append(self.skips[level](y, training=training))
        y = self.bottom(y, training=training)
        for level in reversed(range(self.pools)):
            y = ops.image.resize(y, sizes[level], interpolation="bilinear")
            if level > 0:
                y = self.up[level - 1](y + skips[level - 1], training=training)
        for norm, conv in zip(self.head_norms, self.head_convs):
            y = conv(ops.relu(norm(y, training=training)))
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pools": self.pools,
            "r": self.r,
            "attention_type": self.attention_type,
            "bn_momentum": self.bn_momentum,
        }


@keras.saving.register_keras_serializable(package="ran_core")
class AttentionModule(layers.Layer):
    """Attention Module (paper, Fig. 2): p units, then a trunk of t units and a soft mask branch
    side by side, merged by the learning mode, then p units."""

    def __init__(
        self, filters, pools, p=1, t=2, r=1, attention_type="mixed", learning_mode="arl", bn_momentum=0.9, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters, self.pools = int(filters), int(pools)
        self.p, self.t, self.r = int(p), int(t), int(r)
        self.attention_type = canonical_choice(attention_type, ATTENTION_TYPES, "attention_type")
        self.learning_mode = canonical_choice(learning_mode, LEARNING_MODES, "learning_mode")
        self.bn_momentum = float(bn_momentum)

        self.pre = _units(self.filters, self.p, self.bn_momentum, "pre")
        self.trunk = _units(self.filters, self.t, self.bn_momentum, "trunk")
        self.mask = SoftMaskBranch(self.filters, self.pools, self.r, self.attention_type, self.bn_momentum, name="mask")
        self.merge = AttentionMerge(self.learning_mode, name="merge")
        self.post = _units(self.filters, self.p, self.bn_momentum, "post")

    def build(self, input_shape):
        inner_shape = tuple(input_shape[:-1]) + (self.filters,)
        for unit in self.pre + self.trunk + self.post:
            unit.build(input_shape if unit is self.pre[0] else inner_shape)
        self.mask.build(inner_shape)

    def call(self, x, training=None):
        for unit in self.pre:
            x = unit(x, training=training)
        trunk = x
        for unit in self.trunk:
            trunk = unit(trunk, training=training)
        x = self.merge([trunk, self.mask(x, training=training)])
        for unit in self.post:
            x = unit(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pools": self.pools,
            "p": self.p,
            "t": self.t,
            "r": self.r,
            "attention_type": self.attention_type,
            "learning_mode": self.learning_mode,
            "bn_momentum": self.bn_momentum,
        }
