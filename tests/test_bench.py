"""`barenet bench` and the benchmark scripts run end to end (tiny sizes: these tests check what the
benchmark computes and writes, never how fast anything is)."""
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from barenet import bench

ROOT = Path(__file__).resolve().parents[1]
TINY = ["bench", "--train-size", "600", "--epochs", "2", "--batch-sizes", "100,300", "--no-memory"]


def _bench(tmp_path, *extra, hide=None):
    code = "import sys\n"
    if hide:  # make a peer look uninstalled: importing it raises ImportError
        code += f"sys.modules[{hide!r}] = None\n"
    code += "from barenet.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *TINY, "--out", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=600)


def test_bench_compares_all_systems_and_writes_json_and_plot(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    result = _bench(tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "epoch_times.png").stat().st_size > 5000
    assert report["train_size"] == 600 and report["epochs"] == 2 and report["threads"] >= 1
    assert report["skipped"] == {}
    for batch in ("100", "300"):
        entry = report["training"][batch]
        limit = entry["matmul_limit_seconds"]
        assert limit > 0
        assert set(entry["systems"]) == {"barenet", "pytorch", "scikit-learn"}
        base = entry["systems"]["barenet"]["median_epoch_seconds"]
        for row in entry["systems"].values():
            assert len(row["epoch_seconds"]) == 2
            assert row["median_epoch_seconds"] == pytest.approx(float(np.median(row["epoch_seconds"])))
            assert row["ratio_to_barenet"] == pytest.approx(row["median_epoch_seconds"] / base)
            assert row["multiple_of_matmul_limit"] == pytest.approx(row["median_epoch_seconds"] / limit)
            assert 0.0 <= row["test_accuracy"] <= 1.0
    for system in ("barenet", "pytorch"):
        for batch in ("batch_1", "batch_1000"):
            figures = report["inference"][system][batch]
            size = 1 if batch == "batch_1" else 1000
            assert figures["images_per_second"] == pytest.approx(size / figures["latency_ms"] * 1e3)
    assert "| 300 | pytorch |" in result.stdout and "batch 1 latency" in result.stdout


def test_bench_skips_a_peer_that_is_not_installed_and_says_so(tmp_path):
    result = _bench(tmp_path, "--systems", "barenet,pytorch", hide="torch")
    assert result.returncode == 0, result.stderr
    assert "skipping pytorch: torch is not installed" in result.stdout
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["skipped"] == {"pytorch": "torch is not installed"}
    assert set(report["training"]["100"]["systems"]) == {"barenet"}


def test_bench_refuses_a_run_without_barenet(tmp_path):
    result = _bench(tmp_path, "--systems", "pytorch")
    assert result.returncode == 2 and "--systems must include barenet" in result.stderr


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's /proc peak-memory counters")
def test_epoch_peak_memory_sees_memory_that_an_epoch_touches():
    def allocate():
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, every page written
        return float(block[::4096].sum())

    assert 60 <= bench.epoch_peak_memory(allocate) < 200
    assert bench.epoch_peak_memory(lambda: None) < 8


def test_step_profile_reports_each_part_of_a_step(capsys):
    module = runpy.run_path(str(ROOT / "benchmarks" / "step_profile.py"))
    module["main"](["--batch-sizes", "16", "--steps", "3"])
    out = capsys.readouterr().out
    for part in ("gather", "forward", "loss", "backward", "grad norm", "adam", "whole step", "matmul limit"):
        assert part in out
    assert "whole step / matmul limit: batch 16:" in out


def test_recipe_search_scores_on_validation_only_and_can_train_on_a_fraction(tmp_path):
    log = tmp_path / "search.jsonl"
    script = Path(__file__).parents[1] / "benchmarks" / "recipe_search.py"
    runs_ = [subprocess.run([sys.executable, str(script), "clusters", "--only", "2", "--log", str(log), *extra],
                            capture_output=True, text=True, timeout=300) for extra in ([], ["--train-fraction", "0.5"])]
    assert all(r.returncode == 0 for r in runs_), [r.stderr for r in runs_]
    whole, half = [json.loads(line) for line in log.read_text().splitlines()]
    assert whole["candidate"] == half["candidate"] == 2 and "train_size" not in whole
    assert half["train_fraction"] == 0.5 and half["train_size"] == 13500 // 2
    assert 0.8 < half["val_accuracy"] <= 1 and 0.8 < whole["val_accuracy"] <= 1
    assert not any("test" in key for key in whole)  # the test set is never scored here
    bad = subprocess.run([sys.executable, str(script), "clusters", "--train-fraction", "0"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "--train-fraction" in bad.stderr
