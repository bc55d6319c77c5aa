"""The notebooks run top to bottom, headless, on full, partial and empty result folders.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_fixture import write_fixture_results  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["overview", "noise_robustness", "depth", "attention_types", "learning_mode", "search"]


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    given = os.environ.get("RAN_NOTEBOOK_RESULTS")
    if given:
        return Path(given).resolve()
    return write_fixture_results(tmp_path_factory.mktemp("nb_results"))


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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, results_dir, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("RAN_RESULTS_DIR", str(results_dir))
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=180,
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure displayed"


@pytest.mark.filterwarnings("ignore:Result folder .* does not exist")
@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_notebook_code_runs_on_empty_or_missing_folder(folder, tmp_path, monkeypatch):
    """Same cells, run in-process (no kernel start) against a folder without results."""
    target = tmp_path / "results"
    if folder == "empty":
        (target / "depth").mkdir(parents=True)
        (target / "README.md").write_text("nothing yet\n")
    monkeypatch.setenv("RAN_RESULTS_DIR", str(target))
    monkeypatch.chdir(NOTEBOOK_DIR)
    import matplotlib
    monkeypatch.setattr(matplotlib, "rcParams", matplotlib.rcParams.copy())
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        namespace: dict = {"__name__": f"notebook_{name}"}
        for cell in nb.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, f"{name}.ipynb", "exec"), namespace)


def test_notebooks_and_report_run_on_real_smoke_study_output(noise_smoke, tmp_path, monkeypatch):
    """The notebooks and `python -m ran_core.report` over what the embedded default really wrote."""
    import subprocess
    from nbclient import NotebookClient

    run, root = noise_smoke
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    monkeypatch.setenv("RAN_RESULTS_DIR", str(root))
    for name in ("overview", "noise_robustness"):
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=180,
                       resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], name
        assert any("image/png" in o.get("data", {}) for o in outputs), name
    report = subprocess.run([sys.executable, "-m", "ran_core.report", str(root), "--out", str(tmp_path / "report")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert "noise_robustness" in (tmp_path / "report" / "report.md").read_text()
    assert list((tmp_path / "report").glob("noise_robustness*.png"))
