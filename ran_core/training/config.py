"""The flat, validated configuration of one training run (one sweep trial).

One declaration: the fields below are the CLI flags of `python -m ran_core.training`, the keys a
sweep trial receives and the config columns of every result row (`ran_core.results.schema`
derives them). RANGES declares every numeric field's allowed values once: TrainConfig enforces
them and the search space (`ran_core.sweep.space`) samples within them. Unknown keys and values
out of range are errors that echo what was received.

Each field also declares, once, its role: RESULT fields change what a run computes (a checkpoint
resumes only under the same ones); RUNTIME fields say where the data lives or how it is fed.
`per_run` marks the values a compiled model takes at the start of a run without being rebuilt
(`ran_core.training.model_cache` keys its models by every other field).
"""

import dataclasses
import math
import numbers

from ran_core.common.names import DATASETS, is_attention
from ran_core.model.architectures import (
    ATTENTION_TYPES,
    DEFAULT_MASK_POOLS,
    LEARNING_MODES,
    canonical_choice,
    resolve_spec,
)

PRECISIONS = ("float32", "mixed_bfloat16")


RESULT, RUNTIME = "result", "runtime"


def _field(default, help_text, role=RESULT, per_run=False):
    """A config field with its CLI help text (argparse appends the default), its role and whether a
    compiled model takes it per run."""
    return dataclasses.field(default=default, metadata={"help": help_text, "role": role, "per_run": per_run})


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric field: [low, high] (an open end excludes the bound; high None is
    unbounded), integers only if `integer`; `log` says the search space samples it on a log scale."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    log: bool = False

    def contains(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self):
        kind = "an integer" if self.integer else "a number"
        high = "inf" if self.high is None else self.high
        return (
            f"{kind} in {'(' if self.low_open else '['}{self.low}, {high}"
            f"{')' if self.high_open or self.high is None else ']'}"
        )

    def check(self, name, value):
        """`value` if it lies in the range, else a ValueError naming what is allowed."""
        if not self.contains(value):
            raise ValueError(f"{name} must be {self.describe()}. Received: {name}={value!r}")
        return value


