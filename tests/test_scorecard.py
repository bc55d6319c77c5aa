"""Paper-claims scorecard on real result rows: Parquet written by ran_core.results.store, read back by
ran_core.analysis; each verdict, too few seeds, Holm's adjustment, diverged trials at chance, paired
per-image outcomes and their fallback, the paper's side and the report."""

import numpy as np
import pytest

from ran_core import analysis, results
from ran_core.analysis import paired, report, scorecard

from results_fixture import ALL_STUDIES, write_fixture_results

PER_CLASS = 100  # 1000 test images: a 2-point difference is well outside test-image noise
K = 10


def _outcomes(error, seed, per_class=PER_CLASS, k=K):
    """(confusion, test_correct bits) with round(per_class * error) mistakes in every class, on the
    images hardest for this seed: trials of one seed err on overlapping images, as networks do."""
    difficulty = np.random.default_rng(seed).permutation(per_class)  # the class's images, hardest first
    wrong = int(round(per_class * error))
    m = np.zeros((k, k), dtype=np.int64)
    correct = np.ones(k * per_class, dtype=bool)
    for i in range(k):
        m[i, i] = per_class - wrong
        m[i, (i + 1) % k] = wrong
        correct[i * per_class + difficulty[:wrong]] = False
    return m.ravel().tolist(), np.packbits(correct).tobytes()


def _write(root, study, cells, record="outcomes", status="completed", diverged=()):
    """cells: (model, settings dict, [error per seed]) -> one trial row per seed in root/study.
    record: "outcomes" (confusion matrix and per-image outcomes), "confusion" or "none".
    diverged: (model, seed) pairs whose trial diverged (its final error is nonsense)."""
    rows = []
    for model, settings, errors in cells:
        attention = model.startswith("attention")
        for seed, error in enumerate(errors):
            confusion, correct = _outcomes(error, seed)
            gone = (model, seed) in diverged
            rows.append(
                {
                    "experiment_id": f"{study}-exp",
                    "study": study,
                    "trial_id": f"t{len(rows):03d}",
                    "status": "diverged" if gone else status,
                    "model": model,
                    "attention_type": settings.get("attention_type", "mixed") if attention else None,
                    "learning_mode": settings.get("learning_mode", "arl") if attention else None,
                    "noise_ratio": settings.get("noise_ratio", 0.0),
                    "dataset": settings.get("dataset", "digits"),
                    "width": 0.25,
                    "epochs": 10,
                    "seed": seed,
                    "num_classes": K,
                    "final_test_error": 0.01 if gone else error,
                    "test_confusion": confusion if record != "none" and not gone else None,
                    "test_correct": correct if record == "outcomes" and not gone else None,
                }
            )
    results.compact(root / study, "trials", rows)
    return analysis.load_results(root)


def _row(scores, kind_label):
    match = scores[scores["comparison"].str.contains(kind_label, regex=False)]
    assert len(match) == 1, (kind_label, scores["comparison"].tolist())
    return match.iloc[0]


def test_noise_claim_held_on_three_paired_seeds_with_the_papers_values(tmp_path):
    cells = [
        (model, {"noise_ratio": n}, errs)
        for model, curve in (
            ("attention56", {0.0: [0.02, 0.03, 0.02], 0.7: [0.10, 0.12, 0.11]}),
            ("resnet56", {0.0: [0.02, 0.03, 0.03], 0.7: [0.30, 0.32, 0.31]}),
        )
        for n, errs in curve.items()
    ]
    scores = scorecard.score_claims(_write(tmp_path, "noise_robustness", cells))
    assert set(scores["claim"]) == {"attention resists label noise"}
    gap = _row(scores, "ResNet-56 - Attention-56, at 70% noise")
    assert gap["effect_pp"] == pytest.approx(20.0)
    assert gap["low_pp"] > 0 and gap["verdict"] == "held" and gap["p_holm"] < 0.05
    assert gap["seeds"] == 3 and gap["diverged"] == 0 and gap["uncertainty"] == "seeds and test images, paired"
    assert gap["setting"] == "digits 16x16, width 0.25, 10 epochs (smoke)"
    # The paper has no Attention-56 / ResNet-56 noise run: its own pair stands beside, labelled.
    # mean of the paper's gaps at 10, 30, 50 and 70% noise
    assert gap["paper_pp"] == pytest.approx(((5.93 - 5.15) + (6.61 - 5.79) + (8.35 - 7.27) + (17.21 - 15.75)) / 4)
    assert "ResNet-164 - Attention-92" in gap["paper_comparison"] and "CIFAR-10" in gap["paper_comparison"]
    widens = _row(scores, "minus at 0% noise")
    assert widens["effect_pp"] == pytest.approx(20.0 - 1 / 3) and widens["verdict"] == "held"
    assert widens["paper_pp"] == pytest.approx((17.21 - 15.75) - (5.46 - 4.99))
    assert scores["p_holm"].tolist() == pytest.approx(paired.holm(scores["p_value"]).tolist())


