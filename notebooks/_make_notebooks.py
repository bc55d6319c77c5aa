"""Regenerate the analysis notebooks (without outputs).

    python notebooks/_make_notebooks.py

Every notebook is thin: a markdown cell stating the question, then calls into
``ran_core.analysis`` / ``ran_core.plots``. The results folder comes from the
environment variable ``RAN_RESULTS_DIR`` (default ``../results``, relative to
this folder), and every cell copes with an empty or partial folder.
Cell ids are fixed so regenerating gives identical files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
import os
import sys
from pathlib import Path

try:
    from ran_core import analysis, paper, plots
except ImportError:  # a checkout without `pip install -e .`: use the repository root
    sys.path.insert(0, str(Path.cwd().parent))
    from ran_core import analysis, paper, plots

RESULTS_DIR = Path(os.environ.get("RAN_RESULTS_DIR", "../results"))
print("results folder:", RESULTS_DIR.resolve())
results = analysis.load_results(RESULTS_DIR)
results'''

READING = (
    "Errors are test error in percent (100 × (1 − accuracy)) on the clean test set at the last epoch. "
    "Tables show mean ± std over the seeds of *completed* trials and the min–max range; pruned (ASHA) "
    "and errored trials are counted, never averaged. In figures, solid lines / filled markers are measured "
    "(error bars: min–max over seeds), dashed lines with hollow markers are the paper. Settings the paper "
    "does not report (smoke runs on `digits`, reduced widths, other models) show \"no paper value\"."
)

STUDIES = {
    "noise_robustness": {
        "title": "Noise robustness (paper Table 5)",
        "question": "Does attention make a network more robust to noisy training labels? Attention models "
                    "are trained beside ResNet baselines with 0, 10, 30, 50 and 70 % of the training labels "
                    "corrupted by the paper's confusion matrix Q (Eq. 7); test labels stay clean. The paper "
                    "compares Attention-92 with ResNet-164 on CIFAR-10 (the 0 % point comes from Table 6).",
        "figures": ["plots.plot_noise_robustness(results)"],
    },
    "depth": {
        "title": "Depth (paper Table 6; Table 3 ARL column)",
        "question": "How does test error change from Attention-56 to Attention-236 on CIFAR-10 and "
                    "CIFAR-100, and do the models' parameter counts match Table 6?",
        "figures": ["plots.plot_depth(results)", "plots.plot_params(results)"],
    },
    "attention_types": {
        "title": "Attention types (paper Table 1)",
        "question": "Which soft-mask activation works best for Attention-56 on CIFAR-10: mixed "
                    "(sigmoid per channel and position), channel (L2 normalisation across channels) or "
                    "spatial (each channel map normalised over positions, then sigmoid)?",
        "figures": ["plots.plot_attention_types(results)"],
    },
    "learning_mode": {
        "title": "Learning mode: ARL vs NAL (paper Table 3)",
        "question": "Attention residual learning, H = (1 + M(x)) · T(x), versus naive attention learning, "
                    "H = M(x) · T(x). The paper finds NAL degrades as more modules are stacked "
                    "(Attention-56 to -164) while ARL keeps improving.",
        "figures": ["plots.plot_learning_mode(results)"],
    },
    "search": {
        "title": "Free search (Optuna + ASHA)",
        "question": "An open search over models, attention settings and training hyper-parameters, with "
                    "ASHA stopping weak trials early. Which configurations came out best, and where did "
                    "ASHA stop the rest? There is no paper counterpart; best trials are still matched to "
                    "the paper where their setting appears in it.",
        "figures": ["plots.plot_asha(results)"],
    },
}


def _nb(name: str, cells: list) -> nbformat.NotebookNode:
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{i:02d}"
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def study_notebook(study: str, spec: dict) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(f"# {spec['title']}\n\n{spec['question']}\n\n{READING}\n\n"
                          "Set `RAN_RESULTS_DIR` to read another results folder (default `../results`)."),
        new_code_cell(SETUP),
        new_code_cell(f'STUDY = "{study}"\nanalysis.status_counts(results.study(STUDY))'),
    ]
    if study == "search":
        cells += [
            new_markdown_cell("## Best completed configurations"),
            new_code_cell("analysis.study_summary(results, STUDY)"),
            new_markdown_cell("## ASHA rungs\n\nRungs are inferred from the epochs at which pruned trials "
                              "stopped; completed trials sit on the top rung."),
            new_code_cell("analysis.asha_rungs(results, STUDY)"),
        ]
    else:
        cells += [
            new_markdown_cell("## Measured vs paper"),
            new_code_cell("analysis.study_summary(results, STUDY)"),
        ]
    cells.append(new_code_cell("for note in analysis.study_notes(results, STUDY):\n    print(\"-\", note)"))
    cells.append(new_markdown_cell("## Figures"))
    cells += [new_code_cell(f"plots.show({call})") for call in spec["figures"]]
    cells += [
        new_markdown_cell("## Learning curves\n\nTest error per epoch; pruned trials are dashed and end in ×."),
        new_code_cell("plots.show(plots.plot_learning_curves(results, STUDY))"),
        new_markdown_cell("## Confusion matrix of the best completed trial\n\n"
                          "Rows are true labels; pass `trial_id=...` to look at another trial."),
        new_code_cell("plots.show(plots.plot_confusion(results, study=STUDY))"),
        new_markdown_cell("## Errored trials"),
        new_code_cell("analysis.errored_trials(results.study(STUDY))"),
    ]
    return _nb(study, cells)


def overview_notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Residual Attention Network sweeps: overview\n\n"
            "What has run, what failed, and how each study compares with Wang et al., \"Residual Attention "
            "Network for Image Classification\" (CVPR 2017). One notebook per study goes deeper: "
            + ", ".join(f"[{s}]({s}.ipynb)" for s in STUDIES) + f".\n\n{READING}\n\n"
            "Set `RAN_RESULTS_DIR` to read another results folder (default `../results`)."),
        new_code_cell(SETUP),
        new_markdown_cell("## Trials per study"),
        new_code_cell("analysis.status_counts(results)"),
        new_code_cell("plots.show(plots.plot_status_counts(results))"),
        new_code_cell('print("studies without result files:", analysis.missing_studies(results) or "none")\n'
                      'for note in results.notes:\n    print("-", note)'),
        new_markdown_cell("## Measured vs paper, per study"),
        new_code_cell(
            "from IPython.display import Markdown, display\n\n"
            "for study in results.studies:\n"
            "    display(Markdown(f\"### {study}\"))\n"
            "    display(analysis.study_summary(results, study))\n"
            "    for note in analysis.study_notes(results, study):\n"
            "        print(\"-\", note)"),
        new_markdown_cell("## Errored trials"),
        new_code_cell("analysis.errored_trials(results)"),
        new_markdown_cell("## The paper's numbers\n\n`test_error` is a fraction (0.0499 = 4.99 %)."),
        new_code_cell("paper.paper_table()"),
    ]
    return _nb("overview", cells)


def main() -> None:
    notebooks = {"overview": overview_notebook()}
    notebooks.update({s: study_notebook(s, spec) for s, spec in STUDIES.items()})
    for name, nb in notebooks.items():
        path = HERE / f"{name}.ipynb"
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
