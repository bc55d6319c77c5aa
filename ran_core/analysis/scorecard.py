"""Paper-claims scorecard: does each claim of the paper hold in these results?

Each claim the studies can speak to becomes one or more *effects*: a difference of test errors, in
percentage points, signed so that a positive value supports the claim (e.g. ResNet's error minus
Attention's at 70% label noise). For every effect the scorecard gives the measured value (means
over seeds), a 95% bootstrap interval and a verdict:

* held: the interval lies above zero;
* did not hold: the interval lies below zero;
* inconclusive: the interval contains zero.

The bootstrap resamples seeds within each cell (where a cell has several) and, within every
trial, its test images from the recorded test confusion matrix (class by class). Cells are
resampled independently, which ignores that two models see the same test images: the interval is
conservative for these paired comparisons. Beside each effect stands the paper's value for the
same comparison, or, when the paper has no such setting (smoke runs on digits), the paper's value
for its own networks on CIFAR, labelled as such.

Reads result rows through the public API of :mod:`ran_core.analysis` only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from ran_core import analysis
from ran_core.common import paper
from ran_core.common.names import PAPER_DATASET_NAMES, pretty_dataset
from ran_core.common.names import pretty_model_name as pretty_model
from ran_core.common.studies import STUDIES, study_info

__all__ = [
    "CLAIMS",
    "VERDICT_RULE",
    "Claim",
    "Effect",
    "describe_setting",
    "score_claims",
    "scorecard_markdown",
    "verdict",
]

VERDICT_RULE = (
    "An effect is a difference of test errors in percentage points, signed so that a positive "
    "value supports the claim. Verdict: **held** when its 95% bootstrap interval lies above 0, "
    "**did not hold** when it lies below 0, **inconclusive** when it contains 0. The interval "
    "resamples seeds within each cell and, within each trial, test images class by class from "
    "the recorded test confusion matrix; the cells of a comparison are resampled independently, "
    "so for these paired comparisons it errs on the wide side."
)
PAPER_DATASETS = tuple(PAPER_DATASET_NAMES)
NUM_BOOTSTRAP = 2000
_NONE = "-"  # attention settings of a ResNet cell


@dataclasses.dataclass(frozen=True)
class Effect:
    """sum(weight * test error of cell) over `terms`; a cell is (model, attention_type,
    learning_mode, noise_ratio) within one setting. `kind` names the effect within its claim."""

    kind: str
    label: str
    terms: tuple


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim of the paper, the study that tests it and how its effects are built from the cells
    of one setting (a DataFrame with model, family, depth, attention_type, learning_mode,
    noise_ratio)."""

    name: str
    study: str
    statement: str
    effects: Callable[[pd.DataFrame], list]
    varies_noise: bool = False


def _pct(ratio):
    return f"{100 * ratio:g}%"


def _key(row):
    return (row["model"], row["attention_type"], row["learning_mode"], round(float(row["noise_ratio"]), 3))


def _variants(cells, family):
    """Distinct (model, attention_type, learning_mode) of one family, shallow to deep."""
    sel = cells[cells["family"] == family].sort_values(["depth", "model", "attention_type", "learning_mode"])
    return list(dict.fromkeys(zip(sel["model"], sel["attention_type"], sel["learning_mode"])))


def _has(cells, variant, noise):
    keys = set(map(_key, cells.to_dict("records")))
    return (*variant, round(noise, 3)) in keys


def _name(variant):
    """Attention-56, or Attention-56 (spatial, NAL) where the attention settings are not the default."""
    model, attention_type, learning_mode = variant
    extras = [
        v for v, default in ((attention_type, "mixed"), (learning_mode.upper(), "ARL")) if v not in (_NONE, default)
    ]
    return f"{pretty_model(model)} ({', '.join(extras)})" if extras else pretty_model(model)


