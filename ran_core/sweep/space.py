"""The search space, declared once, and the studies that take slices of it.

SPACE lists every dimension a trial can vary, in the order Optuna suggests them, with its
allowed values (numeric ranges are `config.RANGES`, the one declaration TrainConfig enforces too)
and the condition under which it applies (a ResNet baseline has no attention type or learning
mode). A `Study` names which dimensions it sweeps exhaustively (`grid`, every cell times every
seed), which it searches (`search`, sampled by TPE) and which it fixes; all of them are checked
against SPACE and TrainConfig before anything runs.
"""

import dataclasses
import itertools
import math

from ran_core.common.names import DATASETS, is_attention, pretty_dataset
from ran_core.model.architectures import ATTENTION_TYPES, LEARNING_MODES, list_models
from ran_core.training.config import PRECISIONS, RANGES, Range, TrainConfig


@dataclasses.dataclass(frozen=True)
class Dim:
    """One dimension: categorical `choices`, or a numeric `allowed` range (config.RANGES)."""

    name: str
    choices: tuple = ()
    allowed: Range | None = None
    attention_only: bool = False

    def applies(self, config):
        return not self.attention_only or is_attention(config.get("model", ""))

    def check(self, value):
        """`value` if it lies in this dimension, else a ValueError naming what is allowed."""
        if self.allowed is not None:
            return self.allowed.check(self.name, value)
        if value not in self.choices:
            raise ValueError(f"{self.name} must be one of {list(self.choices)}. Received: {self.name}={value!r}")
        return value

    def suggest(self, trial, bounds):
        """Samples this dimension from an Optuna trial within `bounds`: a (low, high) tuple for a
        numeric range, or a list of values."""
        if self.allowed is None or not _is_range(bounds):
            return trial.suggest_categorical(self.name, list(bounds))
        low, high = bounds
        if self.allowed.integer:
            return trial.suggest_int(self.name, int(low), int(high), log=self.allowed.log)
        return trial.suggest_float(self.name, low, high, log=self.allowed.log)


def _is_range(bounds):
    return isinstance(bounds, tuple) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds)


SPACE = (
    Dim("dataset", choices=DATASETS),
    Dim("model", choices=tuple(list_models())),
    Dim("attention_type", choices=ATTENTION_TYPES, attention_only=True),
    Dim("learning_mode", choices=LEARNING_MODES, attention_only=True),
    *(
        Dim(name, allowed=RANGES[name])
        for name in ("noise_ratio", "width", "learning_rate", "weight_decay", "batch_size", "epochs")
    ),
    Dim("precision", choices=PRECISIONS),
)
DIMS = {dim.name: dim for dim in SPACE}
DEFAULT_EPOCHS = TrainConfig.epochs

# Each dataset's recipe: what a trial on it trains with unless its study or a flag fixes a value,
# so replacing a preset's dataset (--dataset) brings that dataset's recipe along. CIFAR (and the
# synthetic 32x32 set) train with the paper's: TrainConfig's defaults. Digits: batch 32 and later
# learning-rate drops suit 1,347 images and 10 epochs; no augmentation, as a mirrored digit is another
# digit and 4-pixel crops cut a 16x16 one.
RECIPE_FIELDS = ("batch_size", "learning_rate", "lr_drops", "augment")
PAPER_RECIPE = {name: getattr(TrainConfig, name) for name in RECIPE_FIELDS}
RECIPES = {
    "cifar10": PAPER_RECIPE,
    "cifar100": PAPER_RECIPE,
    "synthetic": PAPER_RECIPE,
    "digits": {"batch_size": 32, "learning_rate": 0.1, "lr_drops": (0.6, 0.85), "augment": False},
}

# The smoke presets: offline digits at 16x16, quarter width, 10 epochs that converge (clean test
# error 1-3% for Attention-56/-92 and ResNet-56, docs/choices.md), about a minute per trial on one
# CPU core, with the digits recipe.
SMOKE = {"dataset": "digits", "width": 0.25, "epochs": 10}


def recipe_for(dataset):
    """The recipe (RECIPE_FIELDS -> value) trials on `dataset` train with unless told otherwise; none
    for a name that is not a dataset (TrainConfig's check then says what is allowed)."""
    return dict(RECIPES.get(dataset, {}))


def describe_recipe(recipe):
    """'batch 32, lr 0.1 / 10 after 60% and 85% of the budget, no augmentation'."""
    lr, drops, augment = recipe["learning_rate"], recipe["lr_drops"], recipe["augment"]
    drops = drops if isinstance(drops, str) else " and ".join(f"{100 * d:g}%" for d in drops) + " of the budget"
    augment = augment if isinstance(augment, str) else "pad-crop-flip augmentation" if augment else "no augmentation"
    return f"batch {recipe['batch_size']}, lr {lr if isinstance(lr, str) else f'{lr:g}'} / 10 after {drops}, {augment}"


