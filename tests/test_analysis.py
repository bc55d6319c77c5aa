"""Loading, aggregation, paper joins, figures and the report CLI on fixture results."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ran_core import analysis
from ran_core.analysis import plots, report
from ran_core.common import paper
from ran_core.common.studies import STUDIES, STUDY_NAMES, study_info
from ran_core.results import EPOCHS_SCHEMA, TRIALS_SCHEMA, column_types, compact

from results_fixture import ALL_STUDIES

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root(fixture_results_all):
    return fixture_results_all


@pytest.fixture(scope="module")
def res(root):
    return analysis.load_results(root)


@pytest.fixture
def partial_root(fixture_results_copy):
    """The default fixture: attention_types missing, learning_mode without epochs.parquet (a copy: reports
    are written into it)."""
    return fixture_results_copy


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def _open_pyplot_figures() -> int:
    from matplotlib import _pylab_helpers

    return _pylab_helpers.Gcf.get_num_fig_managers()


# --------------------------------------------------------------------------- paper


def test_paper_values_are_fractions_with_documented_columns():
    df = paper.paper_table()
    assert list(df.columns) == paper.COLUMNS
    assert set(df["table"]) == {1, 3, 4, 5, 6}
    assert df["test_error"].between(0, 1).all()

    def err(**kw):
        sel = df
        for k, v in kw.items():
            sel = sel[sel[k] == v]
        assert len(sel) == 1, kw
        return sel["test_error"].iloc[0]

    assert err(table=1, attention_type="spatial") == pytest.approx(0.0633)
    assert err(table=3, model="attention164", learning_mode="nal") == pytest.approx(0.0718)
    assert err(table=4, mask_structure="local_conv") == pytest.approx(0.0648)
    assert err(table=5, model="resnet164", noise_ratio=0.7) == pytest.approx(0.1721)
    assert err(table=6, model="attention452", dataset="cifar100") == pytest.approx(0.2045)
    assert df.loc[(df["table"] == 6) & (df["model"] == "attention92"), "params_m"].iloc[0] == 1.9
    assert df.loc[df["model"] == "resnet164", "attention_type"].isna().all()


def test_reference_for_is_unique_per_setting_and_rejects_unknown_tables():
    for study in [None, *STUDY_NAMES]:
        ref = paper.reference_for(study_info(study).paper_tables)
        assert not ref.duplicated(paper.JOIN_KEYS).any()
        assert (ref["mask_structure"] != "local_conv").all()
    noise = paper.reference_for(STUDIES["noise_robustness"].paper_tables)
    clean = noise[(noise["model"] == "attention92") & (noise["noise_ratio"] == 0) & (noise["dataset"] == "cifar10")]
    assert clean["table"].tolist() == [6]
    with pytest.raises(ValueError, match="Received"):
        paper.paper_table(7)


# --------------------------------------------------------------------------- loading


def test_load_root_finds_studies_and_keeps_documented_columns(res):
    assert res.studies == list(ALL_STUDIES)
    assert list(res.trials.columns[: len(analysis.TRIAL_COLUMNS)]) == list(analysis.TRIAL_COLUMNS)
    assert list(res.epochs.columns[: len(analysis.EPOCH_COLUMNS)]) == list(analysis.EPOCH_COLUMNS)
    assert res.trials["final_test_error"].dtype == "float64"
    assert str(res.trials["seed"].dtype) == "Int64"
    assert res.trials.loc[res.trials["model"] == "attention92", "depth"].eq(92).all()
    assert "learning_mode: epochs.parquet missing" in res.notes
    assert len(res.sources) == 5  # notes/ has no Parquet and is ignored
    assert "55 trials" in repr(res)


def test_load_single_study_folder_and_many_paths_without_duplicates(root, res):
    one = analysis.load_results(root / "depth")
    assert one.studies == ["depth"]
    assert len(one.trials) == (res.trials["study"] == "depth").sum()
    both = analysis.load_results([root / "depth", root, str(root / "search")])
    assert len(both.trials) == len(res.trials)
    assert len(both.epochs) == len(res.epochs)


def test_missing_files_give_empty_frames_with_columns(tmp_path):
    (tmp_path / "empty_study").mkdir()
    empty = analysis.load_results(tmp_path)
    assert empty.empty and empty.studies == [] and empty.sources == []
    assert set(analysis.TRIAL_COLUMNS) <= set(empty.trials.columns)
    assert set(analysis.EPOCH_COLUMNS) <= set(empty.epochs.columns)
    with pytest.warns(UserWarning, match="does not exist"):
        gone = analysis.load_results(tmp_path / "nope")
    assert gone.empty
    assert analysis.missing_studies(gone) == list(STUDY_NAMES)
    assert analysis.aggregate(gone).empty
    assert analysis.study_summary(gone, "depth").empty
    assert analysis.study_summary(gone, "search").empty
    assert analysis.asha_table(gone).empty and analysis.asha_rungs(gone).empty
    assert analysis.learning_curves(gone).empty
    assert analysis.status_counts(gone).empty
    assert analysis.best_trial(gone) is None


def test_older_file_with_fewer_columns_is_filled_in(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path / "depth"
    d.mkdir()
    pq.write_table(
        pa.table(
            {
                "experiment_id": ["e"],
                "trial_id": ["t1"],
                "status": ["completed"],
                "model": ["attention56"],
                "dataset": ["cifar10"],
                "final_test_error": [0.06],
            }
        ),
        d / "trials.parquet",
    )
    res = analysis.load_results(tmp_path)
    assert res.studies == ["depth"]  # study filled in from the folder name
    assert set(analysis.TRIAL_COLUMNS) <= set(res.trials.columns)
    cells = analysis.cell_table(res, "depth")
    assert cells["n_completed"].tolist() == [1] and cells["paper_test_error"].isna().all()
    for make in (plots.plot_depth, plots.plot_params, plots.plot_confusion, plots.plot_learning_curves):
        make(res, "depth")


def _full_row(schema, **values):
    """A row with a non-null value in every column of `schema`."""
    sample = {
        "string": "x",
        "float64": 0.25,
        "int64": 3,
        "bool": True,
        "list<float64>": [0.4, 0.6],
        "list<int64>": [1, 0, 0, 1],
        "binary": b"\x90",
    }
    return {name: values.get(name, sample[kind]) for name, kind in column_types(schema).items()}


def test_load_results_keeps_every_written_column_with_its_value(tmp_path):
    trial = _full_row(TRIALS_SCHEMA, study="depth", model="attention92", num_classes=2)
    epoch = _full_row(EPOCHS_SCHEMA, study="depth", epoch=1)
    compact(tmp_path / "depth", "trials", [trial])
    compact(tmp_path / "depth", "epochs", [epoch])
    res = analysis.load_results(tmp_path)
    assert list(analysis.TRIAL_COLUMNS) == TRIALS_SCHEMA.names and list(analysis.EPOCH_COLUMNS) == EPOCHS_SCHEMA.names
    for frame, row in ((res.trials, trial), (res.epochs, epoch)):
        loaded = frame.iloc[0]
        for name, value in row.items():
            got = loaded[name]
            assert (list(got) if isinstance(value, list) else got) == value, name
    assert res.trials["augment"].dtype == "boolean" and str(res.trials["momentum"].dtype) == "float64"


def _readme_tables():
    """{file: {column: type}} from results/README.md's column tables."""
    tables, current = {}, None
    for line in (REPO / "results" / "README.md").read_text().splitlines():
        if line.startswith("## "):
            current = tables.setdefault(line[3:].strip(), {})
        elif current is not None and line.startswith("| `"):
            names_cell, type_cell = [c.strip() for c in line.strip("|").split("|")][:2]
            names = [n.strip().strip("`") for n in names_cell.split(",")]
            types = [t.strip() for t in type_cell.split(",") if t.strip() != "null"]
            if len(types) == 1:
                types = types * len(names)
            assert len(types) == len(names), line
            current.update(zip(names, types))
    return tables


