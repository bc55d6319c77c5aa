"""The notebooks match their generator and run top to bottom, headless, on full, partial and empty
result folders.

Results come from ``RAN_NOTEBOOK_RESULTS`` when set (e.g. the smoke study's
output in CI), otherwise from a fixture folder written here. The kernel
(``python3``) gets the folder through ``RAN_RESULTS_DIR``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from ran_core.common.studies import STUDY_NAMES

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["overview", *STUDY_NAMES]


@pytest.fixture(scope="module")
def results_dir(request):
    given = os.environ.get("RAN_NOTEBOOK_RESULTS")
    if given:
        return Path(given).resolve()
    return request.getfixturevalue("fixture_results")  # conftest's, shared: the notebooks only read it


def test_notebooks_exist_without_outputs():
    found = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert sorted(NOTEBOOKS) == found
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown"
        assert nb.metadata.kernelspec.name == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code)
        assert any("RAN_RESULTS_DIR" in c.source for c in code)


def test_committed_notebooks_are_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOK_DIR / "_make_notebooks.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    built = generator.build_notebooks()
    assert sorted(built) == sorted(NOTEBOOKS)
    for name, nb in built.items():
        committed = (NOTEBOOK_DIR / f"{name}.ipynb").read_text()
        assert nbformat.writes(nb) + "\n" == committed, f"{name}.ipynb differs: run python notebooks/_make_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, results_dir, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("RAN_RESULTS_DIR", str(results_dir))
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure displayed"


@pytest.mark.filterwarnings("ignore:Result folder .* does not exist")
@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_notebook_code_runs_on_empty_or_missing_folder(folder, tmp_path, monkeypatch):
    """Same cells, run in-process (no kernel start) against a folder without results: nothing is
    loaded, and every figure says why it is empty instead of failing."""
    from ran_core import analysis
    from ran_core.analysis import plots

    target = tmp_path / "results"
    if folder == "empty":
        (target / "depth").mkdir(parents=True)
        (target / "README.md").write_text("nothing yet\n")
    monkeypatch.setenv("RAN_RESULTS_DIR", str(target))
    monkeypatch.chdir(NOTEBOOK_DIR)
    import matplotlib

    monkeypatch.setattr(matplotlib, "rcParams", matplotlib.rcParams.copy())
    shown = []
    monkeypatch.setattr(plots, "show", shown.append)
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        namespace: dict = {"__name__": f"notebook_{name}"}
        shown.clear()
        for cell in nb.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, f"{name}.ipynb", "exec"), namespace)
        results = namespace["results"]
        assert results.empty and analysis.missing_studies(results) == list(STUDY_NAMES), name
        assert shown, f"{name} shows no figure"
        for fig in shown:
            texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
            assert "no " in texts, f"{name}: a figure of no results says nothing about it"


@pytest.mark.slow
def test_notebooks_and_report_run_on_real_smoke_study_output(noise_smoke, tmp_path, monkeypatch):
    """The notebooks and `python -m ran_core.analysis` over what the embedded default really wrote."""
    import subprocess

    from nbclient import NotebookClient

    run, root = noise_smoke
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    monkeypatch.setenv("RAN_RESULTS_DIR", str(root))
    for name in ("overview", "noise_robustness"):
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        NotebookClient(
            nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
        ).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], name
        assert any("image/png" in o.get("data", {}) for o in outputs), name
    report = subprocess.run(
        [sys.executable, "-m", "ran_core.analysis", str(root), "--out", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    assert "noise_robustness" in (tmp_path / "report" / "report.md").read_text()
    assert list((tmp_path / "report").glob("noise_robustness*.png"))