@pytest.mark.parametrize("seeds", [1, 2])
def test_fewer_than_three_seeds_give_too_few_seeds_never_a_verdict(tmp_path, seeds):
    """A 15-point effect on 1000 test images is far outside test-image noise, yet one or two
    training runs per cell decide nothing."""
    cells = [("attention56", {"attention_type": t}, [e] * seeds) for t, e in (("mixed", 0.20), ("channel", 0.05))]
    scores = scorecard.score_claims(_write(tmp_path, "attention_types", cells))
    channel = _row(scores, "channel - mixed")
    assert channel["effect_pp"] == pytest.approx(-15.0) and channel["seeds"] == seeds
    assert channel["verdict"] == "too few seeds" and np.isnan(channel["p_holm"])
    assert np.isfinite(channel["low_pp"]) and channel["high_pp"] < 0, "the interval is still shown"
    md = scorecard.scorecard_markdown(analysis.load_results(tmp_path))
    assert "Too few seeds" in md and "--seeds 3" in md


def test_a_cell_missing_a_seed_pairs_on_the_seeds_both_have(tmp_path):
    cells = [("attention56", {}, [0.10, 0.10, 0.10, 0.10]), ("attention92", {}, [0.06, 0.06, 0.06])]
    four_and_three = _row(scorecard.score_claims(_write(tmp_path, "depth", cells)), "Attention-56 - Attention-92")
    assert four_and_three["seeds"] == 3 and four_and_three["effect_pp"] == pytest.approx(4.0)


def test_did_not_hold_and_inconclusive(tmp_path):
    cells = [
        ("attention56", {"attention_type": t}, errs)
        for t, errs in (("mixed", [0.20, 0.21, 0.20]), ("channel", [0.05, 0.06, 0.05]), ("spatial", [0.19, 0.22, 0.20]))
    ]
    scores = scorecard.score_claims(_write(tmp_path, "attention_types", cells))
    channel = _row(scores, "channel - mixed")
    assert channel["effect_pp"] == pytest.approx(-15.0)
    assert channel["high_pp"] < 0 and channel["verdict"] == "did not hold"
    assert channel["paper_pp"] == pytest.approx(6.24 - 5.52) and channel["paper_comparison"] == "same models, CIFAR-10"
    spatial = _row(scores, "spatial - mixed")
    assert spatial["low_pp"] < 0 < spatial["high_pp"] and spatial["verdict"] == "inconclusive"


def test_seed_spread_widens_the_interval(tmp_path):
    """Same means, 1000 test images each: the deeper net wins clearly with steady seeds, not with
    seeds that disagree."""
    steady = scorecard.score_claims(
        _write(tmp_path / "a", "depth", [("attention56", {}, [0.10] * 3), ("attention92", {}, [0.06] * 3)])
    )
    spread = scorecard.score_claims(
        _write(tmp_path / "b", "depth", [("attention56", {}, [0.10] * 3), ("attention92", {}, [0.0, 0.12, 0.06])])
    )
    a, b = _row(steady, "Attention-56 - Attention-92"), _row(spread, "Attention-56 - Attention-92")
    assert a["effect_pp"] == pytest.approx(4.0) and b["effect_pp"] == pytest.approx(4.0)
    assert a["verdict"] == "held" and b["verdict"] == "inconclusive"
    assert b["high_pp"] - b["low_pp"] > 2 * (a["high_pp"] - a["low_pp"])
    assert a["paper_pp"] == pytest.approx(5.52 - 4.99) and a["claim"] == "deeper attention errs less"


def test_per_image_pairing_is_used_where_recorded_and_the_confusion_matrix_otherwise(tmp_path):
    cells = [("attention56", {}, [0.10, 0.11, 0.10]), ("attention92", {}, [0.07, 0.08, 0.08])]
    with_images = _row(scorecard.score_claims(_write(tmp_path / "a", "depth", cells)), "Attention-56")
    by_class = _row(scorecard.score_claims(_write(tmp_path / "b", "depth", cells, record="confusion")), "Attention-56")
    bare = _row(scorecard.score_claims(_write(tmp_path / "c", "depth", cells, record="none")), "Attention-56")
    assert with_images["uncertainty"] == "seeds and test images, paired"
    assert by_class["uncertainty"].startswith("seeds paired; test images by class")
    assert "lack a confusion matrix" in bare["uncertainty"]
    for row in (with_images, by_class, bare):
        assert row["effect_pp"] == pytest.approx(8 / 3) and row["seeds"] == 3
    # Without anything per image, the interval is the seeds' alone: narrower than with the images' part.
    assert bare["high_pp"] - bare["low_pp"] < by_class["high_pp"] - by_class["low_pp"]


