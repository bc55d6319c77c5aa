"""What each study is, declared once: the report, the analysis library and the notebooks read it.

A study's sweep (its grid or search, and the smoke and paper presets) lives in its script,
`sweeps/<name>.py` (``PRESETS``); this table says what the study asks, which of the paper's tables
answer it, which figures show it and how its summary table is sorted. Nothing else in the library
names a study.
"""

from __future__ import annotations

import dataclasses

from ran_core.common.paper import TABLE_PRECEDENCE

__all__ = ["ClaimSpec", "FigureSpec", "STUDIES", "STUDY_NAMES", "StudyInfo", "study_info"]


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    """A figure of a study: a `ran_core.analysis.plots` function of (results, study), its file suffix and caption."""

    function: str
    suffix: str
    caption: str


@dataclasses.dataclass(frozen=True)
class ClaimSpec:
    """The paper's claim a study tests, for the scorecard: a short name, the statement, and the
    `ran_core.analysis.scorecard` function that builds its effects; `varies_noise`: the claim compares noise levels."""

    name: str
    statement: str
    effects: str
    varies_noise: bool = False


@dataclasses.dataclass(frozen=True)
class StudyInfo:
    """One study. `paper_tables`: the tables holding its reference numbers, the first listed winning
    where two report the same setting. `summary`: "cells" (measured vs paper, one row per cell) or
    "best_trials" (the best configurations of a search, with ASHA's rungs). `sort_keys`: the cell
    table's order (``depth`` is parsed from the model name); `value_order` orders a key's values."""

    name: str
    title: str
    paper: str
    question: str
    paper_tables: tuple = TABLE_PRECEDENCE
    figures: tuple = ()
    summary: str = "cells"
    sort_keys: tuple = ()
    value_order: dict = dataclasses.field(default_factory=dict)
    show_params: bool = False
    claim: ClaimSpec | None = None

    @property
    def script(self):
        """The sweep script holding this study's smoke and paper presets (``PRESETS``)."""
        return f"sweeps/{self.name}.py"


_TABLE = (
    StudyInfo(
        "noise_robustness",
        "Noise robustness",
        "Table 5",
        "Does attention make a network more robust to noisy training labels? Attention models are trained "
        "beside ResNet baselines with 0, 10, 30, 50 and 70 % of the training labels corrupted by the paper's "
        "confusion matrix Q (Eq. 7); test labels stay clean. The paper compares Attention-92 with ResNet-164 "
        "on CIFAR-10 (the 0 % point comes from Table 6).",
        paper_tables=(5, 6),  # Table 6 supplies the clean (noise 0) point
        figures=(FigureSpec("plot_noise_robustness", "", "Test error vs label-noise ratio"),),
        sort_keys=("dataset", "model", "noise_ratio"),
        claim=ClaimSpec(
            "attention resists label noise",
            "Attention errs less than ResNet under label noise, and the gap widens as noise grows (Table 5).",
            "noise_effects",
            varies_noise=True,
        ),
    ),
    StudyInfo(
        "depth",
        "Depth",
        "Table 6 (and Table 3, ARL column)",
        "How does test error change from Attention-56 to Attention-236 on CIFAR-10 and CIFAR-100, and do "
        "the models' parameter counts match Table 6?",
        paper_tables=(6, 3),
        figures=(
            FigureSpec("plot_depth", "", "Test error vs depth"),
            FigureSpec("plot_params", "_params", "Parameters vs depth"),
        ),
        sort_keys=("dataset", "depth", "model"),
        show_params=True,
        claim=ClaimSpec(
            "deeper attention errs less", "Deeper Attention networks err less (Tables 3 and 6).", "depth_effects"
        ),
    ),
    StudyInfo(
        "attention_types",
        "Attention types",
        "Table 1",
        "Which soft-mask activation works best for Attention-56 on CIFAR-10: mixed (sigmoid per channel and "
        "position), channel (L2 normalisation across channels) or spatial (each channel map normalised over "
        "positions, then sigmoid)?",
        paper_tables=(1,),
        figures=(FigureSpec("plot_attention_types", "", "Test error per attention type"),),
        sort_keys=("dataset", "model", "attention_type"),
        value_order={"attention_type": ("mixed", "channel", "spatial")},
        claim=ClaimSpec(
            "mixed attention is best",
            "Mixed attention errs less than channel and spatial attention (Table 1).",
            "attention_type_effects",
        ),
    ),
    StudyInfo(
        "learning_mode",
        "Learning mode: ARL vs NAL",
        "Table 3",
        "Attention residual learning, H = (1 + M(x)) · T(x), versus naive attention learning, "
        "H = M(x) · T(x). The paper finds NAL degrades as more modules are stacked (Attention-56 to -164) "
        "while ARL keeps improving.",
        paper_tables=(3,),
        figures=(FigureSpec("plot_learning_mode", "", "ARL vs NAL by depth"),),
        sort_keys=("dataset", "learning_mode", "depth"),
        claim=ClaimSpec(
            "ARL beats NAL",
            "Attention residual learning errs less than naive attention learning, and more so as depth grows "
            "(Table 3).",
            "learning_mode_effects",
        ),
    ),
    StudyInfo(
        "search",
        "Free search (Optuna + ASHA)",
        "no paper counterpart",
        "An open search over models, attention settings and training hyper-parameters, with ASHA stopping "
        "weak trials early. Which configurations came out best, and where did ASHA stop the rest? Best "
        "trials are still matched to the paper where their setting appears in it.",
        paper_tables=(6, 3, 1, 5),
        figures=(FigureSpec("plot_asha", "_asha", "ASHA: where each trial stopped"),),
        summary="best_trials",
    ),
)

STUDIES = {info.name: info for info in _TABLE}
STUDY_NAMES = tuple(STUDIES)


def study_info(name):
    """The declared study, or a plain entry (all paper tables, no figures) for any other name."""
    if name in STUDIES:
        return STUDIES[name]
    return StudyInfo(str(name), str(name), "no paper counterpart", "")
