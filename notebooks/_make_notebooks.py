"""Regenerate the analysis notebooks (without outputs).

    python notebooks/_make_notebooks.py

Every notebook is thin: a markdown cell stating the question (from ``ran_core.common.studies``, the
table the report reads too), then calls into ``ran_core.analysis`` / ``ran_core.analysis.plots``.
The results folder comes from the
environment variable ``RAN_RESULTS_DIR`` (default ``../results``, relative to
this folder), and every cell copes with an empty or partial folder.
Cell ids are fixed so regenerating gives identical files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ran_core.common.studies import STUDIES

HERE = Path(__file__).resolve().parent

SETUP = """\
import os
import sys
from pathlib import Path

try:
    from ran_core import analysis
    from ran_core.common import paper
    from ran_core.analysis import plots
except ImportError:  # a checkout without `pip install -e .`: use the repository root
    sys.path.insert(0, str(Path.cwd().parent))
    from ran_core import analysis
    from ran_core.common import paper
    from ran_core.analysis import plots

RESULTS_DIR = Path(os.environ.get("RAN_RESULTS_DIR", "../results"))
print("results folder:", RESULTS_DIR.resolve())
results = analysis.load_results(RESULTS_DIR)
results"""

READING = (
    "Errors are test error in percent (100 × (1 − accuracy)) on the clean test set at the last epoch. "
    "Tables show mean ± std over the seeds of *completed* trials and the min–max range; pruned (ASHA) "
    "and errored trials are counted, never averaged. In figures, solid lines / filled markers are measured "
    "(error bars: min–max over seeds), dashed lines with hollow markers are the paper. Settings the paper "
    'does not report (smoke runs on `digits`, reduced widths, other models) show "no paper value".'
)


def _nb(name: str, cells: list) -> nbformat.NotebookNode:
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{i:02d}"
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return nb


def study_notebook(info) -> nbformat.NotebookNode:
    study = info.name
    cells = [
        new_markdown_cell(
            f"# {info.title} (paper: {info.paper})\n\n{info.question}\n\n{READING}\n\n"
            "Set `RAN_RESULTS_DIR` to read another results folder (default `../results`)."
        ),
        new_code_cell(SETUP),
        new_code_cell(f'STUDY = "{study}"\nanalysis.status_counts(results.study(STUDY))'),
        new_markdown_cell("## Protocol\n\nWhat was selected on what, and what the test set was used for."),
        new_code_cell("print(analysis.protocol(results, STUDY))"),
    ]
    if info.summary == "best_trials":
        cells += [
            new_markdown_cell("## Best completed configurations\n\nRanked by validation error."),
            new_code_cell("analysis.study_summary(results, STUDY)"),
            new_markdown_cell(
                "## The selected configuration\n\nChosen by validation error; its test error is reported "
                "once, beside the paper's."
            ),
            new_code_cell("analysis.selected_configuration(results, STUDY)"),
            new_markdown_cell(
                "## ASHA rungs\n\nRungs are inferred from the epochs at which pruned trials "
                "stopped; completed trials sit on the top rung."
            ),
            new_code_cell("analysis.asha_rungs(results, STUDY)"),
        ]
    else:
        cells += [
            new_markdown_cell("## Measured vs paper"),
            new_code_cell("analysis.study_summary(results, STUDY)"),
        ]
    cells.append(new_code_cell('for note in analysis.study_notes(results, STUDY):\n    print("-", note)'))
    cells.append(new_markdown_cell("## Figures"))
    cells += [new_code_cell(f"plots.show(plots.{figure.function}(results, STUDY))") for figure in info.figures]
    cells += [
        new_markdown_cell("## Learning curves\n\nTest error per epoch; pruned trials are dashed and end in ×."),
        new_code_cell("plots.show(plots.plot_learning_curves(results, STUDY))"),
        new_markdown_cell(
            "## Confusion matrix of the best completed trial\n\n"
            "Rows are true labels; pass `trial_id=...` to look at another trial."
        ),
        new_code_cell("plots.show(plots.plot_confusion(results, study=STUDY))"),
        new_markdown_cell("## Errored trials"),
        new_code_cell("analysis.errored_trials(results.study(STUDY))"),
    ]
    return _nb(study, cells)


def overview_notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Residual Attention Network sweeps: overview\n\n"
            'What has run, what failed, and how each study compares with Wang et al., "Residual Attention '
            'Network for Image Classification" (CVPR 2017). One notebook per study goes deeper: '
            + ", ".join(f"[{s}]({s}.ipynb)" for s in STUDIES)
            + f".\n\n{READING}\n\n"
            "Set `RAN_RESULTS_DIR` to read another results folder (default `../results`)."
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## Trials per study"),
        new_code_cell("analysis.status_counts(results)"),
        new_code_cell("plots.show(plots.plot_status_counts(results))"),
        new_code_cell(
            'print("studies without result files:", analysis.missing_studies(results) or "none")\n'
            'for note in results.notes:\n    print("-", note)'
        ),
        new_markdown_cell(
            "## Paper claims\n\nEach claim the results can speak to: the measured effect on the seeds its "
            "cells share, with a 95% interval over seeds and test images, a verdict (too few seeds below "
            "three; Holm-adjusted over the effects tested), and the paper's number beside it. The deciding "
            "rule is printed with the table."
        ),
        new_code_cell(
            "from IPython.display import Markdown, display\n\n"
            "from ran_core.analysis import scorecard\n\n"
            "display(Markdown(scorecard.scorecard_markdown(results)))"
        ),
        new_markdown_cell("## Measured vs paper, per study"),
        new_code_cell(
            "for study in results.studies:\n"
            '    display(Markdown(f"### {study}"))\n'
            "    display(analysis.study_summary(results, study))\n"
            "    for note in analysis.study_notes(results, study):\n"
            '        print("-", note)'
        ),
        new_markdown_cell("## Errored trials"),
        new_code_cell("analysis.errored_trials(results)"),
        new_markdown_cell("## The paper's numbers\n\n`test_error` is a fraction (0.0499 = 4.99 %)."),
        new_code_cell("paper.paper_table()"),
    ]
    return _nb("overview", cells)


def build_notebooks() -> dict:
    """Notebook name -> notebook, exactly as committed (a test compares them)."""
    return {"overview": overview_notebook(), **{name: study_notebook(info) for name, info in STUDIES.items()}}


def main() -> None:
    for name, nb in build_notebooks().items():
        path = HERE / f"{name}.ipynb"
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
