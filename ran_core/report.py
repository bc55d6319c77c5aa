"""Write figures and a Markdown report for a results folder.

    python -m ran_core.report RESULTS_DIR [--out DIR]

RESULTS_DIR is a results root holding study folders (``results/``) or a
single study folder. Writes ``report.md`` and one PNG per applicable figure
into ``--out`` (default ``RESULTS_DIR/report``), each file atomically (temp
file, then rename). Exits 2 if RESULTS_DIR does not exist and 1 if it holds
no ``trials.parquet`` / ``epochs.parquet`` at all.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

from ran_core import analysis, paper, plots, scorecard
from ran_core.results import write_atomic

__all__ = ["STUDY_INFO", "build_report", "main"]

#: Title, paper reference and question of each known study (also used by the notebooks).
STUDY_INFO = {
    "noise_robustness": {
        "title": "Noise robustness",
        "paper": "Table 5",
        "question": "Does attention make a network more robust to noisy training labels? "
                    "Attention models vs ResNet baselines at label-noise ratios 0, 10, 30, 50 and 70 % "
                    "(paper: Attention-92 vs ResNet-164 on CIFAR-10; test labels stay clean).",
    },
    "depth": {
        "title": "Depth",
        "paper": "Table 6 (and Table 3, ARL column)",
        "question": "How does test error change with depth, Attention-56 to Attention-236, "
                    "on CIFAR-10 and CIFAR-100, and do parameter counts match the paper's?",
    },
    "attention_types": {
        "title": "Attention types",
        "paper": "Table 1",
        "question": "Which soft-mask activation works best: mixed (sigmoid), channel "
                    "(L2 normalisation across channels) or spatial (per-channel normalised map, sigmoid)? "
                    "Paper: Attention-56 on CIFAR-10.",
    },
    "learning_mode": {
        "title": "Learning mode",
        "paper": "Table 3",
        "question": "Attention residual learning, H = (1 + M) * T, versus naive attention learning, "
                    "H = M * T, as depth grows from Attention-56 to Attention-164.",
    },
    "search": {
        "title": "Free search",
        "paper": "no paper counterpart",
        "question": "An open Optuna + ASHA search over models, attention settings and training "
                    "hyper-parameters: which configurations came out best, and where did ASHA stop the rest?",
    },
}

# (file suffix, function, caption); each function takes (results, study).
_FIGURES = {
    "noise_robustness": [("", plots.plot_noise_robustness, "Test error vs label-noise ratio")],
    "depth": [("", plots.plot_depth, "Test error vs depth"),
              ("_params", plots.plot_params, "Parameters vs depth")],
    "attention_types": [("", plots.plot_attention_types, "Test error per attention type")],
    "learning_mode": [("", plots.plot_learning_mode, "ARL vs NAL by depth")],
    "search": [("_asha", plots.plot_asha, "ASHA: where each trial stopped")],
}


def _study_figures(results: analysis.Results, study: str, out: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Write the study's figures; return [(file name, caption)] and notes."""
    sel = results.study(study)
    written, notes = [], []

    def save(name, fig, caption):
        plots.save_png(fig, out / name)
        written.append((name, caption))

    for suffix, func, caption in _FIGURES.get(study, []):
        save(f"{study}{suffix}.png", func(sel, study), caption)
    if len(analysis.learning_curves(sel, study)):
        save(f"{study}_curves.png", plots.plot_learning_curves(sel, study), "Learning curves (test error per epoch)")
    else:
        notes.append(f"{study}: no epoch rows to draw learning curves from.")
    best = analysis.best_trial(sel, study, need_confusion=True)
    if best is not None:
        save(f"{study}_confusion.png", plots.plot_confusion(sel, best["trial_id"], study),
             f"Confusion matrix of the best completed trial ({best['trial_id']})")
    elif len(sel.trials):
        notes.append(f"{study}: no completed trial with a confusion matrix.")
    return written, notes