def test_holm_can_leave_an_interval_that_misses_zero_inconclusive(tmp_path):
    """Seeds alone (no per-image records): a depth effect of 2, 3 and 4 points has t = 5.2 on 2
    degrees of freedom, p = 0.035: held when it is the only effect tested, not beside two more."""
    depth = [("attention56", {}, [0.10, 0.10, 0.10]), ("attention92", {}, [0.08, 0.07, 0.06])]
    alone = _row(scorecard.score_claims(_write(tmp_path, "depth", depth, record="none")), "Attention-56")
    assert alone["p_value"] == pytest.approx(0.035, abs=0.001) and alone["p_holm"] == alone["p_value"]
    assert alone["low_pp"] > 0 and alone["verdict"] == "held"
    types = [("attention56", {"attention_type": t}, [0.10, 0.12, 0.11]) for t in ("mixed", "channel", "spatial")]
    _write(tmp_path, "attention_types", types, record="none")
    scores = scorecard.score_claims(analysis.load_results(tmp_path))
    among_three = _row(scores, "Attention-56 - Attention-92")
    assert len(scores) == 3 and among_three["p_holm"] == pytest.approx(3 * among_three["p_value"])
    assert among_three["low_pp"] > 0 and among_three["verdict"] == "inconclusive"


def test_a_diverged_trial_counts_at_chance_in_its_cell(tmp_path):
    """Attention-92's seed 2 diverged: it counts at 90% error (10 classes), so the deeper network's
    mean error is no longer the lower one; dropping it would have favoured the model that diverged."""
    cells = [("attention56", {}, [0.10, 0.10, 0.10]), ("attention92", {}, [0.06, 0.06, 0.06])]
    scores = scorecard.score_claims(_write(tmp_path, "depth", cells, diverged={("attention92", 2)}))
    effect = _row(scores, "Attention-56 - Attention-92")
    assert effect["diverged"] == 1 and effect["seeds"] == 3
    assert effect["effect_pp"] == pytest.approx(((10 - 6) + (10 - 6) + (10 - 90)) / 3)
    assert effect["verdict"] != "held"
    md = scorecard.scorecard_markdown(analysis.load_results(tmp_path))
    assert "1 diverged trial(s)" in md and "chance error" in scorecard.VERDICT_RULE


def test_only_completed_and_diverged_trials_count(tmp_path):
    _write(tmp_path, "depth", [("attention56", {}, [0.1] * 3), ("attention92", {}, [0.05] * 3)], status="pruned")
    scores = scorecard.score_claims(analysis.load_results(tmp_path))
    assert scores.empty
    md = scorecard.scorecard_markdown(analysis.load_results(tmp_path))
    assert "No completed trials" in md and "Not tested by these results" in md


def test_verdict_rule():
    assert scorecard.verdict(2.0, 0.01, 2) == "too few seeds"
    assert scorecard.verdict(2.0, 0.01, 3) == "held" and scorecard.verdict(-2.0, 0.01, 3) == "did not hold"
    assert scorecard.verdict(2.0, 0.06, 5) == "inconclusive"


def test_fixture_results_and_report_section(tmp_path):
    root = write_fixture_results(tmp_path / "results", ALL_STUDIES)
    res = analysis.load_results(root)
    scores = scorecard.score_claims(res)
    assert {c.name for c in scorecard.CLAIMS} == set(scores["claim"])
    assert set(scores["verdict"]) <= set(scorecard.VERDICTS)
    assert (scores["low_pp"] <= scores["effect_pp"]).all() and (scores["effect_pp"] <= scores["high_pp"]).all()
    assert (scores.loc[scores["seeds"] < scorecard.MIN_SEEDS, "verdict"] == "too few seeds").all()
    noise = scores[scores["claim"] == "attention resists label noise"]
    assert set(noise["setting"]) == {"CIFAR-10, paper width, 4 epochs", "digits 16x16, width 0.25, 3 epochs (smoke)"}
    cifar = _row(noise, "ResNet-164 - Attention-92, mean over 10%-70% noise")
    assert cifar["paper_comparison"] == "same models, CIFAR-10" and cifar["paper_pp"] == pytest.approx(1.035)
    assert cifar["uncertainty"] == "seeds and test images, paired"
    again = scorecard.score_claims(res)
    assert again["low_pp"].tolist() == scores["low_pp"].tolist()  # deterministic: the same report twice

    out = tmp_path / "report"
    report.build_report(root, out)
    md = (out / "report.md").read_text()
    section = md.split("## Paper claims", 1)[1].split("\n## ", 1)[0]
    assert scorecard.VERDICT_RULE in section
    for claim in scorecard.CLAIMS:
        assert claim.name in section
    assert "What was selected on what" in md
    noise_section = md.split("(`noise_robustness`", 1)[1].split("\n## ", 1)[0]
    assert "**Protocol: the paper's.**" in noise_section
    search_section = md.split("(`search`", 1)[1].split("\n## ", 1)[0]
    assert "**Protocol: validation split.**" in search_section
    chosen = analysis.selected_configuration(res, "search").iloc[0]
    assert f"| {chosen['trial_id']} |" in search_section and "reported once beside the paper's" in search_section
    tables = [line for line in search_section.splitlines() if line.startswith("| ")]
    headers = [line for line in tables if "trial_id" in line or "rung" in line]
    assert sum("test error" in h for h in headers) == 1, "a test error column only for the selected configuration"
    assert any("best validation error % at stop" in h for h in headers)
