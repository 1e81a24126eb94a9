"""`barenet bench` and the benchmark scripts run end to end (tiny sizes: these tests check what the
benchmark computes and writes, never how fast anything is)."""
import time
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from barenet.app import bench

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ROOT = Path(__file__).resolve().parents[2]
TINY = ["bench", "--train-size", "600", "--epochs", "2", "--batch-sizes", "100,300", "--no-memory", "--widths", "none"]


def _bench(tmp_path, *extra, hide=None):
    code = "import sys\n"
    if hide:  # make a peer look uninstalled: importing it raises ImportError
        code += f"sys.modules[{hide!r}] = None\n"
    code += "from barenet.app.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *TINY, "--out", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=600)


PEERS = {"barenet-numba": "numba", "pytorch": "torch", "jax": "jax", "keras": "keras", "scikit-learn": "sklearn"}


def test_bench_compares_all_systems_and_writes_json_and_plot(tmp_path):
    missing = bench.available_systems(PEERS)[1]
    if missing:
        pytest.skip(f"optional peers not installed: {missing}")
    result = _bench(tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "epoch_times.png").stat().st_size > 5000
    assert report["train_size"] == 600 and report["epochs"] == 2 and report["threads"] >= 1
    assert report["skipped"] == {} and report["reference"] == "barenet-numba"
    assert report["blas"]["library"] and report["blas"]["threads"] == report["threads"]
    for batch in ("100", "300"):
        entry = report["training"][batch]
        limit = entry["matmul_limit_seconds"]
        assert len(entry["matmul_limit_epoch_seconds"]) == 2
        assert limit == pytest.approx(float(np.median(entry["matmul_limit_epoch_seconds"])))
        assert set(entry["systems"]) == {"barenet", *PEERS}
        base = entry["systems"]["barenet-numba"]["median_epoch_seconds"]
        for row in entry["systems"].values():
            seconds = row["epoch_seconds"]
            assert len(seconds) == 2 and row["first_epoch_seconds"] == seconds[0] \
                and row["last_epoch_seconds"] == seconds[-1]
            assert row["median_epoch_seconds"] == pytest.approx(float(np.median(seconds)))
            assert row["growth"] == pytest.approx(seconds[1] / seconds[0] - 1)
            assert row["reference_over_system"] == pytest.approx(base / row["median_epoch_seconds"])
            assert row["multiple_of_matmul_limit"] == pytest.approx(row["median_epoch_seconds"] / limit)
            assert 0.0 <= row["test_accuracy"] <= 1.0
    for system in ("barenet", "barenet-numba", "pytorch", "jax"):
        for batch in ("batch_1", "batch_1000"):
            figures = report["inference"][system][batch]
            size = 1 if batch == "batch_1" else 1000
            assert figures["images_per_second"] == pytest.approx(size / figures["latency_ms"] * 1e3)
    out = result.stdout
    assert "| 300 | jax |" in out and "| 300 | keras |" in out and "batch 1 latency" in out
    assert out.count("| batch | system |") == 1  # the table is printed once, at the end
    assert "barenet-numba ÷ system" in out and "NumPy's BLAS:" in out


@pytest.mark.parametrize("hidden, system", [("torch", "pytorch"), ("jax", "jax"), ("numba", "barenet-numba")])
def test_bench_skips_a_peer_that_is_not_installed_and_says_so(tmp_path, hidden, system):
    result = _bench(tmp_path, "--systems", f"barenet,{system}", "--batch-sizes", "100", hide=hidden)
    assert result.returncode == 0, result.stderr
    assert f"skipping {system}: {hidden} is not installed" in result.stdout
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["skipped"] == {system: f"{hidden} is not installed"}
    assert set(report["training"]["100"]["systems"]) == {"barenet"} and report["reference"] == "barenet"


