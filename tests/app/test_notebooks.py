"""The five tutorial experiments run as notebooks too (each script is also a notebook, in
jupytext's percent format: one source): executed by a real Jupyter kernel, with no error, fit's
progress as a notebook progress bar, the history as a table and the figures inline."""
import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "examples").glob("0*.py"))
NEEDS_MNIST = {"01_mnist_mlp.py", "03_mnist_l2_drawn.py"}


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.data("mnist")) if s.name in NEEDS_MNIST else s
                                    for s in SCRIPTS], ids=lambda s: s.name)
def test_each_experiment_runs_as_a_notebook_and_shows_its_results_inline(script, tmp_path, monkeypatch):
    monkeypatch.setenv("BARENET_QUICK", "1")  # the kernel inherits the environment: the quick run
    monkeypatch.chdir(tmp_path)
    notebook = jupytext.read(script)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# Experiment")
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "barenet:" in text  # the figure each experiment reports
    source = script.read_text()
    if "\nhistory  #" in source:
        assert any("<table>" in o.get("data", {}).get("text/html", "") for o in outputs)
    if "\nfigure  #" in source:
        assert any("image/png" in o.get("data", {}) for o in outputs)
    if "verbose=1" in source:  # fit's progress: tqdm's notebook widget, not carriage returns
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
        assert "\r" not in text
