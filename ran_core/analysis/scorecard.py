"""Paper-claims scorecard: does each claim of the paper hold in these results?

Each claim the studies can speak to becomes one or more *effects*: a weighted sum of cell test
errors, in percentage points, signed so that a positive value supports the claim (e.g. ResNet's
error minus Attention's at 70% label noise). For every effect the scorecard gives the measured
value, a 95% interval, a p-value adjusted for the number of effects tested, and a verdict
(`VERDICT_RULE`, the text the report prints):

* the effect is measured on the seeds every cell of it shares, pairing trials by seed (two models
  with one seed saw the same noisy labels) and, through each trial's per-image outcomes, by test
  image (every model saw the same test images): `ran_core.analysis.paired` says how the interval
  follows from that, and what a trial without per-image outcomes falls back to;
* fewer than MIN_SEEDS shared seeds: "too few seeds" (the interval is shown, never a verdict);
* otherwise held / did not hold when Holm's adjustment over every effect the report tests leaves
  p < 0.05, with the effect's sign; inconclusive otherwise;
* a diverged trial counts in its cell at chance error, 1 - 1/classes, for every test image (it
  learned nothing it could be scored on), so a model that diverges more often pays for it; the
  scorecard counts them.

Beside each effect stands the paper's value for the same comparison, or, when the paper has no
such setting (smoke runs on digits), the paper's value for its own networks on CIFAR, labelled as such.

Reads result rows through the public API of :mod:`ran_core.analysis` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ran_core import analysis
from ran_core.analysis.claims import CLAIMS, Claim, Effect, cell_key, percent
from ran_core.analysis.paired import class_sampling_variance, effect_interval, holm
from ran_core.common import paper
from ran_core.common.keys import COMPLETED, DIVERGED, NO_SETTING
from ran_core.common.names import PAPER_DATASET_NAMES, pretty_dataset
from ran_core.common.studies import study_info

__all__ = [
    "CLAIMS",
    "LEVEL",
    "MIN_SEEDS",
    "VERDICTS",
    "VERDICT_RULE",
    "Claim",
    "Effect",
    "describe_setting",
    "score_claims",
    "scorecard_markdown",
    "verdict",
]

MIN_SEEDS = 3  # shared seeds an effect needs for a verdict
LEVEL = 0.95  # the interval's coverage; a verdict needs Holm-adjusted p < 1 - LEVEL
VERDICTS = ("held", "did not hold", "inconclusive", "too few seeds")
VERDICT_RULE = (
    "An effect is a weighted sum of test errors in percentage points, signed so that a positive value "
    "supports the claim, measured on the training seeds every cell of it shares: trials are paired by seed "
    "and, where they recorded which test images they got right, image by image. Its 95% interval is "
    "Student's t over both sources of chance, seeds and test images, from the paired per-image mistakes "
    "(their variance split into a seed part, an image part and their residual, counted once; Satterthwaite's "
    "degrees of freedom, so three seeds give a wide interval); trials without per-image outcomes are "
    "resampled class by class from their confusion matrix, independently, which errs on the wide side. "
    f"Verdict: **too few seeds** when fewer than {MIN_SEEDS} seeds are shared (no claim is decided on fewer); "
    "otherwise **held** or **did not hold** (by the effect's sign) when its p-value, adjusted by Holm's method "
    "over every effect with a verdict in this report, is below 0.05, and **inconclusive** when it is not (so "
    "an interval that misses 0 can still be inconclusive). A diverged trial (NaN or inf loss) counts in its "
    "cell at chance error, 1 - 1/classes, on every test image; the diverged column counts them."
)
PAPER_DATASETS = tuple(PAPER_DATASET_NAMES)
COUNTED = (COMPLETED, DIVERGED)  # what a trial ended as to count in its cell (errored, pruned: not measured)


# --------------------------------------------------------------------------- measured cells


def _cells_frame(rows):
    """Rows with hashable cell keys: attention settings of other families become NO_SETTING."""
    rows = rows.copy()
    attention = rows["family"] == "attention"
    for column in ("attention_type", "learning_mode"):
        rows[column] = rows[column].astype(object).where(attention & rows[column].notna(), NO_SETTING)
    rows["depth"] = rows["depth"].astype(float)
    rows["noise_ratio"] = rows["noise_ratio"].astype(float).round(3)
    if "validation_share" in rows:  # result rows (the paper's have none); null in rows older than the split
        rows["validation_share"] = rows["validation_share"].astype(float).fillna(0.0).round(3)
    return rows


def _counted(results, study):
    """The trials of `study` (an analysis.Results from load_results) that count in their cells:
    completed ones with a final error, and diverged ones."""
    t = results.study(study).trials
    done = (t["status"] == COMPLETED) & t["final_test_error"].notna()
    return _cells_frame(t[done | (t["status"] == DIVERGED)])


def _settings(trials, claim):
    keys = ["dataset", "width", "epochs", "validation_share"] + ([] if claim.varies_noise else ["noise_ratio"])
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
    held_out = setting.get("validation_share") or 0.0
    if held_out > 0:
        parts.append(f"{percent(held_out)} of training images held out")
    smoke = dataset not in PAPER_DATASETS or width != 1.0
    return ", ".join(parts) + (" (smoke)" if smoke else "")


def _by_seed(cell):
    """seed -> the cell's trial of that seed; a seed run again by a later experiment counts once, as run last."""
    cell = cell.sort_values(["experiment_id", "trial_id"], kind="stable")
    return {int(seed): trial for seed, trial in cell.groupby("seed").tail(1).set_index("seed").iterrows()}