def test_results_readme_documents_exactly_the_schema():
    tables = _readme_tables()
    assert tables["trials.parquet"] == column_types(TRIALS_SCHEMA)
    epochs = column_types(EPOCHS_SCHEMA)
    documented = tables["epochs.parquet"]
    # epochs.parquet's table says "as above" for the key columns it shares with trials.parquet
    assert {name: documented.get(name, tables["trials.parquet"].get(name)) for name in epochs} == epochs
    assert set(documented) <= set(epochs)


def test_trials_without_epochs_file_and_epochs_without_trials(tmp_path, root):
    import shutil

    shutil.copy(root / "search" / "epochs.parquet", tmp_path / "epochs.parquet")
    only_epochs = analysis.load_results(tmp_path)
    assert only_epochs.trials.empty and only_epochs.studies == ["search"]
    curves = analysis.learning_curves(only_epochs)
    assert set(curves["status"]) == {"unknown"}
    assert set(analysis.asha_table(only_epochs)["status"]) == {"unknown"}
    assert any("no trial rows" in n for n in analysis.study_notes(only_epochs, "search"))
    plots.plot_learning_curves(only_epochs)
    plots.plot_asha(only_epochs)


# --------------------------------------------------------------------------- aggregation


def test_aggregate_over_seeds_uses_completed_trials_only(res):
    cells = analysis.aggregate(res.study("noise_robustness"))
    c = cells[(cells["model"] == "resnet164") & (cells["noise_ratio"] == 0.7)].iloc[0]
    assert (c["n_trials"], c["n_completed"], c["n_pruned"], c["n_errored"]) == (3, 2, 1, 0)
    assert c["seeds"] == "0,1"
    done = res.trials[
        (res.trials["study"] == "noise_robustness")
        & (res.trials["model"] == "resnet164")
        & (res.trials["noise_ratio"] == 0.7)
        & (res.trials["status"] == "completed")
    ]
    errs = done["final_test_error"].to_numpy()
    assert c["mean_test_error"] == pytest.approx(errs.mean())
    assert c["std_test_error"] == pytest.approx(errs.std(ddof=1))
    assert (c["min_test_error"], c["max_test_error"]) == (errs.min(), errs.max())
    e = cells[(cells["model"] == "attention92") & (cells["noise_ratio"] == 0.5)].iloc[0]
    assert (e["n_completed"], e["n_errored"]) == (2, 1)
    # ResNet cells carry no attention settings; single-seed cells have NaN std.
    assert cells.loc[cells["model"].str.startswith("resnet"), "attention_type"].isna().all()
    single = cells[cells["dataset"] == "digits"]
    assert single["std_test_error"].isna().all() and (single["n_completed"] == 1).all()


