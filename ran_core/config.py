"""The flat, validated configuration of one training run (one sweep trial).

One declaration: the fields below are the CLI flags of `python -m ran_core.train`, the keys a
sweep trial receives and the config columns of every result row. Unknown keys and values out of
range are errors that echo what was received.
"""

import dataclasses
import math
import numbers

from ran_core.data import DATASETS
from ran_core.layers import ATTENTION_TYPES, LEARNING_MODES, canonical_choice
from ran_core.models import is_attention, resolve_spec

PRECISIONS = ("float32", "mixed_bfloat16")


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
        _number(self, "width", low=0, low_open=True)
        _number(self, "noise_ratio", low=0, high=1, high_open=True)
        _number(self, "learning_rate", low=0, low_open=True)
        _number(self, "weight_decay", low=0)
        _number(self, "momentum", low=0, high=1, high_open=True)
        _number(self, "bn_momentum", low=0, high=1, high_open=True)
        for name in ("epochs", "batch_size", "steps_per_execution"):
            _integer(self, name, low=1)
        _integer(self, "seed", low=0)
        drops = tuple(self.lr_drops)
        if not all(isinstance(d, numbers.Real) and 0 < d < 1 for d in drops) or list(drops) != sorted(drops):
            raise ValueError(f"lr_drops must be increasing fractions in (0, 1). Received: lr_drops={self.lr_drops!r}")
        set_("lr_drops", tuple(float(d) for d in drops))
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false. Received: augment={self.augment!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            set_("data_dir", str(self.data_dir))


def _number(config, name, low=None, high=None, low_open=False, high_open=False):
    value = getattr(config, name)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be a number in {interval}. Received: {name}={value!r}")
    object.__setattr__(config, name, float(value))


def _integer(config, name, low):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}. Received: {name}={value!r}")
    object.__setattr__(config, name, int(value))