def _outcome(trial):
    """(test error, mistakes, class-sampling variance) of a counted trial. mistakes: bool per
    test image, a number for every image (a diverged trial: chance), or None (not recorded).
    variance: of its error when its test images are resampled by class, from its confusion matrix
    (0 for a diverged trial; None without a matrix)."""
    if trial["status"] == DIVERGED:
        classes = trial["num_classes"]
        chance = 1.0 - 1.0 / int(classes) if not pd.isna(classes) else 1.0
        return chance, chance, 0.0
    confusion = analysis.confusion_matrix(trial)
    variance = None if confusion is None else class_sampling_variance(confusion)
    correct = analysis.test_outcomes(trial)
    if correct is not None:
        return float(np.mean(~correct)), ~correct, variance
    return float(trial["final_test_error"]), None, variance


def _measure(effect, trials):
    """The effect's interval on the seeds its cells share (a dict, errors as fractions), or None
    when a cell has no counted trial."""
    cells = []
    for _, key in effect.terms:
        cell = trials[[cell_key(r) == key for r in trials.to_dict("records")]]
        if cell.empty:
            return None
        cells.append(_by_seed(cell))
    shared = sorted(set.intersection(*(set(c) for c in cells)))
    used = [cell[seed] for cell in cells for seed in shared]
    measured = {
        "seeds": len(shared),
        "diverged": sum(trial["status"] == DIVERGED for trial in used),
        "fewest_seeds": min(len(c) for c in cells),
    }
    if not shared:
        return {**measured, "value": np.nan, "low": np.nan, "high": np.nan, "p": np.nan, "method": "no shared seed"}
    outcomes = [[_outcome(cell[seed]) for seed in shared] for cell in cells]  # [term][seed]
    weights = np.array([weight for weight, _ in effect.terms])
    errors = np.array([[o[0] for o in term] for term in outcomes])
    per_seed = weights @ errors
    flat = [o for term in outcomes for o in term]
    lengths = {len(o[1]) for o in flat if isinstance(o[1], np.ndarray)}
    if len(lengths) == 1 and all(o[1] is not None for o in flat):  # every trial's images: paired by image
        n = lengths.pop()
        mistakes = np.array([[np.broadcast_to(o[1], n) for o in term] for term in outcomes], dtype=np.float64)
        interval = effect_interval(per_seed, np.tensordot(weights, mistakes, axes=1), level=LEVEL)
        method = "seeds and test images, paired"
    else:  # the fallback: each trial's images resampled by class, independently
        m = len(shared)
        independent = sum((w / m) ** 2 * (o[2] or 0.0) for w, term in zip(weights, outcomes) for o in term)
        interval = effect_interval(per_seed, None, independent, level=LEVEL)
        method = "seeds paired; test images by class from confusion matrices (no per-image outcomes)"
        if any(o[2] is None for o in flat):
            method += "; some trials lack a confusion matrix (their test images not resampled)"
    return {
        **measured,
        "value": float(interval.value),
        "low": float(interval.low),
        "high": float(interval.high),
        "p": float(interval.p),
        "method": method,
    }


def verdict(value, p_adjusted, seeds):
    """held / did not hold / inconclusive / too few seeds for an effect (see VERDICT_RULE)."""
    if seeds < MIN_SEEDS:
        return "too few seeds"
    if p_adjusted < 1 - LEVEL:
        return "held" if value > 0 else "did not hold"
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


COLUMNS = [
    "claim",
    "statement",
    "study",
    "setting",
    "comparison",
    "effect_pp",
    "low_pp",
    "high_pp",
    "seeds",
    "diverged",
    "p_value",
    "p_holm",
    "uncertainty",
    "verdict",
    "paper_pp",
    "paper_comparison",
]