def test_cell_with_only_errored_trials_is_kept_as_gap(res):
    cells = analysis.cell_table(res, "depth")
    gap = cells[cells["model"] == "attention236"].iloc[0]
    assert gap["n_completed"] == 0 and gap["n_errored"] == 1 and np.isnan(gap["mean_test_error"])
    assert gap["paper_test_error"] == pytest.approx(0.0414)
    summary = analysis.study_summary(res, "depth")
    row = summary[summary["model"] == "attention236"].iloc[0]
    assert row["test error % (mean ± std)"] == "no completed trials"
    assert any("attention236" in n for n in analysis.study_notes(res, "depth"))


def test_status_counts_keep_every_recorded_status_apart():
    statuses = ["completed", "diverged", "diverged", "interrupted", "pruned", "mystery"]
    trials = pd.DataFrame({"study": "noise_robustness", "status": statuses})
    row = analysis.status_counts(trials).set_index("study").loc["noise_robustness"]
    expected = {"completed": 1, "pruned": 1, "diverged": 2, "interrupted": 1, "errored": 0, "other": 1, "total": 6}
    assert row.to_dict() == expected


def test_status_counts_and_errored_list(res):
    counts = analysis.status_counts(res).set_index("study")
    assert counts.loc["search", ["completed", "pruned", "errored", "total"]].tolist() == [2, 7, 1, 10]
    errored = analysis.errored_trials(res)
    assert len(errored) == 3 and errored["error"].str.contains("memory|OOM").all()


