"""Write figures and a Markdown report for a results folder.

    python -m ran_core.analysis RESULTS_DIR [--out DIR]

RESULTS_DIR is a results root holding study folders (``results/``) or a
single study folder. Writes ``report.md`` and one PNG per applicable figure
into ``--out`` (default ``RESULTS_DIR/report``), each file atomically (temp
file, then rename). Exits 2 if RESULTS_DIR does not exist or a result file
in it cannot be read (named in the error), and 1 if it holds no
``trials.parquet`` / ``epochs.parquet`` at all.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

from ran_core import analysis
from ran_core.analysis import plots, scorecard
from ran_core.common import paper
from ran_core.common.files import write_atomic
from ran_core.common.keys import REPORT_FILE
from ran_core.common.studies import STUDY_NAMES, study_info
from ran_core.results.store import check_parquet

__all__ = ["build_report", "main"]


def _study_figures(results: analysis.Results, study: str, out: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Write the study's figures; return [(file name, caption)] and notes."""
    sel = results.study(study)
    written, notes = [], []

    def save(name, fig, caption):
        plots.save_png(fig, out / name)
        written.append((name, caption))

    for figure in study_info(study).figures:
        save(f"{study}{figure.suffix}.png", getattr(plots, figure.function)(sel, study), figure.caption)
    if len(analysis.learning_curves(sel, study)):
        save(f"{study}_curves.png", plots.plot_learning_curves(sel, study), "Learning curves (test error per epoch)")
    else:
        notes.append(f"{study}: no epoch rows to draw learning curves from.")
    best = analysis.best_trial(sel, study, need_confusion=True)
    if best is not None:
        save(
            f"{study}_confusion.png",
            plots.plot_confusion(sel, best["trial_id"], study),
            f"Confusion matrix of the best completed trial ({best['trial_id']})",
        )
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
            f"no result files ({analysis.TRIALS_FILE} / {analysis.EPOCHS_FILE}) under {str(results_dir)!r}"
        )
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
        'Paper values are from Wang et al., CVPR 2017; "Δ" is measured minus paper in percentage points. '
        f'"{analysis.NO_PAPER_VALUE}" marks settings the paper does not report (e.g. smoke runs on other '
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
    studies = list(STUDY_NAMES) + [s for s in results.studies if s not in STUDY_NAMES]
    for study in studies:
        info = study_info(study)
        md += [f"## {info.title} (`{study}`; paper: {info.paper})", ""]
        if info.question:
            md += [info.question, ""]
        if study not in results.studies:
            md += ["_No result files for this study._", ""]
            all_notes.append(f"{study}: no result files found.")
            continue
        if info.summary == "best_trials":
            md += [
                "Best completed trials:",
                "",
                analysis.to_markdown(analysis.study_summary(results, study), "_no completed trials_"),
                "",
            ]
            md += [
                "ASHA rungs (inferred from where pruned trials stopped):",
                "",
                analysis.to_markdown(analysis.asha_rungs(results, study), "_no trials_"),
                "",
            ]
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
    diverged = _diverged_trials(results)
    md += [
        f"## Diverged trials ({len(diverged)})",
        "",
        "Training or test loss became NaN or inf; the trial stopped at that epoch and is not averaged.",
        "",
        analysis.to_markdown(diverged, "_none_"),
        "",
    ]

    md += ["## Paper reference values (test error %)", ""]
    ref = paper.paper_table()
    ref = ref.assign(
        test_error=ref["test_error"].map(lambda v: f"{100 * v:.2f}"),
        noise_ratio=ref["noise_ratio"].map(lambda v: f"{100 * v:g}"),
        params_m=ref["params_m"].map(lambda v: "—" if v != v else f"{v:.1f}"),
    ).rename(columns={"test_error": "test error %", "params_m": "params (M)", "noise_ratio": "noise %"})
    md += [analysis.to_markdown(ref.drop(columns=["family", "depth"])), ""]

    if results.notes or all_notes:
        md += ["## Gaps and notes", ""] + [f"- {n}" for n in dict.fromkeys(results.notes + all_notes)] + [""]
    return write_atomic(out / REPORT_FILE, "\n".join(md))


def _diverged_trials(results):
    trials = results.trials
    columns = [
        c
        for c in ("study", "experiment_id", "trial_id", "model", "dataset", "learning_rate", "seed", "epochs_run")
        if c in trials
    ]
    return trials.loc[trials["status"] == "diverged", columns].reset_index(drop=True)


def check_readable(results_dir):
    """Raises ValueError naming the first result file under `results_dir` that cannot be read."""
    for folder in analysis.find_study_dirs(results_dir):
        for name in (analysis.TRIALS_FILE, analysis.EPOCHS_FILE):
            if (folder / name).is_file():
                check_parquet(folder / name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ran_core.analysis", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="results root or one study folder")
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default RESULTS_DIR/report)")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir)
    if not results_dir.is_dir():
        print(f"error: results directory {str(results_dir)!r} does not exist (or is not a folder)", file=sys.stderr)
        return 2
    try:
        check_readable(results_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
