"""Write figures and a Markdown report for a results folder.

    python -m ran_core.analysis RESULTS_DIR [--out DIR]

RESULTS_DIR is a results root holding study folders (``results/``) or a
single study folder. Writes ``report.md`` and one PNG per applicable figure
into ``--out`` (default ``RESULTS_DIR/report``), each file atomically (temp
file, then rename). Exits 2 if RESULTS_DIR does not exist, or a compacted
result file in it cannot be read or lacks a column the report needs
(``REQUIRED_COLUMNS``; named in the error), and 1 if it holds no
``trials.parquet`` / ``epochs.parquet`` at all. A damaged part file is
skipped and columns no schema declares are ignored, each named in a
warning on stderr and a note in the report; every other row is kept.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import warnings
from pathlib import Path

from ran_core import analysis
from ran_core.analysis import plots, scorecard
from ran_core.common import paper
from ran_core.common.files import write_atomic
from ran_core.common.keys import REPORT_FILE
from ran_core.common.studies import STUDY_NAMES, study_info
from ran_core.results.loading import ResultsWarning, column_problems
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

    md = _preamble(results, results_dir)
    plots.save_png(plots.plot_status_counts(results), out / "overview_status.png")
    md += ["![Trials per study and status](overview_status.png)", ""]
    md += ["## Paper claims", "", scorecard.scorecard_markdown(results), ""]
    all_notes: list[str] = []
    for study in list(STUDY_NAMES) + [s for s in results.studies if s not in STUDY_NAMES]:
        section, notes = _study_section(results, study, out)
        md += section
        all_notes += notes
    md += _failures(results) + _paper_reference()
    if results.notes or all_notes:
        md += ["## Gaps and notes", ""] + [f"- {n}" for n in dict.fromkeys(results.notes + all_notes)] + [""]
    return write_atomic(out / REPORT_FILE, "\n".join(md))


def _preamble(results, results_dir):
    """Title, how to read the numbers, what was selected on what, and the overview table."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
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
        "**What was selected on what.** A grid study follows the paper's protocol unless a flag asked for a "
        "validation split: every training image trains, and each cell's final-epoch test error is reported; "
        "nothing is chosen, so the test set only scores. A search holds out a stratified validation split of "
        "the training images (clean labels; one split for all its trials): TPE minimises the validation error, "
        "the best configuration is chosen by it, and its test error is reported once, beside the paper's. Each "
        "study's section says which protocol its trials followed.",
        "",
        "## Overview",
        "",
        analysis.to_markdown(analysis.status_counts(results)),
        "",
    ]


def _study_section(results, study, out):
    """(Markdown lines, notes) of one study: question, protocol, summary table, figures, notes."""
    info = study_info(study)
    md = [f"## {info.title} (`{study}`; paper: {info.paper})", ""]
    if info.question:
        md += [info.question, ""]
    if study not in results.studies:
        return md + ["_No result files for this study._", ""], [f"{study}: no result files found."]
    if analysis.protocol(results, study):
        md += [analysis.protocol(results, study), ""]
    if info.summary == "best_trials":
        md += _selection(results, study)
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
    return md, notes


def _failures(results):
    """The errored and the diverged trials, each a table."""
    diverged = _diverged_trials(results)
    return [
        "## Errored trials",
        "",
        analysis.to_markdown(analysis.errored_trials(results), "_none_"),
        "",
        f"## Diverged trials ({len(diverged)})",
        "",
        "Training or test loss became NaN or inf; the trial stopped at that epoch. The tables do not average it; "
        "the scorecard counts it in its cell at chance error.",
        "",
        analysis.to_markdown(diverged, "_none_"),
        "",
    ]


def _paper_reference():
    """Every number of the paper's tables this project compares with, in percent."""
    ref = paper.paper_table()
    ref = ref.assign(
        test_error=ref["test_error"].map(lambda v: f"{100 * v:.2f}"),
        noise_ratio=ref["noise_ratio"].map(lambda v: f"{100 * v:g}"),
        params_m=ref["params_m"].map(lambda v: "—" if v != v else f"{v:.1f}"),
    ).rename(columns={"test_error": "test error %", "params_m": "params (M)", "noise_ratio": "noise %"})
    return [
        "## Paper reference values (test error %)",
        "",
        analysis.to_markdown(ref.drop(columns=["family", "depth"])),
        "",
    ]


def _selection(results, study):
    """A search's best configurations, ranked by what it selected on, and the selected one's test error."""
    chosen = analysis.selected_configuration(results, study)
    ranked = analysis.study_summary(results, study)
    if chosen.empty:  # no validation error recorded: ranked on the test set, as the protocol line says
        return ["Best completed trials (by test error):", "", analysis.to_markdown(ranked, "_no completed trials_"), ""]
    return [
        "Best completed configurations, ranked by validation error (no test error beside them: the test set "
        "does not compare them):",
        "",
        analysis.to_markdown(ranked),
        "",
        "The configuration selected by validation error, and its test error, reported once beside the paper's:",
        "",
        analysis.to_markdown(chosen),
        "",
    ]


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


def check_columns(results_dir):
    """Raises ValueError naming the first result file under `results_dir` that lacks a column the
    report needs (``REQUIRED_COLUMNS``), and how many more do."""
    missing, _ = column_problems(results_dir)
    if missing:
        more = f" (and {len(missing) - 1} more file(s))" if len(missing) > 1 else ""
        raise ValueError(
            f"{missing[0]}{more}; the report needs them (results/README.md lists every column): restore "
            f"the file the sweep wrote, or add the columns; nothing was written"
        )


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
        check_columns(results_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResultsWarning)
            path = build_report(results_dir, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in caught:
        if issubclass(warning.category, ResultsWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    print(f"wrote {path} and figures in {path.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