# --------------------------------------------------------------------------- paper join


def test_join_matches_paper_settings_and_leaves_others_empty(res):
    cells = analysis.cell_table(res, "noise_robustness")
    att = cells[(cells["model"] == "attention92") & (cells["noise_ratio"] == 0.1)].iloc[0]
    assert att["paper_test_error"] == pytest.approx(0.0515) and att["paper_table"] == 5
    assert att["delta_test_error"] == pytest.approx(att["mean_test_error"] - 0.0515)
    clean = cells[(cells["model"] == "resnet164") & (cells["noise_ratio"] == 0)].iloc[0]
    assert clean["paper_test_error"] == pytest.approx(0.0546) and clean["paper_table"] == 6
    smoke = cells[cells["dataset"] == "digits"]
    assert smoke["paper_test_error"].isna().all() and smoke["paper_table"].isna().all()
    summary = analysis.study_summary(res, "noise_robustness")
    assert (summary.loc[summary["dataset"] == "digits", "paper %"] == analysis.NO_PAPER_VALUE).all()
    assert set(summary.loc[summary["dataset"] == "cifar10", "paper source"]) == {"Table 5", "Table 6"}


def test_join_per_study_tables(res):
    types = analysis.cell_table(res, "attention_types").set_index("attention_type")
    assert types.loc["channel", "paper_test_error"] == pytest.approx(0.0624)
    assert analysis.study_summary(res, "attention_types")["attention type"].tolist() == ["mixed", "channel", "spatial"]
    depth = analysis.cell_table(res, "depth")
    a92 = depth[(depth["model"] == "attention92") & (depth["dataset"] == "cifar100")].iloc[0]
    assert a92["paper_test_error"] == pytest.approx(0.2171) and a92["paper_params_m"] == 1.9
    a56 = depth[(depth["model"] == "attention56") & (depth["dataset"] == "cifar10")].iloc[0]
    assert a56["paper_table"] == 3 and a56["paper_test_error"] == pytest.approx(0.0552)
    nal = pd.DataFrame(
        [
            {
                "study": "learning_mode",
                "model": "attention164",
                "dataset": "cifar10",
                "attention_type": "mixed",
                "learning_mode": "nal",
                "noise_ratio": 0.0,
                "mean_test_error": 0.07,
            }
        ]
    )
    assert analysis.join_paper(nal)["paper_test_error"].iloc[0] == pytest.approx(0.0718)


# --------------------------------------------------------------------------- ASHA / curves / confusion


def test_asha_rungs_are_inferred_from_pruned_stops(res):
    table = analysis.asha_table(res, "search")
    assert len(table) == 9  # the errored trial is left out
    assert table.groupby("rung")["rung_epoch"].first().to_dict() == {0: 1, 1: 3, 2: 9}
    assert set(table.loc[table["status"] == "completed", "rung"]) == {2}
    rungs = analysis.asha_rungs(res, "search")
    assert rungs["stopped here"].tolist() == [5, 2, 2]
    assert rungs["reached"].tolist() == [9, 4, 2]


def test_learning_curves_keep_pruned_and_drop_errored(res):
    curves = analysis.learning_curves(res, "noise_robustness")
    assert set(curves["status"]) == {"completed", "pruned"}
    errored_ids = set(res.trials.loc[res.trials["status"] == "errored", "trial_id"])
    assert errored_ids.isdisjoint(curves["trial_id"])
    with_err = analysis.learning_curves(res, "noise_robustness", include_errored=True)
    assert "errored" in set(with_err["status"])


def test_confusion_matrix_shape_and_best_trial(res):
    best = analysis.best_trial(res, "depth", need_confusion=True)
    assert best["model"] == "attention92" and best["dataset"] == "cifar10"
    m = analysis.confusion_matrix(best)
    assert m.shape == (10, 10) and m.sum() > 0
    cifar100 = res.trials[(res.trials["study"] == "depth") & (res.trials["dataset"] == "cifar100")].iloc[0]
    assert analysis.confusion_matrix(cifar100).shape == (100, 100)
    bad = best.copy()
    bad["test_confusion"] = [1, 2, 3]
    with pytest.raises(ValueError, match="Received"):
        analysis.confusion_matrix(bad)