RANGES = {
    "width": Range(1 / 16, 4.0, log=True),  # channel multiplier, 1.0 = paper widths
    "noise_ratio": Range(0.0, 0.9),  # at 0.9 of 10 classes, a wrong label is as likely as the right one
    "learning_rate": Range(1e-3, 1e3, log=True),  # above 1 is rare but legal; a test diverges at 1e3
    "weight_decay": Range(0.0, 1e-2, log=True),  # 0: no decay; a search samples a positive (low, high)
    "momentum": Range(0.0, 1.0, high_open=True),
    "bn_momentum": Range(0.0, 1.0, high_open=True),
    "epochs": Range(1, 1000, integer=True),
    "batch_size": Range(1, 4096, integer=True),
    "steps_per_execution": Range(0, integer=True),  # 0: chosen for the device
    "seed": Range(0, integer=True),
    "validation_share": Range(0.0, 0.5),  # 0: no split (the paper's protocol)
    "split_seed": Range(0, integer=True),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Paper recipe by default (CIFAR): Nesterov SGD, momentum 0.9, weight decay 1e-4, batch 64,
    lr 0.1 divided by 10 at 40% and 60% of the budget; 205 epochs ~ the paper's 160k iterations."""

    model: str = _field(
        "attention56", "attention56 ... attention452, any attentionN (N = 36m + 20), resnet56, resnet164"
    )
    attention_type: str | None = _field("mixed", "mixed, channel or spatial (ignored, recorded as null, for ResNets)")
    learning_mode: str | None = _field("arl", "arl: (1 + M) * T, nal: M * T (ignored for ResNets)")
    width: float = _field(1.0, "channel multiplier, 1.0 = paper widths")
    dataset: str = _field("cifar10", "cifar10, cifar100, digits (bundled) or synthetic")
    data_dir: str | None = _field(
        None, "local CIFAR copy (folder or .tar.gz); none: Keras' cache/download", RUNTIME, per_run=True
    )
    noise_ratio: float = _field(0.0, "fraction of training labels corrupted (paper Eq. 7), in [0, 1)", per_run=True)
    validation_share: float = _field(
        0.0,
        "share of each class's training images held out, labels clean, to select on (0: every image trains, "
        "the paper's protocol)",
        per_run=True,
    )
    split_seed: int = _field(0, "seed of the validation split, shared by every trial of a study", per_run=True)
    epochs: int = _field(205, "epoch budget (205 ~ the paper's 160k iterations at batch 64 on CIFAR)", per_run=True)
    batch_size: int = _field(64, "training batch size")
    learning_rate: float = _field(0.1, "initial learning rate of Nesterov SGD", per_run=True)
    weight_decay: float = _field(1e-4, "L2 weight decay, added to the gradient as in Caffe/PyTorch", per_run=True)
    momentum: float = _field(0.9, "Nesterov momentum", per_run=True)
    lr_drops: tuple = _field(
        (0.4, 0.6), "fractions of the budget after which the learning rate is divided by 10", per_run=True
    )
    bn_momentum: float = _field(0.9, "batch-norm running-average momentum (Keras convention; PyTorch's 0.1)")
    augment: bool = _field(True, "pad-crop-flip augmentation in the training step")
    precision: str = _field("float32", "float32 or mixed_bfloat16")
    seed: int = _field(0, "seed of weights, label noise, shuffling and augmentation", per_run=True)
    steps_per_execution: int = _field(
        0,
        "training steps per compiled call; 0 = automatic (on an accelerator up to 32 steps per call, 1 on CPU)",
        RUNTIME,
    )
    mask_pools: tuple | None = _field(
        DEFAULT_MASK_POOLS, "max-poolings of the soft mask in stages 1, 2, 3 (ignored, recorded as null, for ResNets)"
    )

    @classmethod
    def from_dict(cls, values):
        """A validated config from a mapping; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown config keys {unknown}. Allowed: {sorted(names)}. Received: {dict(values)!r}")
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        resolve_spec(self.model)
        set_("model", self.model.lower())
        if is_attention(self.model):
            set_("attention_type", canonical_choice(self.attention_type, ATTENTION_TYPES, "attention_type"))
            set_("learning_mode", canonical_choice(self.learning_mode, LEARNING_MODES, "learning_mode"))
            pools = self.mask_pools
            if not (
                isinstance(pools, (tuple, list))
                and len(pools) == 3
                and all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 1 for p in pools)
            ):
                raise ValueError(
                    "mask_pools must be three integers >= 1 (max-poolings of the soft mask in each "
                    f"stage). Received: mask_pools={self.mask_pools!r}"
                )
            set_("mask_pools", tuple(int(p) for p in pools))
        else:  # ResNet baselines have none of these; recorded as null.
            set_("attention_type", None)
            set_("learning_mode", None)
            set_("mask_pools", None)
        set_("dataset", canonical_choice(self.dataset, DATASETS, "dataset"))
        set_("precision", canonical_choice(self.precision, PRECISIONS, "precision"))
        for name, allowed in RANGES.items():
            value = allowed.check(name, getattr(self, name))
            set_(name, int(value) if allowed.integer else float(value))
        drops = tuple(self.lr_drops)
        if not all(isinstance(d, numbers.Real) and 0 < d < 1 for d in drops) or list(drops) != sorted(drops):
            raise ValueError(f"lr_drops must be increasing fractions in (0, 1). Received: lr_drops={self.lr_drops!r}")
        set_("lr_drops", tuple(float(d) for d in drops))
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false. Received: augment={self.augment!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            set_("data_dir", str(self.data_dir))


def fields_where(**metadata):
    """Names of the TrainConfig fields whose metadata match, e.g. fields_where(role=RESULT)."""
    return tuple(
        f.name for f in dataclasses.fields(TrainConfig) if all(f.metadata[k] == v for k, v in metadata.items())
    )


RESULT_FIELDS = fields_where(role=RESULT)  # what a run computes: a checkpoint resumes only under the same
PER_RUN_FIELDS = fields_where(per_run=True)  # what a cached compiled model takes without a rebuild