@pytest.mark.parametrize("args, message", [
    (["--systems", "pytorch"], "--systems must include barenet, barenet-numba or barenet-cupy"),
    (["--systems", "barenet,tensorflow"], "--systems must include barenet, barenet-numba or barenet-cupy"),
    (["--epochs", "1"], "--epochs must be at least 2"),
    (["--batch-sizes", "32,x"], "--batch-sizes must be positive whole numbers separated by commas"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--widths", "256,0"], "--widths must be positive whole numbers separated by commas (or none)"),
    (["--sweep-batch-size", "0"], "--sweep-batch-size must be at least 1"),
])
def test_bench_refuses_bad_options(tmp_path, args, message):
    result = _bench(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr


def test_the_width_sweep_times_every_system_at_every_width_against_pytorch_and_the_limit(tmp_path):
    missing = bench.available_systems(["pytorch", "barenet-numba"])[1]
    if missing:
        pytest.skip(f"optional peers not installed: {missing}")
    result = _bench(tmp_path, "--systems", "barenet,barenet-numba,pytorch", "--batch-sizes", "100",
                    "--widths", "16,48", "--sweep-batch-size", "50", "--sweep-train-size", "200")
    assert result.returncode == 0, result.stderr
    sweep = json.loads((tmp_path / "results.json").read_text())["sweep"]
    assert sweep["batch_size"] == 50 and sweep["train_size"] == 200 and list(sweep["widths"]) == ["16", "48"]
    for width, entry in sweep["widths"].items():
        w = int(width)
        assert entry["parameters"] == 784 * w + w + w * w + w + w * 10 + 10
        assert entry["matmul_limit_seconds"] == pytest.approx(float(np.median(entry["matmul_limit_epoch_seconds"])))
        torch = entry["systems"]["pytorch"]["median_epoch_seconds"]
        for row in entry["systems"].values():
            assert len(row["epoch_seconds"]) == 2
            assert row["multiple_of_pytorch"] == pytest.approx(row["median_epoch_seconds"] / torch)
            assert row["multiple_of_matmul_limit"] == pytest.approx(
                row["median_epoch_seconds"] / entry["matmul_limit_seconds"])
        assert set(entry["inference"]) == {"barenet", "barenet-numba", "pytorch"}
        assert all(row["batch_1000"]["images_per_second"] > 0 for row in entry["inference"].values())
    assert "width sweep: 784-w-w-10 at batch 50 on 200 images" in result.stdout
    assert f"| 48 | {sweep['widths']['48']['parameters']:,} | barenet-numba |" in result.stdout and "inference across the widths" in result.stdout
    assert (tmp_path / "width_sweep.png").stat().st_size > 5000


def test_bench_on_a_gpu_says_clearly_when_there_is_none(tmp_path):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    result = _bench(tmp_path, "--device", "gpu")
    assert result.returncode == 2 and "--device gpu:" in result.stderr and "barenet[gpu]" in result.stderr


def test_bench_defaults_to_five_timed_epochs_and_every_peer():
    args = bench.build_parser().parse_args([])
    assert args.epochs == 5 and bench.run.__defaults__[1] == 5
    assert [s.name for s in bench.CPU_SYSTEMS] == ["barenet", "barenet-numba", "pytorch", "jax", "keras", "scikit-learn"]
    assert [s.name for s in bench.GPU_SYSTEMS] == ["barenet-cupy", "pytorch-cuda", "pytorch-cuda-graph"]


@pytest.mark.parametrize("times, expected", [
    ([1.0, 1.0, 1.0, 1.0, 1.0], 0.0),
    ([1.0, 1.1, 1.2, 1.3, 1.4], 0.4),
    ([1.0, 1.0, 1.6, 1.0, 1.0], 0.0),   # one slow epoch is noise, not a trend
    ([1.0, 1.0, 1.0, 1.0, 1.9], 0.0),   # even the last one
    ([1.0, 1.1, 1.9, 1.3, 1.4], 0.4),   # a trend, with an outlier that least squares would follow
    ([2.0, 1.5], -0.25),
])
def test_growth_reads_the_trend_off_a_robust_line_through_all_epochs(times, expected):
    assert bench.growth(times) == pytest.approx(expected, abs=1e-9)


class _Sleeper:
    """A fake system whose epochs take the given seconds, one after another."""

    def __init__(self, batch_size, seed=0):
        self.calls = 0

    def epoch(self, X, y):
        self.calls += 1
        seconds = self.durations[min(self.calls - 1, len(self.durations) - 1)]
        time.sleep(seconds)
        return seconds

    def accuracy(self, X, y):
        return 0.5


def test_run_flags_a_system_whose_epochs_grow_and_not_a_steady_one(monkeypatch):
    slowing = type("Slowing", (_Sleeper,), {"name": "slowing", "durations": [0.02, 0.02, 0.03, 0.04, 0.05, 0.06]})
    steady = type("Steady", (_Sleeper,), {"name": "barenet", "durations": [0.03] * 6})
    for module in (bench.systems, bench.command):  # the table, and the run that reads it
        monkeypatch.setattr(module, "SYSTEMS", {"barenet": steady, "slowing": slowing})
    monkeypatch.setattr(bench.command, "SETTLE_SECONDS", 0.0)
    report = bench.run(batch_sizes=(100,), epochs=5, systems=("barenet", "slowing"),
                       limit_train=500, memory=False, log=lambda line: None)
    rows = report["training"]["100"]["systems"]
    assert rows["slowing"]["epoch_seconds"] == [0.02, 0.03, 0.04, 0.05, 0.06]  # after the warm-up epoch
    assert rows["slowing"]["grows"] and rows["slowing"]["growth"] > 1.0
    assert not rows["barenet"]["grows"] and rows["barenet"]["growth"] == pytest.approx(0.0)
    assert "slowing at batch 100" in bench.flagged(report)[0]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's /proc peak-memory counters")
def test_epoch_peak_memory_sees_memory_that_an_epoch_touches():
    def allocate():
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, every page written
        return float(block[::4096].sum())

    assert 60 <= bench.epoch_peak_memory(allocate) < 200
    assert bench.epoch_peak_memory(lambda: None) < 8


def test_step_profile_reports_each_part_of_a_step(capsys):
    module = runpy.run_path(str(ROOT / "benchmarks" / "step_profile.py"))
    module["main"](["--batch-sizes", "16", "--steps", "3", "--backend", "numba"])
    out = capsys.readouterr().out
    for part in ("gather", "forward", "loss", "backward", "grad norm", "update", "whole step", "matmul limit"):
        assert part in out
    assert "whole step / matmul limit: batch 16:" in out


def test_step_profile_records_every_case_as_parts_that_add_up_to_the_step(tmp_path, monkeypatch):
    """--record: each case's parts in microseconds, grouped into Dense layers, activations, loss,
    batch, norm and update, beside the whole step and its matmul limit; the speed page's table."""
    module = runpy.run_path(str(ROOT / "benchmarks" / "step_profile.py"))
    where = module["main"].__globals__
    monkeypatch.setitem(where, "RESULTS", tmp_path / "step_profile.json")
    monkeypatch.setitem(where, "RECORDED", [(None, 16), (64, 8)])
    module["main"](["--record", "--steps", "3", "--backend", "numba"])
    report = json.loads((tmp_path / "step_profile.json").read_text())
    assert [(c["network"], c["batch_size"]) for c in report["cases"]] == [("784-256-128-10", 16), ("784-64-64-10", 8)]
    assert report["cases"][1]["parameters"] == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    for case in report["cases"]:
        parts, grouped = case["microseconds"], case["grouped"]
        assert grouped["dense layers"] == sum(v for k, v in parts.items() if "Dense" in k) > 0
        assert sum(grouped[k] for k in ("dense layers", "activations", "loss", "gather", "grad norm", "update")) \
            == pytest.approx(parts["sum of parts"])
        assert grouped["whole step"] > 0 and grouped["matmul limit"] > 0
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import figures
        table = figures.profile_figures(report)["profile.table"]
    finally:
        sys.path.remove(str(ROOT / "docs"))
    assert table.count("\n| 784-") == 2 and "\n| 784-64-64-10 | 8 | **" in table


def test_record_recipes_merges_into_the_file_as_it_is_when_it_writes(tmp_path, monkeypatch):
    """Two recordings at once keep each other's figures: what another wrote after this one started
    stays, and the file is replaced whole (written beside it, then renamed)."""
    module = runpy.run_path(str(ROOT / "benchmarks" / "record_recipes.py"))
    where = module["main"].__globals__
    monkeypatch.setitem(where, "RESULTS", tmp_path)
    (tmp_path / "recipes.json").write_text(json.dumps({"recipes": {"other": {"0": {"figure": 0.5}}}}))

    def record(name, seed):  # the other recording writes while this one trains
        recorded = json.loads((tmp_path / "recipes.json").read_text())
        recorded["recipes"]["late"] = {"1": {"figure": 0.25}}
        (tmp_path / "recipes.json").write_text(json.dumps(recorded))
        return {"figure": 0.9, "kind": "accuracy", "seconds": 1.0}
    monkeypatch.setitem(where, "record", record)
    module["main"](["clusters", "--seeds", "0,3"])
    recorded = json.loads((tmp_path / "recipes.json").read_text())["recipes"]
    assert recorded["other"] == {"0": {"figure": 0.5}} and recorded["late"] == {"1": {"figure": 0.25}}
    assert set(recorded["clusters"]) == {"0", "3"} and recorded["clusters"]["3"]["figure"] == 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipes.json"]


def test_recipe_search_scores_on_validation_only_and_can_train_on_a_fraction(tmp_path):
    log = tmp_path / "search.jsonl"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "recipe_search.py"
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


def test_subnormal_census_counts_the_state_and_times_the_flush(capsys):
    module = runpy.run_path(str(ROOT / "benchmarks" / "subnormals.py"))
    module["main"](["--epochs", "2", "--batch-size", "64", "--blocks", "2", "--flush-batch-sizes", "64",
                    "--age", "2"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit() and "µs" in line]
    assert [row[0] for row in rows] == ["1", "2"]
    m_counts = [int(row[2]) for row in rows]
    assert m_counts[-1] > 0  # unflushed, Adam's first moment does hold subnormals after two epochs
    assert "part 2: a NumPy-backend step at batch 64" in out and "with ÷ without" in out
    assert "part 3 (numpy backend, batch 64): a step from a state trained 2 epochs" in out
    from barenet.core import optimizers
    assert optimizers.flush_subnormals.__name__ == "flush_subnormals"  # the script put it back


def test_the_inference_memory_script_reports_each_backends_peak_and_time():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "inference_memory.py"), "--batch", "16",
                             "--backends", "numpy"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "peak" in line]
    assert [line.split(",")[0].strip() for line in lines] == ["numpy", "numpy"] and all("MiB" in l for l in lines)
    peaks = [float(line.split("peak")[1].split("MiB")[0]) for line in lines]
    assert all(0 < peak < 64 for peak in peaks), peaks  # 16 images: a few MiB of activations