def test_search_summary_ranks_by_validation_error_and_reports_the_test_error_once(res):
    summary = analysis.study_summary(res, "search")
    assert summary["rank"].tolist() == [1, 2]
    assert summary["validation error %"].tolist() == sorted(summary["validation error %"].tolist())
    assert not [c for c in summary.columns if "test" in c], "no test error beside configurations being compared"
    trials = res.trials[(res.trials["study"] == "search") & (res.trials["status"] == "completed")]
    by_test = trials.sort_values("final_test_error").iloc[0]
    chosen = analysis.selected_configuration(res, "search")
    assert len(chosen) == 1 and chosen["trial_id"].iloc[0] == summary["trial_id"].iloc[0]
    assert chosen["trial_id"].iloc[0] != by_test["trial_id"], "chosen by validation error, not by test error"
    assert {"test error %", "paper %"} <= set(chosen.columns)
    assert analysis.best_trial(res, "search")["trial_id"] == chosen["trial_id"].iloc[0]
    assert "validation split" in analysis.protocol(res, "search")
    assert "the paper's" in analysis.protocol(res, "depth")


def test_to_markdown_escapes_pipes():
    md = analysis.to_markdown(pd.DataFrame({"a": ["x|y", None], "b": [1.5, np.nan]}))
    assert md.splitlines()[0] == "| a | b |" and "x\\|y" in md and "| — | — |" in md
    assert analysis.to_markdown(pd.DataFrame()) == "_(no rows)_"


# --------------------------------------------------------------------------- figures

FIGURES = [
    ("noise", lambda r: plots.plot_noise_robustness(r, "noise_robustness")),
    ("mode", lambda r: plots.plot_learning_mode(r, "learning_mode")),
    ("types", lambda r: plots.plot_attention_types(r, "attention_types")),
    ("depth", lambda r: plots.plot_depth(r, "depth")),
    ("params", lambda r: plots.plot_params(r, "depth")),
    ("curves", lambda r: plots.plot_learning_curves(r, "search")),
    ("asha", lambda r: plots.plot_asha(r, "search")),
    ("confusion", lambda r: plots.plot_confusion(r, study="noise_robustness")),
    ("status", lambda r: plots.plot_status_counts(r)),
]


@pytest.mark.parametrize("name,make", FIGURES, ids=[f[0] for f in FIGURES])
def test_figures_render_with_data_and_show_gaps_without(name, make, res, tmp_path):
    from matplotlib.figure import Figure

    before = _open_pyplot_figures()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make(res)
    assert isinstance(fig, Figure)
    assert all(ax.get_title() or fig._suptitle for ax in fig.axes[:1])
    path = plots.save_png(fig, tmp_path / f"{name}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no " not in _texts(fig)
    with pytest.warns(UserWarning):
        empty = analysis.load_results(tmp_path / "missing")
    gap = make(empty)
    assert isinstance(gap, Figure)
    assert "no " in _texts(gap)
    plots.figure_to_png(gap)
    assert _open_pyplot_figures() == before


def test_figure_labels_paper_and_units(res):
    fig = plots.plot_noise_robustness(res, "noise_robustness")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert any(lbl.startswith("paper") for lbl in labels)
    assert any(lbl.startswith("measured") for lbl in labels)
    assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
    paper_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("paper")]
    assert paper_lines and all(ln.get_linestyle() == "--" for ln in paper_lines)
    # A study with no completed trials still shows the paper values next to the gap.
    empty = analysis.load_results([])
    gap_ax = plots.plot_noise_robustness(empty).axes[0]
    assert any(lbl.startswith("paper") for lbl in gap_ax.get_legend_handles_labels()[1])
    assert "no completed trials" in " ".join(t.get_text() for t in gap_ax.texts)