def _noise_effects(cells):
    out = []
    for att in _variants(cells, "attention"):
        for res in _variants(cells, "resnet"):
            levels = sorted(
                n for n in set(cells["noise_ratio"].round(3)) if _has(cells, att, n) and _has(cells, res, n)
            )
            if not levels or levels[-1] == 0:
                continue
            noisy, top = [n for n in levels if n > 0], levels[-1]
            pair = f"{_name(res)} - {_name(att)}"
            where = f"at {_pct(top)}" if len(noisy) == 1 else f"mean over {_pct(noisy[0])}-{_pct(top)}"
            out.append(
                Effect(
                    "gap_under_noise",
                    f"{pair}, {where} noise",
                    tuple(t for n in noisy for t in ((1 / len(noisy), (*res, n)), (-1 / len(noisy), (*att, n)))),
                )
            )
            gap = ((1, (*res, top)), (-1, (*att, top)))
            if levels[0] == 0:
                clean = ((-1, (*res, 0.0)), (1, (*att, 0.0)))
                out.append(Effect("gap_widens", f"({pair}) at {_pct(top)} minus at 0% noise", gap + clean))
    return out


def _learning_mode_effects(cells):
    by_depth = {}
    for model, attention_type, mode in _variants(cells, "attention"):
        by_depth.setdefault((model, attention_type), {})[mode] = (model, attention_type, mode)
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    pairs = [(m, d["arl"], d["nal"]) for (m, _), d in by_depth.items() if {"arl", "nal"} <= set(d)]
    if not pairs:
        return []
    out = [
        Effect(
            "nal_minus_arl",
            "NAL - ARL, mean over " + ", ".join(pretty_model(m) for m, _, _ in pairs),
            tuple(
                t for _, arl, nal in pairs for t in ((1 / len(pairs), (*nal, noise)), (-1 / len(pairs), (*arl, noise)))
            ),
        )
    ]
    if len(pairs) > 1:
        (shallow, arl_s, nal_s), (deep, arl_d, nal_d) = pairs[0], pairs[-1]
        out.append(
            Effect(
                "gap_grows_with_depth",
                f"(NAL - ARL) at {pretty_model(deep)} minus at {pretty_model(shallow)}",
                ((1, (*nal_d, noise)), (-1, (*arl_d, noise)), (-1, (*nal_s, noise)), (1, (*arl_s, noise))),
            )
        )
    return out


def _attention_type_effects(cells):
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    variants = _variants(cells, "attention")
    out = []
    for model, mode in dict.fromkeys((m, lm) for m, _, lm in variants):
        if (model, "mixed", mode) not in variants:
            continue
        for other in ("channel", "spatial"):
            if (model, other, mode) in variants:
                out.append(
                    Effect(
                        f"{other}_minus_mixed",
                        f"{other} - mixed ({pretty_model(model)})",
                        ((1, (model, other, mode, noise)), (-1, (model, "mixed", mode, noise))),
                    )
                )
    return out


def _depth_effects(cells):
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    variants = _variants(cells, "attention")
    out = []
    for attention_type, mode in dict.fromkeys((at, lm) for _, at, lm in variants):
        chain = [v for v in variants if v[1:] == (attention_type, mode)]
        if len({v[0] for v in chain}) < 2:
            continue
        shallow, deep = chain[0], chain[-1]
        out.append(
            Effect(
                "shallow_minus_deep",
                f"{_name(shallow)} - {_name(deep)}",
                ((1, (*shallow, noise)), (-1, (*deep, noise))),
            )
        )
    return out


def _claims():
    """One Claim per study that declares one (ran_core.common.studies), in the table's order."""
    return tuple(
        Claim(info.claim.name, info.name, info.claim.statement, _EFFECTS[info.claim.effects], info.claim.varies_noise)
        for info in STUDIES.values()
        if info.claim is not None
    )


_EFFECTS = {
    "noise_effects": _noise_effects,
    "learning_mode_effects": _learning_mode_effects,
    "attention_type_effects": _attention_type_effects,
    "depth_effects": _depth_effects,
}
CLAIMS = _claims()


# --------------------------------------------------------------------------- measured cells


