"""Paper-claims scorecard on real result rows: Parquet written by ran_core.results.store, read back by
ran_core.analysis; each verdict, both sources of uncertainty, the paper's side and the report."""

import numpy as np
import pytest

from ran_core import analysis, results
from ran_core.analysis import report, scorecard

PER_CLASS = 100  # 1000 test images: a 2-point difference is well outside test-image noise


def _confusion(error, per_class=PER_CLASS, k=10):
    """A confusion matrix with round(per_class * error) mistakes in every class."""
    m = np.zeros((k, k), dtype=np.int64)
    wrong = int(round(per_class * error))
    for i in range(k):
        m[i, i] = per_class - wrong
        m[i, (i + 1) % k] = wrong
    return m.ravel().tolist()


def _write(root, study, cells, confusion=True, status="completed"):
    """cells: (model, settings dict, [error per seed]) -> one trial row per seed in root/study."""
    rows = []
    for model, settings, errors in cells:
        attention = model.startswith("attention")
        for seed, error in enumerate(errors):
            rows.append(
                {
                    "experiment_id": "exp",
                    "study": study,
                    "trial_id": f"t{len(rows):03d}",
                    "status": status,
                    "model": model,
                    "attention_type": settings.get("attention_type", "mixed") if attention else None,
                    "learning_mode": settings.get("learning_mode", "arl") if attention else None,
                    "noise_ratio": settings.get("noise_ratio", 0.0),
                    "dataset": settings.get("dataset", "digits"),
                    "width": 0.25,
                    "epochs": 10,
                    "seed": seed,
                    "num_classes": 10,
                    "final_test_error": error,
                    "test_confusion": _confusion(error) if confusion else None,
                }
            )
    results.compact(root / study, "trials", rows)
    return analysis.load_results(root)


def _row(scores, kind_label):
    match = scores[scores["comparison"].str.contains(kind_label, regex=False)]
    assert len(match) == 1, (kind_label, scores["comparison"].tolist())
    return match.iloc[0]


def test_noise_claim_held_with_seeds_and_paper_values_for_the_smoke_setting(tmp_path):
    cells = [
        (model, {"noise_ratio": n}, errs)
        for model, curve in (
            ("attention56", {0.0: [0.02, 0.03], 0.7: [0.10, 0.12]}),
            ("resnet56", {0.0: [0.02, 0.03], 0.7: [0.30, 0.32]}),
        )
        for n, errs in curve.items()
    ]
    scores = scorecard.score_claims(_write(tmp_path, "noise_robustness", cells))
    assert set(scores["claim"]) == {"attention resists label noise"}
    gap = _row(scores, "ResNet-56 - Attention-56, at 70% noise")
    assert gap["effect_pp"] == pytest.approx(20.0)
    assert gap["low_pp"] > 0 and gap["verdict"] == "held"
    assert gap["seeds"] == 2 and gap["uncertainty"] == "seeds and test images"
    assert gap["setting"] == "digits 16x16, width 0.25, 10 epochs (smoke)"
    # The paper has no Attention-56 / ResNet-56 noise run: its own pair stands beside, labelled.
    # mean of the paper's gaps at 10, 30, 50 and 70% noise
    assert gap["paper_pp"] == pytest.approx(((5.93 - 5.15) + (6.61 - 5.79) + (8.35 - 7.27) + (17.21 - 15.75)) / 4)
    assert "ResNet-164 - Attention-92" in gap["paper_comparison"] and "CIFAR-10" in gap["paper_comparison"]
    widens = _row(scores, "minus at 0% noise")
    assert widens["effect_pp"] == pytest.approx(20.0) and widens["verdict"] == "held"
    assert widens["paper_pp"] == pytest.approx((17.21 - 15.75) - (5.46 - 4.99))


def test_did_not_hold_and_one_seed_uses_test_images_only(tmp_path):
    cells = [
        ("attention56", {"attention_type": t}, [e]) for t, e in (("mixed", 0.20), ("channel", 0.05), ("spatial", 0.19))
    ]
    scores = scorecard.score_claims(_write(tmp_path, "attention_types", cells))
    channel = _row(scores, "channel - mixed")
    assert channel["effect_pp"] == pytest.approx(-15.0)
    assert channel["high_pp"] < 0 and channel["verdict"] == "did not hold"
    assert channel["seeds"] == 1 and channel["uncertainty"] == "test images"
    assert channel["paper_pp"] == pytest.approx(6.24 - 5.52) and channel["paper_comparison"] == "same models, CIFAR-10"
    spatial = _row(scores, "spatial - mixed")
    assert spatial["low_pp"] < 0 < spatial["high_pp"] and spatial["verdict"] == "inconclusive"