def test_confusion_for_named_or_unknown_trial(res):
    tid = res.trials.loc[res.trials["study"] == "depth", "trial_id"].iloc[0]
    fig = plots.plot_confusion(res, trial_id=tid)
    assert tid in fig.axes[0].get_title() and "true label" in fig.axes[0].get_ylabel()
    assert "no trial" in _texts(plots.plot_confusion(res, trial_id="does-not-exist"))
    errored = res.trials.loc[res.trials["status"] == "errored", "trial_id"].iloc[0]
    assert "no confusion matrix" in _texts(plots.plot_confusion(res, trial_id=errored))


def test_pruned_curves_are_dashed(res):
    fig = plots.plot_learning_curves(res, "search")
    styles = {ln.get_linestyle() for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) > 1}
    assert {"-", "--"} <= styles


# --------------------------------------------------------------------------- report


def test_report_writes_pngs_and_markdown(partial_root, tmp_path):
    out = tmp_path / "report"
    assert report.main([str(partial_root), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    pngs = {p.name for p in out.glob("*.png")}
    assert {
        "overview_status.png",
        "noise_robustness.png",
        "depth.png",
        "depth_params.png",
        "learning_mode.png",
        "search_asha.png",
        "search_curves.png",
    } <= pngs
    assert "attention_types.png" not in pngs and "learning_mode_curves.png" not in pngs
    for name in pngs:
        assert f"({name})" in md
    assert not list(out.glob(".*tmp"))
    assert "| paper % |" in md and "no paper value" in md and "5.15" in md
    assert "## Errored trials" in md and "ResourceExhaustedError" in md
    assert "attention_types: no result files found." in md
    assert "learning_mode: epochs.parquet missing" in md


def test_report_default_out_and_single_study(partial_root):
    assert report.main([str(partial_root / "search")]) == 0
    out = partial_root / "search" / "report"
    assert (out / "report.md").is_file() and (out / "search_asha.png").is_file()
    # the report folder holds no Parquet, so the results still load the same
    assert analysis.load_results(partial_root).studies == ["noise_robustness", "depth", "learning_mode", "search"]


def test_report_cli_fails_clearly_on_missing_or_empty_dir(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "ran_core.analysis", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    (tmp_path / "empty" / "depth").mkdir(parents=True)
    assert report.main([str(tmp_path / "empty")]) != 0
    assert not (tmp_path / "empty" / "report").exists()


# --------------------------------------------------------------------------- one source per fact


def _code_strings(path):
    """String constants of a module's code (docstrings left out) and those compared with a name `study`."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    }
    compared = {
        c.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(x, ast.Name) and x.id == "study" for x in [n.left, *n.comparators])
        for c in [n.left, *n.comparators]
        if isinstance(c, ast.Constant) and isinstance(c.value, str)
    }
    return strings, compared


def test_no_library_module_but_the_study_table_names_a_study():
    # "depth", "learning_mode" and "search" are also column or parameter names: only comparisons count.
    unambiguous = {s for s in STUDY_NAMES if s not in {*analysis.TRIAL_COLUMNS, "depth", "search"}}
    found = {}
    for path in (REPO / "ran_core").glob("*.py"):
        if path.name != "studies.py":
            strings, compared = _code_strings(path)
            if strings & unambiguous or compared:
                found[path.name] = sorted(strings & unambiguous | compared)
    assert found == {}


def test_every_declared_study_has_a_script_with_presets_and_plots_for_its_figures():
    for info in STUDIES.values():
        assert (REPO / info.script).is_file(), info.script
        assert "PRESETS" in (REPO / info.script).read_text()
        assert all(callable(getattr(plots, figure.function, None)) for figure in info.figures), info.name


def test_one_model_name_parser_for_registry_paper_and_results():
    from ran_core.common.names import pretty_model_name, split_model_name

    assert split_model_name("attention92") == ("attention", 92) == split_model_name("Attention-92")
    assert split_model_name("wrn28_10") == ("wrn", 28) and split_model_name("resnet") == (None, None)
    assert pretty_model_name("wrn28_10") == "WRN-28-10" and pretty_model_name("resnet164") == "ResNet-164"
    table = paper.paper_table()
    assert [split_model_name(m) for m in table["model"]] == list(zip(table["family"], table["depth"]))