def _cells_frame(rows):
    """Rows with hashable cell keys: attention settings of other families become _NONE."""
    rows = rows.copy()
    attention = rows["family"] == "attention"
    for column in ("attention_type", "learning_mode"):
        rows[column] = rows[column].astype(object).where(attention & rows[column].notna(), _NONE)
    rows["depth"] = rows["depth"].astype(float)
    rows["noise_ratio"] = rows["noise_ratio"].astype(float).round(3)
    return rows


def _completed(results, study):
    """Completed trials of `study` (an analysis.Results from load_results) with a final error."""
    t = results.study(study).trials
    return _cells_frame(t[(t["status"] == "completed") & t["final_test_error"].notna()])


def _settings(trials, claim):
    keys = ["dataset", "width", "epochs"] + ([] if claim.varies_noise else ["noise_ratio"])
    for key, group in trials.groupby(keys, sort=True, dropna=False):
        yield dict(zip(keys, key if isinstance(key, tuple) else (key,))), group


def describe_setting(setting):
    """'digits 16x16, width 0.25, 10 epochs (smoke)' or 'CIFAR-10, paper width, 205 epochs'."""
    dataset = str(setting["dataset"])
    parts = [pretty_dataset(dataset)]
    width = float(setting["width"])
    parts.append("paper width" if width == 1.0 else f"width {width:g}")
    parts.append(f"{int(setting['epochs'])} epochs")
    noise = setting.get("noise_ratio")
    if noise is not None and noise > 0:
        parts.append(f"{_pct(noise)} label noise")
    smoke = dataset not in PAPER_DATASETS or width != 1.0
    return ", ".join(parts) + (" (smoke)" if smoke else "")


def _trial_replicates(trial, rng, n):
    """n bootstrap replicates of one trial's test error, resampling its test images by class."""
    confusion = analysis.confusion_matrix(trial)
    if confusion is None:
        return np.full(n, float(trial["final_test_error"])), False
    per_class = confusion.sum(axis=1)
    wrong = per_class - np.diag(confusion)
    rate = np.divide(wrong, per_class, out=np.zeros(len(wrong)), where=per_class > 0)
    return rng.binomial(per_class, rate, size=(n, len(rate))).sum(axis=1) / per_class.sum(), True


def _measure(effect, trials, rng, n):
    """(value, low, high, fewest seeds per cell, all trials had a confusion matrix) or None."""
    value, replicates, seeds, exact = 0.0, np.zeros(n), [], True
    for weight, key in effect.terms:
        cell = trials[[_key(r) == key for r in trials.to_dict("records")]]
        if cell.empty:
            return None
        per_trial = []
        for _, trial in cell.iterrows():
            reps, had_confusion = _trial_replicates(trial, rng, n)
            per_trial.append(reps)
            exact &= had_confusion
        per_trial = np.stack(per_trial)  # [trials, n]
        pick = rng.integers(0, len(cell), size=(n, len(cell)))  # seeds drawn with replacement
        replicates += weight * per_trial[pick, np.arange(n)[:, None]].mean(axis=1)
        value += weight * cell["final_test_error"].astype(float).mean()
        seeds.append(len(cell))
    low, high = np.percentile(replicates, [2.5, 97.5])
    return value, low, high, min(seeds), exact


def verdict(low, high):
    """held / did not hold / inconclusive from a 95% interval of an effect (see VERDICT_RULE)."""
    if low > 0:
        return "held"
    if high < 0:
        return "did not hold"
    return "inconclusive"


# --------------------------------------------------------------------------- the paper's side


def _paper_cells(study, dataset):
    ref = paper.reference_for(study_info(study).paper_tables)
    return _cells_frame(ref[ref["dataset"] == dataset])


def _paper_value(effect, cells):
    errors = {_key(r): r["test_error"] for r in cells.to_dict("records")}
    if not all(key in errors for _, key in effect.terms):
        return None
    return sum(weight * errors[key] for weight, key in effect.terms)