def score_claims(results):
    """One row per (claim, setting, effect) the results can speak to; errors in percentage points.

    Columns: claim, statement, study, setting, comparison, effect_pp, low_pp, high_pp (the 95%
    interval), seeds (shared by every cell of the effect: the pairs it is measured on), diverged
    (trials counted at chance error), p_value, p_holm (Holm-adjusted over the rows with a
    verdict; NaN for "too few seeds"), uncertainty (what the interval covers), verdict, paper_pp,
    paper_comparison. Deterministic: no resampling.
    """
    rows = []
    for claim in CLAIMS:
        trials = _counted(results, claim.study)
        if trials.empty:
            continue
        for setting, group in _settings(trials, claim):
            for effect in claim.effects(group):
                measured = _measure(effect, group)
                if measured is None:
                    continue
                paper_value, paper_comparison = _paper_side(claim, effect, setting["dataset"])
                rows.append(
                    {
                        "claim": claim.name,
                        "statement": claim.statement,
                        "study": claim.study,
                        "setting": describe_setting(setting),
                        "comparison": effect.label,
                        "effect_pp": 100 * measured["value"],
                        "low_pp": 100 * measured["low"],
                        "high_pp": 100 * measured["high"],
                        "seeds": measured["seeds"],
                        "diverged": measured["diverged"],
                        "p_value": measured["p"],
                        "uncertainty": measured["method"],
                        "paper_pp": None if paper_value is None else 100 * paper_value,
                        "paper_comparison": paper_comparison,
                    }
                )
    scores = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("p_holm", "verdict")])
    tested = scores["seeds"] >= MIN_SEEDS
    scores["p_holm"] = holm(scores["p_value"].where(tested).astype("float64"))
    scores["verdict"] = [
        verdict(value, p, seeds) for value, p, seeds in zip(scores["effect_pp"], scores["p_holm"], scores["seeds"])
    ]
    return scores[COLUMNS]


def _signed(value):
    return "—" if value != value else f"{value:+.2f}"


def _p(value):
    return "—" if value != value else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def scorecard_markdown(results):
    """The report's "Paper claims" section (Markdown, no heading): rule, table, untested claims."""
    scores = score_claims(results)
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
                "95% interval": [
                    "—" if lo != lo else f"[{lo:+.2f}, {hi:+.2f}]"
                    for lo, hi in zip(scores["low_pp"], scores["high_pp"])
                ],
                "seeds": scores["seeds"],
                "diverged": scores["diverged"],
                "p (Holm)": scores["p_holm"].map(_p),
                "verdict": scores["verdict"],
                "paper, pp": [
                    ("—" if v is None or v != v else _signed(v)) + f" ({c})"
                    for v, c in zip(scores["paper_pp"], scores["paper_comparison"])
                ],
            }
        )
        lines.append(analysis.to_markdown(table))
        lines += ["", "Claims:"] + [f"- **{c.name}**: {c.statement}" for c in CLAIMS if c.name in set(scores["claim"])]
        few = scores[scores["seeds"] < MIN_SEEDS]
        if len(few):
            lines.append(
                f"- Too few seeds ({', '.join(sorted(set(map(str, few['seeds']))))} shared, {MIN_SEEDS} needed) for "
                f"{len(few)} of {len(scores)} effects ({', '.join(sorted(set(few['claim'])))}): run the study with "
                f"`--seeds {MIN_SEEDS}` or more."
            )
        tested = int((scores["seeds"] >= MIN_SEEDS).sum())
        if tested:
            lines.append(f"- Holm's adjustment is over the {tested} effect(s) with a verdict in this report.")
        studies = results.trials[results.trials["study"].isin(set(scores["study"]))]
        diverged = int((studies["status"] == DIVERGED).sum())
        if diverged:
            lines.append(
                f"- {diverged} diverged trial(s) in these studies, each counted in its cell at chance error "
                "(the diverged column: how many of an effect's trials diverged)."
            )
        fallback = sorted(set(scores.loc[~scores["uncertainty"].str.startswith("seeds and test images"), "claim"]))
        if fallback:
            lines.append(
                f"- Without per-image outcomes (older rows) for: {', '.join(fallback)}; their intervals resample "
                "test images by class, independently per trial (wider, see `ran_core.analysis.paired`)."
            )
    untested = [c.name for c in CLAIMS if c.name not in set(scores["claim"])]
    if untested:
        lines.append(f"- Not tested by these results: {', '.join(untested)}.")
    return "\n".join(lines)