def build_report(results_dir, out_dir=None) -> Path:
    """Write figures and ``report.md`` for ``results_dir``; return the report path.

    Raises FileNotFoundError if ``results_dir`` does not exist or holds no
    result files.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory {str(results_dir)!r} does not exist")
    if not analysis.find_study_dirs(results_dir):
        raise FileNotFoundError(
            f"no result files ({analysis.TRIALS_FILE} / {analysis.EPOCHS_FILE}) under {str(results_dir)!r}")
    out = Path(out_dir) if out_dir is not None else results_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = analysis.load_results(results_dir)

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = [
        "# Residual Attention Network sweeps: report",
        "",
        f"Generated {now} from `{results_dir}` ({len(results.sources)} study folder(s)).",
        "",
        "Errors are **test error in percent** (100 × (1 − accuracy)) on the clean test set, at the last epoch. "
        "Measured values are the mean ± sample standard deviation over seeds of *completed* trials, "
        "with the min–max range; pruned (ASHA) and errored trials are counted but not averaged. "
        "Paper values are from Wang et al., CVPR 2017; \"Δ\" is measured minus paper in percentage points. "
        f"\"{analysis.NO_PAPER_VALUE}\" marks settings the paper does not report (e.g. smoke runs on other "
        "datasets or models).",
        "",
        "## Overview",
        "",
        analysis.to_markdown(analysis.status_counts(results)),
        "",
    ]
    plots.save_png(plots.plot_status_counts(results), out / "overview_status.png")
    md += ["![Trials per study and status](overview_status.png)", ""]
    md += ["## Paper claims", "", scorecard.scorecard_markdown(results), ""]

    all_notes: list[str] = []
    studies = list(analysis.KNOWN_STUDIES) + [s for s in results.studies if s not in analysis.KNOWN_STUDIES]
    for study in studies:
        info = STUDY_INFO.get(study, {"title": study, "paper": "no paper counterpart", "question": ""})
        md += [f"## {info['title']} (`{study}`; paper: {info['paper']})", ""]
        if info["question"]:
            md += [info["question"], ""]
        if study not in results.studies:
            md += ["_No result files for this study._", ""]
            all_notes.append(f"{study}: no result files found.")
            continue
        if study == "search":
            md += ["Best completed trials:", "", analysis.to_markdown(analysis.study_summary(results, study),
                                                                     "_no completed trials_"), ""]
            md += ["ASHA rungs (inferred from where pruned trials stopped):", "",
                   analysis.to_markdown(analysis.asha_rungs(results, study), "_no trials_"), ""]
        else:
            md += [analysis.to_markdown(analysis.study_summary(results, study), "_no trials_"), ""]
        figures, fig_notes = _study_figures(results, study, out)
        for name, caption in figures:
            md += [f"![{caption}]({name})", ""]
        notes = analysis.study_notes(results, study) + fig_notes
        if notes:
            md += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
        all_notes += notes

    md += ["## Errored trials", ""]
    errored = analysis.errored_trials(results)
    md += [analysis.to_markdown(errored, "_none_"), ""]

    md += ["## Paper reference values (test error %)", ""]
    ref = paper.paper_table()
    ref = ref.assign(test_error=ref["test_error"].map(lambda v: f"{100 * v:.2f}"),
                     noise_ratio=ref["noise_ratio"].map(lambda v: f"{100 * v:g}"),
                     params_m=ref["params_m"].map(lambda v: "—" if v != v else f"{v:.1f}")).rename(
        columns={"test_error": "test error %", "params_m": "params (M)", "noise_ratio": "noise %"})
    md += [analysis.to_markdown(ref.drop(columns=["family", "depth"])), ""]

    if results.notes or all_notes:
        md += ["## Gaps and notes", ""] + [f"- {n}" for n in dict.fromkeys(results.notes + all_notes)] + [""]
    return write_atomic(out / "report.md", "\n".join(md))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ran_core.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="results root or one study folder")
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default RESULTS_DIR/report)")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir)
    if not results_dir.is_dir():
        print(f"error: results directory {str(results_dir)!r} does not exist (or is not a folder)", file=sys.stderr)
        return 2
    try:
        path = build_report(results_dir, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} and figures in {path.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
