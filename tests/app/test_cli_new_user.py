"""What a new user meets at the command line, the second round: no finished model is replaced
unasked, a closed pipe loses no run, runs started together get their own folders, a busy port is
one line, messages say what happened once it happened, and the BLAS threads step aside for other
jobs. Each test runs the installed command as a user would."""
import hashlib
import os
import pty
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.app.runs import unused_folder

SCRIPT = shutil.which("barenet") or str(Path(sys.executable).parent / "barenet")


def run(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=dict(os.environ, **(env or {})))


def shell(command, cwd):
    """A shell pipeline; its exit status is barenet's (pipefail), not the last command's."""
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=dict(os.environ, PATH=f"{Path(SCRIPT).parent}:{os.environ['PATH']}"))


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- data loss and lost work ---------------------------------------------------------------------

@pytest.mark.slow
def test_resume_without_a_checkpoint_is_refused_and_the_finished_model_is_kept(tmp_path):
    out = tmp_path / "res3"
    assert run("train", "--dataset", "xor", "--epochs", "2", "--out", out, "--no-plots", "--quiet").returncode == 0
    (out / "checkpoint.npz").unlink()  # as the README says to, once a run will not be extended
    before = digest(out / "model.npz"), (out / "model.npz").stat().st_mtime_ns
    done = run("train", "--resume", out, "--epochs", "12")
    assert done.returncode == 2
    assert "checkpoint.npz is gone" in done.stderr and "bn.load(" in done.stderr and "Traceback" not in done.stderr
    assert "resuming" not in done.stdout  # nothing claims to resume
    assert (digest(out / "model.npz"), (out / "model.npz").stat().st_mtime_ns) == before