def test_seed_spread_widens_the_interval(tmp_path):
    """Same means, 1000 test images each: the deeper net wins clearly with steady seeds, not with
    seeds that disagree."""
    steady = scorecard.score_claims(
        _write(tmp_path / "a", "depth", [("attention56", {}, [0.10, 0.10]), ("attention92", {}, [0.06, 0.06])])
    )
    spread = scorecard.score_claims(
        _write(tmp_path / "b", "depth", [("attention56", {}, [0.10, 0.10]), ("attention92", {}, [0.0, 0.12])])
    )
    a, b = _row(steady, "Attention-56 - Attention-92"), _row(spread, "Attention-56 - Attention-92")
    assert a["effect_pp"] == pytest.approx(4.0) and b["effect_pp"] == pytest.approx(4.0)
    assert a["verdict"] == "held" and b["verdict"] == "inconclusive"
    assert b["high_pp"] - b["low_pp"] > 2 * (a["high_pp"] - a["low_pp"])
    assert a["paper_pp"] == pytest.approx(5.52 - 4.99) and a["claim"] == "deeper attention errs less"


def test_learning_mode_effects_and_trials_without_confusion(tmp_path):
    cells = [
        (m, {"learning_mode": mode}, [e])
        for m, mode, e in (
            ("attention56", "arl", 0.05),
            ("attention56", "nal", 0.06),
            ("attention92", "arl", 0.04),
            ("attention92", "nal", 0.09),
        )
    ]
    scores = scorecard.score_claims(_write(tmp_path, "learning_mode", cells, confusion=False))
    mean = _row(scores, "NAL - ARL, mean over Attention-56, Attention-92")
    grows = _row(scores, "(NAL - ARL) at Attention-92 minus at Attention-56")
    assert mean["effect_pp"] == pytest.approx(3.0) and grows["effect_pp"] == pytest.approx(4.0)
    # Without a confusion matrix nothing is resampled: the interval is the point itself, flagged.
    assert mean["low_pp"] == pytest.approx(3.0) and mean["high_pp"] == pytest.approx(3.0)
    assert "lack a confusion matrix" in mean["uncertainty"]
    assert mean["paper_pp"] == pytest.approx(((5.89 - 5.52) + (5.35 - 4.99)) / 2)
    assert grows["paper_pp"] == pytest.approx((5.35 - 4.99) - (5.89 - 5.52))


def test_only_completed_trials_count(tmp_path):
    _write(tmp_path, "depth", [("attention56", {}, [0.1]), ("attention92", {}, [0.05])], status="pruned")
    scores = scorecard.score_claims(analysis.load_results(tmp_path))
    assert scores.empty
    md = scorecard.scorecard_markdown(analysis.load_results(tmp_path))
    assert "No completed trials" in md and "Not tested by these results" in md


def test_fixture_results_and_report_section(fixture_results_all, tmp_path):
    root = fixture_results_all  # every study; the report goes to tmp_path
    res = analysis.load_results(root)
    scores = scorecard.score_claims(res)
    assert {c.name for c in scorecard.CLAIMS} == set(scores["claim"])
    assert set(scores["verdict"]) <= {"held", "did not hold", "inconclusive"}
    assert (scores["low_pp"] <= scores["effect_pp"]).all() and (scores["effect_pp"] <= scores["high_pp"]).all()
    noise = scores[scores["claim"] == "attention resists label noise"]
    assert set(noise["setting"]) == {"CIFAR-10, paper width, 4 epochs", "digits 16x16, width 0.25, 3 epochs (smoke)"}
    cifar = _row(noise, "ResNet-164 - Attention-92, mean over 10%-70% noise")
    assert cifar["paper_comparison"] == "same models, CIFAR-10" and cifar["paper_pp"] == pytest.approx(1.035)
    again = scorecard.score_claims(res)
    assert again["low_pp"].tolist() == scores["low_pp"].tolist()  # seeded: the same report twice

    out = tmp_path / "report"
    report.build_report(root, out)
    md = (out / "report.md").read_text()
    section = md.split("## Paper claims", 1)[1].split("\n## ", 1)[0]
    assert scorecard.VERDICT_RULE in section
    for claim in scorecard.CLAIMS:
        assert claim.name in section
