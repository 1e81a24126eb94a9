"""Every experiment script runs, in quick mode, and prints the tutorial's figure beside barenet's."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out


ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "examples").glob("0*.py"))
NEEDS_MNIST = {"01_mnist_mlp.py", "03_mnist_l2_drawn.py"}
EXPERIMENTS = [pytest.param(s, marks=pytest.mark.data("mnist")) if s.name in NEEDS_MNIST else s for s in SCRIPTS]


def test_there_are_five_experiments():
    assert [s.name[:2] for s in SCRIPTS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("script", EXPERIMENTS, ids=lambda s: s.name)
def test_each_experiment_runs_quickly_and_reports_its_figures(script, tmp_path):
    result = subprocess.run([sys.executable, str(script), "--quick"] +
                            (["--out", str(tmp_path)] if "--out" in script.read_text() else []),
                            capture_output=True, text=True, timeout=600, cwd=ROOT, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith(("tutorial:", "noise floor:")) for line in lines)
    assert any(line.startswith("barenet:") for line in lines)


def test_clusters_experiment_matches_pytorch_and_keras_prediction_for_prediction(tmp_path):
    """Experiment 5 trains the same network in barenet, PyTorch and Keras from the same weights on
    the same batches; in quick mode (3 epochs) the three must agree on every test point."""
    for module in ("torch", "keras"):
        if module == "keras":
            os.environ.setdefault("KERAS_BACKEND", "torch")
        pytest.importorskip(module)
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "05_clusters_torch.py"), "--quick",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                            env=dict(os.environ, MPLBACKEND="Agg", KERAS_BACKEND="torch"))
    assert result.returncode == 0, result.stderr
    assert "same predictions as PyTorch on 100.0% of the test points" in result.stdout
    assert "same predictions as Keras on 100.0% of the test points" in result.stdout