@pytest.mark.slow
def test_a_run_stopped_before_its_first_epoch_resumes_from_the_start(tmp_path):
    out = tmp_path / "early"
    assert run("train", "--dataset", "xor", "--epochs", "1", "--out", out, "--no-plots", "--quiet").returncode == 0
    for name in ("checkpoint.npz", "model.npz", "history.json", "report.txt"):
        (out / name).unlink()  # what a Ctrl-C during the first epoch leaves: config.json alone
    done = run("train", "--resume", out, "--no-plots", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "no epoch had finished, so it starts from the first" in done.stdout
    assert bn.load(out / "model.npz").history.epochs[-1] == 1


@pytest.mark.slow
def test_a_closed_pipe_loses_no_run_and_reading_commands_end_quietly(tmp_path):
    done = shell("barenet train --dataset moons --epochs 20 --name pipe --no-plots | head -3", tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr and "error" not in done.stderr
    model = bn.load(tmp_path / "runs" / "pipe" / "model.npz")
    assert model.history.epochs[-1] == 20 and (tmp_path / "runs" / "pipe" / "report.txt").is_file()
    for command in ("evaluate", "summary"):
        read = shell(f"barenet {command} runs/pipe/model.npz | head -1", tmp_path)
        assert read.returncode == 0 and read.stderr == "" and len(read.stdout.splitlines()) == 1, (command, read.stderr)


@pytest.mark.slow
def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path):
    started = [subprocess.Popen([SCRIPT, "train", "--dataset", "xor", "--epochs", "1", "--quiet", "--no-plots"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    results = [process.communicate(timeout=300) + (process.returncode,) for process in started]
    assert [code for _, _, code in results] == [0, 0, 0], [err for _, err, _ in results]
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 3 and all((tmp_path / "runs" / f / "model.npz").is_file() for f in folders)


def test_a_taken_folder_name_gets_the_next_free_suffix_even_under_a_race(tmp_path):
    base = tmp_path / "runs" / "2026-12-07_07-45-25"
    made, lock = [], threading.Lock()

    def take():
        folder = unused_folder(base)
        with lock:
            made.append(folder.name)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == sorted([base.name] + [f"{base.name}-{k}" for k in range(2, 9)])


# -- messages and options --------------------------------------------------------------------------

@pytest.mark.slow
def test_serve_on_a_busy_or_impossible_port_says_so_in_one_line_and_exits_2(tmp_path):
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run("serve", "--port", port, timeout=120)
    assert done.returncode == 2 and "open http" not in done.stdout
    assert done.stderr.strip().splitlines() == [f"barenet serve: error: cannot listen on 127.0.0.1:{port}: "
                                                f"Address already in use"]
    for port in ("99999", "0", "http"):
        bad = run("serve", "--port", port, timeout=120)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and "expected a port number" in bad.stderr


@pytest.mark.slow
def test_missing_mnist_is_explained_in_command_line_terms_and_nothing_is_claimed(tmp_path):
    env = {"BARENET_DATA": str(tmp_path / "nothing"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "BARENET_OFFLINE": "1"}
    (tmp_path / "cache" / "barenet" / "mnist").mkdir(parents=True)  # what a failed download leaves
    done = run("train", "--dataset", "mnist-10k", "--name", "m10k-nodata", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "run folder" not in done.stdout and not (tmp_path / "runs").exists()
    assert "path=" not in done.stderr and "export BARENET_DATA=<dir>" in done.stderr
    assert f"{tmp_path / 'cache' / 'barenet' / 'mnist'} (empty)" in done.stderr
    assert "BARENET_OFFLINE is set" in done.stderr
    bare = run("train", "--epochs", "1", "--no-plots", "--quiet", cwd=tmp_path, env=env)
    assert bare.returncode == 0 and "A bare 'barenet train' never downloads" in bare.stderr
    assert "'barenet train --dataset mnist' downloads MNIST" in bare.stderr
    nothere = run("train", "--resume", tmp_path / "nothere")
    assert nothere.returncode == 2 and nothere.stdout == "" and "not a run folder" in nothere.stderr


@pytest.mark.slow
def test_json_export_refuses_a_terminal_and_a_missing_folder_is_named_as_given(tmp_path):
    model = bn.Sequential(bn.Dense(2, 3), seed=0)
    model.loss = bn.CrossEntropy()
    model.save(tmp_path / "m.npz")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([SCRIPT, "export", str(tmp_path / "m.npz"), "--format", "json"], stdout=follower,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2 and "give the file with --out FILE" in done.stderr
    piped = run("export", tmp_path / "m.npz", "--format", "json")
    assert piped.returncode == 0 and piped.stdout.startswith('{"format":"barenet-json"')
    pytest.importorskip("onnx")
    missing = run("export", tmp_path / "m.npz", "--format", "onnx", "--out", "/nonexistent/dir/m.onnx")
    assert missing.returncode != 0 and "the folder /nonexistent/dir does not exist" in missing.stderr
    assert ".tmp" not in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("args, message", [
    (["--hidden", "256,,128"], "expected comma-separated positive layer widths like 256,128, got '256,,128'"),
    (["--hidden", "256,"], "expected comma-separated positive layer widths"),
    (["--lr", "-1"], "argument --lr: expected a positive number up to 10, got '-1'"),
    (["--lr", "0"], "argument --lr: expected a positive number up to 10, got '0'"),
    (["--threads", "0"], "argument --threads: expected one of auto or a whole number from 1 to 1024, got '0'"),
])
def test_malformed_options_are_refused_with_one_message(args, message, tmp_path):
    done = run("train", "--dataset", "xor", *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_the_report_speaks_of_samples_for_points_and_counts_epochs_in_good_english(tmp_path):
    done = run("train", "--dataset", "xor", "--epochs", "1", "--out", tmp_path / "x", "--no-plots")
    assert done.returncode == 0
    assert "1 epoch," in done.stdout and "1 epochs" not in done.stdout
    report = (tmp_path / "x" / "report.txt").read_text()
    assert "training samples: 1500" in report and "images" not in report


@pytest.mark.slow
def test_predict_on_a_picture_with_no_digit_sized_marks_does_not_call_it_blank(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    model = bn.Sequential(bn.Dense(784, 10), seed=0)
    model.loss = bn.CrossEntropy()
    model.save(tmp_path / "m.npz")
    lines = np.full((600, 600), 255, np.uint8)
    lines[20::40, :] = 200  # a chart's faint one-pixel grid
    lines[:, 20::40] = 200
    Image.fromarray(lines).save(tmp_path / "grid.png")
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(tmp_path / "white.png")
    done = run("predict", tmp_path / "m.npz", tmp_path / "grid.png", tmp_path / "white.png")
    grid, white = done.stdout.splitlines()
    assert "too thin or too faint" in grid and "blank" not in grid
    assert "the picture is blank" in white


# -- threads ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_threads_option_reaches_every_epoch_and_the_report(tmp_path):
    pytest.importorskip("threadpoolctl")
    done = run("train", "--dataset", "xor", "--epochs", "2", "--threads", "1", "--out", tmp_path / "t", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert bn.load(tmp_path / "t" / "model.npz").history["threads"][1:] == [1.0, 1.0]
    assert "threads 1, 1" in (tmp_path / "t" / "report.txt").read_text()
    assert "openblas" in (tmp_path / "t" / "report.txt").read_text().lower()


def test_threads_in_python_are_set_for_fit_and_given_back_after():
    pytest.importorskip("threadpoolctl")
    before = bn.blas_info()["threads"]
    X, y = bn.datasets.make_moons(200, seed=0)
    model = bn.Sequential(bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 2), seed=0)
    with bn.threads(1):
        model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0)
    assert model.history["threads"][1:] == [1.0, 1.0] and bn.blas_info()["threads"] == before
    with pytest.raises(ValueError, match="threads must be 'auto', None or a whole number"):
        bn.set_threads(0)
    with bn.threads(None):
        model.fit(X, y, epochs=1, verbose=0)
    assert model.history["threads"][-1] is None  # left as the library had it


AUTO = """
import os, sys
from barenet.training.threads import auto_threads, usable_cores
if sys.argv[1] == "one-core":
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
print(usable_cores(), auto_threads())
"""


@pytest.mark.slow
def test_auto_uses_one_thread_on_one_core_and_steps_down_beside_busy_processes():
    one = subprocess.run([sys.executable, "-c", AUTO, "one-core"], capture_output=True, text=True, timeout=60)
    assert one.stdout.split() == ["1", "1"]  # an MPI rank bound to its core
    cores = len(os.sched_getaffinity(0))
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        import time
        time.sleep(0.5)
        shared = subprocess.run([sys.executable, "-c", AUTO, "all"], capture_output=True, text=True, timeout=60)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert shared.stdout.split() == [str(cores), "1"]
