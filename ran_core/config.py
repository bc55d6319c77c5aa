"""The flat, validated configuration of one training run (one sweep trial).

One declaration: the fields below are the CLI flags of `python -m ran_core.train`, the keys a
sweep trial receives and the config columns of every result row. RANGES declares every numeric
field's allowed values once: TrainConfig enforces them and the search space (`ran_core.space`)
samples within them. Unknown keys and values out of range are errors that echo what was received.
"""

import dataclasses
import math
import numbers

from ran_core.data import DATASETS
from ran_core.layers import ATTENTION_TYPES, LEARNING_MODES, canonical_choice
from ran_core.models import is_attention, resolve_spec

PRECISIONS = ("float32", "mixed_bfloat16")


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
        return (f"{kind} in {'(' if self.low_open else '['}{self.low}, {high}"
                f"{')' if self.high_open or self.high is None else ']'}")

    def check(self, name, value):
        """`value` if it lies in the range, else a ValueError naming what is allowed."""
        if not self.contains(value):
            raise ValueError(f"{name} must be {self.describe()}. Received: {name}={value!r}")
        return value


RANGES = {
    "width": Range(1 / 16, 4.0, log=True),  # channel multiplier, 1.0 = paper widths
    "noise_ratio": Range(0.0, 0.9),  # at 0.9 of 10 classes, a wrong label is as likely as the right one
    "learning_rate": Range(1e-3, 1.0, log=True),
    "weight_decay": Range(0.0, 1e-2, log=True),  # 0: no decay; a search samples a positive (low, high)
    "momentum": Range(0.0, 1.0, high_open=True),
    "bn_momentum": Range(0.0, 1.0, high_open=True),
    "epochs": Range(1, 1000, integer=True),
    "batch_size": Range(1, 4096, integer=True),
    "steps_per_execution": Range(1, integer=True),
    "seed": Range(0, integer=True),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Paper recipe by default (CIFAR): Nesterov SGD, momentum 0.9, weight decay 1e-4, batch 64,
    lr 0.1 divided by 10 at 40% and 60% of the budget; 205 epochs ~ the paper's 160k iterations."""

    model: str = "attention56"
    attention_type: str | None = "mixed"  # None for ResNet baselines
    learning_mode: str | None = "arl"  # None for ResNet baselines
    width: float = 1.0
    dataset: str = "cifar10"
    data_dir: str | None = None
    noise_ratio: float = 0.0
    epochs: int = 205
    batch_size: int = 64
    learning_rate: float = 0.1
    weight_decay: float = 1e-4
    momentum: float = 0.9
    lr_drops: tuple = (0.4, 0.6)  # fractions of the budget where the learning rate is divided by 10
    bn_momentum: float = 0.9
    augment: bool = True
    precision: str = "float32"
    seed: int = 0
    steps_per_execution: int = 1

    @classmethod
    def from_dict(cls, values):
        """A validated config from a mapping; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown config keys {unknown}. Allowed: {sorted(names)}. "
                             f"Received: {dict(values)!r}")
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
        else:  # ResNet baselines have neither; recorded as null.
            set_("attention_type", None)
            set_("learning_mode", None)
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