def _paper_side(claim, effect, dataset):
    """(paper value, what it compares): the same comparison on `dataset` (or CIFAR-10 for other
    data) when the paper has it, else the paper's own comparison of this kind."""
    home = dataset if dataset in PAPER_DATASETS else "cifar10"
    where = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
    same = _paper_value(effect, _paper_cells(claim.study, home))
    if same is not None:
        return same, f"same models, {where[home]}"
    for candidate in dict.fromkeys((home, *PAPER_DATASETS)):
        cells = _paper_cells(claim.study, candidate)
        noise_levels = [None] if claim.varies_noise else sorted(cells["noise_ratio"].unique())
        for noise in noise_levels:
            sub = cells if noise is None else cells[cells["noise_ratio"] == noise]
            for own in claim.effects(sub):
                if own.kind == effect.kind:
                    return _paper_value(own, sub), f"{own.label}, {where[candidate]}"
    return None, "no paper value"


# --------------------------------------------------------------------------- the scorecard


def score_claims(results, *, num_bootstrap=NUM_BOOTSTRAP, seed=0):
    """One row per (claim, setting, effect) the results can speak to; errors in percentage points.

    Columns: claim, statement, study, setting, comparison, effect_pp, low_pp, high_pp, seeds
    (fewest completed seeds in a cell), uncertainty, verdict, paper_pp, paper_comparison.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for claim in CLAIMS:
        trials = _completed(results, claim.study)
        if trials.empty:
            continue
        for setting, group in _settings(trials, claim):
            for effect in claim.effects(group):
                measured = _measure(effect, group, rng, num_bootstrap)
                if measured is None:
                    continue
                value, low, high, seeds, exact = measured
                paper_value, paper_comparison = _paper_side(claim, effect, setting["dataset"])
                sources = ("seeds and " if seeds > 1 else "") + "test images"
                rows.append(
                    {
                        "claim": claim.name,
                        "statement": claim.statement,
                        "study": claim.study,
                        "setting": describe_setting(setting),
                        "comparison": effect.label,
                        "effect_pp": 100 * value,
                        "low_pp": 100 * low,
                        "high_pp": 100 * high,
                        "seeds": seeds,
                        "uncertainty": sources if exact else sources + " (some trials lack a confusion matrix)",
                        "verdict": verdict(low, high),
                        "paper_pp": None if paper_value is None else 100 * paper_value,
                        "paper_comparison": paper_comparison,
                    }
                )
    columns = [
        "claim",
        "statement",
        "study",
        "setting",
        "comparison",
        "effect_pp",
        "low_pp",
        "high_pp",
        "seeds",
        "uncertainty",
        "verdict",
        "paper_pp",
        "paper_comparison",
    ]
    return pd.DataFrame(rows, columns=columns)


def _signed(value):
    return f"{value:+.2f}"


def scorecard_markdown(results, **kwargs):
    """The report's "Paper claims" section (Markdown, no heading): rule, table, untested claims."""
    scores = score_claims(results, **kwargs)
    lines = [VERDICT_RULE, ""]
    if scores.empty:
        lines.append("_No completed trials speak to any claim yet._")
    else:
        table = pd.DataFrame(
            {
                "claim": scores["claim"],
                "setting": scores["setting"],
                "effect (what minus what)": scores["comparison"],
                "measured, pp": scores["effect_pp"].map(_signed),
                "95% interval": [f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in zip(scores["low_pp"], scores["high_pp"])],
                "seeds": scores["seeds"],
                "verdict": scores["verdict"],
                "paper, pp": [
                    ("—" if v is None or v != v else _signed(v)) + f" ({c})"
                    for v, c in zip(scores["paper_pp"], scores["paper_comparison"])
                ],
            }
        )
        lines.append(analysis.to_markdown(table))
        lines += ["", "Claims:"] + [f"- **{c.name}**: {c.statement}" for c in CLAIMS if c.name in set(scores["claim"])]
        one_seed = sorted(set(scores.loc[scores["seeds"] < 2, "claim"]))
        if one_seed:
            lines.append(
                f"- One seed per cell for: {', '.join(one_seed)}; the interval then covers test "
                f"images only, not the spread between training runs."
            )
    untested = [c.name for c in CLAIMS if c.name not in set(scores["claim"])]
    if untested:
        lines.append(f"- Not tested by these results: {', '.join(untested)}.")
    return "\n".join(lines)
