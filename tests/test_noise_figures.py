"""The noise study's figures on fixture results: the gap panel beside the paper's, and learning
curves that tell noise levels apart."""

import numpy as np
import pytest

from ran_core import analysis
from ran_core.analysis import plots
from ran_core.common.names import pretty_model_name


@pytest.fixture(scope="module")
def res(fixture_results):
    return analysis.load_results(fixture_results)


def test_gap_panel_puts_measured_and_paper_gaps_on_one_scale(res):
    error_ax, gap_ax = plots.plot_noise_robustness(res, "noise_robustness").axes[:2]
    lines = {ln.get_label(): ln for ln in gap_ax.get_lines() if not ln.get_label().startswith("_")}
    paper = lines["paper: ResNet-164 - Attention-92, CIFAR-10"]
    np.testing.assert_allclose(paper.get_ydata(), [0.47, 0.78, 0.82, 1.08, 1.46], atol=1e-9)
    measured = [label for label in gap_ax.get_legend_handles_labels()[1] if label.startswith("measured")]
    assert len(measured) == 2 and any("digits 16x16" in label for label in measured)
    assert all(label.count("16x16") <= 1 for label in measured), measured  # the input size said once
    # Same family, same colour: measured Attention-56 and the paper's Attention-92 are both blue.
    colours = {
        label: handle.get_color() if hasattr(handle, "get_color") else handle.lines[0].get_color()
        for handle, label in zip(*error_ax.get_legend_handles_labels())
    }
    attention = {c for label, c in colours.items() if "Attention" in label}
    paper_attention = next(c for label, c in colours.items() if label.startswith("paper: Attention"))
    assert attention == {"tab:blue", "tab:cyan"} and paper_attention == "tab:blue"


def test_learning_curves_of_a_noise_study_are_panelled_by_model_and_coloured_by_noise(res):
    fig = plots.plot_learning_curves(res, "noise_robustness")
    panels = [ax for ax in fig.axes if ax.get_lines()]
    models = sorted(res.study("noise_robustness").trials["model"].unique())
    assert [ax.get_title() for ax in panels] == [pretty_model_name(m) for m in models]
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert [t for t in legend if t.startswith("noise")] == [f"noise {n}%" for n in (0, 10, 30, 50, 70)]
    resnet164 = panels[models.index("resnet164")]
    colours = {
        ln.get_color() if isinstance(ln.get_color(), str) else tuple(ln.get_color())
        for ln in resnet164.get_lines()
        if len(ln.get_xdata()) > 1
    }
    assert len(colours) == 5  # one colour per noise level
    single = plots.plot_learning_curves(res, "depth")  # no noise levels: one panel, colour = model
    assert len(single.axes) == 1
