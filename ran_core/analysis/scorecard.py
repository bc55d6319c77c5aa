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

import numpy as np
import pandas as pd

from ran_core import analysis
from ran_core.analysis.claims import CLAIMS, Claim, Effect, cell_key, percent
from ran_core.common import paper
from ran_core.common.keys import NO_SETTING
from ran_core.common.names import PAPER_DATASET_NAMES, pretty_dataset
from ran_core.common.studies import study_info

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


# --------------------------------------------------------------------------- measured cells


def _cells_frame(rows):
    """Rows with hashable cell keys: attention settings of other families become NO_SETTING."""
    rows = rows.copy()
    attention = rows["family"] == "attention"
    for column in ("attention_type", "learning_mode"):
        rows[column] = rows[column].astype(object).where(attention & rows[column].notna(), NO_SETTING)
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
        parts.append(f"{percent(noise)} label noise")
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
        cell = trials[[cell_key(r) == key for r in trials.to_dict("records")]]
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
    errors = {cell_key(r): r["test_error"] for r in cells.to_dict("records")}
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