@dataclasses.dataclass
class Study:
    """A slice of SPACE. grid: name -> values (exhaustive); search: name -> (low, high) or
    values (TPE); fixed: any TrainConfig field -> value. Seeds multiply the grid."""

    name: str
    grid: dict = dataclasses.field(default_factory=dict)
    search: dict = dataclasses.field(default_factory=dict)
    fixed: dict = dataclasses.field(default_factory=dict)
    seeds: tuple = (0,)

    def __post_init__(self):
        for part in ("grid", "search"):
            for name, values in getattr(self, part).items():
                if name not in DIMS:
                    raise ValueError(
                        f"{self.name}: {part} dimension {name!r} is not in the search space {sorted(DIMS)}"
                    )
                if not isinstance(values, (list, tuple)) or not values:
                    raise ValueError(
                        f"{self.name}: {part}[{name!r}] must be a non-empty list (or a (low, high) "
                        f"tuple in search). Received: {values!r}"
                    )
                for value in values:
                    DIMS[name].check(value)
                allowed = DIMS[name].allowed
                if part == "search" and _is_range(values) and allowed is not None and allowed.log and values[0] <= 0:
                    raise ValueError(
                        f"{self.name}: search[{name!r}] is sampled on a log scale; its low end must be "
                        f"> 0. Received: {values!r}"
                    )
        models = self.grid.get("model", self.search.get("model", [self.fixed.get("model", "attention56")]))
        conditional = [d for d in SPACE if d.attention_only and d.name in self.grid]
        if conditional and not all(is_attention(m) for m in models):
            raise ValueError(
                f"{self.name}: grid dimension {conditional[0].name!r} does not apply to ResNet "
                f"baselines; fix it instead. Received: model={list(models)!r}"
            )
        clash = set(self.grid) & set(self.search) | (set(self.grid) | set(self.search)) & set(self.fixed)
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} declared twice (grid, search and fixed are exclusive)")
        if not self.seeds or not all(isinstance(s, int) and s >= 0 for s in self.seeds):
            raise ValueError(f"{self.name}: seeds must be non-negative integers. Received: {self.seeds!r}")
        for config in self.cells(seeds=self.seeds[:1]):  # every grid cell is a valid TrainConfig
            TrainConfig.from_dict(config)
        if not self.exhaustive and not self.validation_share:
            raise ValueError(
                f"{self.name}: a search chooses its best configuration, so it must choose on a validation "
                "split, never on the test set: fix validation_share in (0, 0.5] (sweeps/search.py holds out "
                f"10%). Received: validation_share={self.fixed.get('validation_share')!r}"
            )

    @property
    def exhaustive(self):
        return not self.search

    @property
    def validation_share(self):
        """The share of training images every trial holds out to select on (0: the paper's protocol)."""
        return self.fixed.get("validation_share", TrainConfig.validation_share)

    def grid_space(self):
        """The Optuna GridSampler space: every grid dimension, plus the seed."""
        return {**{name: list(values) for name, values in self.grid.items()}, "seed": list(self.seeds)}

    def max_epochs(self):
        """The longest epoch budget any trial can get (ASHA's max_t)."""
        budgets = self.grid.get("epochs") or self.search.get("epochs") or [self.fixed.get("epochs", DEFAULT_EPOCHS)]
        return int(max(budgets))

    def num_cells(self):
        return math.prod(len(v) for v in self.grid_space().values())

    def cells(self, seeds=None):
        """Every grid cell times every seed (or `seeds`) as a full config (searched dimensions left
        at their defaults)."""
        space = {**self.grid_space(), **({} if seeds is None else {"seed": list(seeds)})}
        for combo in itertools.product(*space.values()):
            config = {**self.fixed, **dict(zip(space, combo))}
            yield {**self._recipe(config), **config}

    def _recipe(self, config):
        """The recipe of the config's dataset, less what the study grids, searches or fixes."""
        recipe = recipe_for(config.get("dataset", TrainConfig.dataset))
        return {k: v for k, v in recipe.items() if k not in self.grid and k not in self.search and k not in self.fixed}

    def recipe_lines(self):
        """'recipe on digits 16x16: batch 32, ...', one line per dataset the study trains on."""
        return [f"recipe on {pretty_dataset(d)}: {describe_recipe(r)}" for d, r in self.recipes().items()]

    def recipes(self):
        """dataset -> the recipe its trials use (study's fixed values included), for the console."""
        datasets = self.grid.get("dataset") or self.search.get("dataset") or [self.fixed.get("dataset", "cifar10")]
        varied = {k: "searched" for k in self.search} | {k: "a grid dimension" for k in self.grid}
        chosen = {k: v for k, v in {**self.fixed, **varied}.items() if k in RECIPE_FIELDS}
        return {name: {**recipe_for(name), **chosen} for name in datasets}

    def define_by_run(self, trial):
        """Optuna define-by-run: suggests the grid and search dimensions in SPACE order (skipping
        those that do not apply, e.g. attention settings for ResNets) and returns the constants:
        the fixed values and the dataset's recipe for what nothing else sets."""
        config = dict(self.fixed)
        for dim in SPACE:
            if not dim.applies(config):
                continue
            if dim.name in self.grid:
                config[dim.name] = trial.suggest_categorical(dim.name, list(self.grid[dim.name]))
            elif dim.name in self.search:
                config[dim.name] = dim.suggest(trial, self.search[dim.name])
        trial.suggest_categorical("seed", list(self.seeds))
        return {**self._recipe(config), **self.fixed}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
