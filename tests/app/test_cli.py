"""The barenet command line, run as users run it: the installed console script, in a subprocess."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.app import runs as bn_runs

SCRIPT = shutil.which("barenet") or str(Path(sys.executable).parent / "barenet")


def run(*args, env=None, timeout=300, cwd=None):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd=cwd)


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def clusters_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "clusters"
    result = run("train", "--dataset", "clusters", "--epochs", "4", "--out", out)
    return out, result


def test_help_everywhere():
    for args in ([], ["--help"], ["train", "--help"], ["predict", "--help"], ["evaluate", "--help"],
                 ["summary", "--help"], ["export", "--help"], ["bench", "--help"]):
        result = run(*args)
        assert result.returncode == (2 if not args else 0), (args, result.stderr)
        assert "usage:" in (result.stdout + result.stderr)
    assert "exit codes" in run("--help").stdout
    help_text = "".join(run("train", "--help").stdout.split())  # however argparse wraps the lines
    assert all(name in help_text for name in ("fashion-mnist", "mnist-10k", "digits", "regression", "clusters"))


def test_train_offers_every_augmentation_preset_and_no_other():
    from barenet.app.cli import build_parser
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    augment = next(a for a in train._actions if a.dest == "augment")
    assert set(augment.choices) == set(bn_runs.AUGMENTATIONS)


@pytest.mark.parametrize("size, light, crop", [(28, 2.0, 2.0), (8, 2 * 8 / 28, 1.0), (56, 4.0, 4.0)])
def test_augmentation_presets_scale_with_the_image_and_whole_pixel_shifts_stay_at_least_one_pixel(size, light, crop):
    """The presets are in pixels of a 28×28 image: an 8×8 image shifts 4/7 of a pixel, but a
    whole-pixel shift rounds to at least one pixel, or the crop would be a mirror alone."""
    from barenet.app.data import Dataset
    X = np.zeros((8, size * size), dtype=np.float32)
    data = Dataset("images", X, np.arange(8) % 2, X, np.arange(8) % 2, "classification", image_shape=(size, size))
    for preset, shift in (("light", light), ("crop", crop)):
        layer = bn_runs.build_model(bn_runs.RunConfig(augment=preset, hidden=[4]), data).layers[0]
        assert isinstance(layer, bn.RandomAffine) and layer.settings["shift"] == pytest.approx(shift), preset
        assert layer.settings["whole_pixels"] == (preset == "crop")


def test_python_dash_m_barenet_works():
    result = subprocess.run([sys.executable, "-m", "barenet", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("barenet ")


def test_train_writes_a_complete_run_folder_and_says_where_first(clusters_run):
    out, result = clusters_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run folder: {out}/  (model.npz, history.json, report.txt, plots)"
    for name in ("model.npz", "history.json", "report.txt", "config.json", "checkpoint.npz",
                 "learning_curves.png", "confusion_matrix.png", "decision_boundary.png"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert history["epochs"] == [0, 1, 2, 3, 4]
    report = (out / "report.txt").read_text()
    assert "test accuracy" in report and "bayes accuracy" in report and "precision" in report


def test_piped_progress_is_one_plain_line_per_epoch(clusters_run):
    _, result = clusters_run
    epoch_lines = [l for l in result.stdout.splitlines() if l.startswith("epoch ")]
    assert [l.split()[1] for l in epoch_lines] == ["0/4", "1/4", "2/4", "3/4", "4/4"]
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    assert "(running mean)" in epoch_lines[1] and "(full pass)" in epoch_lines[0]


@pytest.mark.slow
def test_evaluate_summary_and_export_read_the_saved_model(clusters_run, tmp_path):
    out, _ = clusters_run
    model = bn.load(out / "model.npz")
    result = run("evaluate", out / "model.npz")
    assert result.returncode == 0, result.stderr
    data = bn_runs.load_dataset("clusters", 0)
    X, y = data.X_test, data.y_test
    assert f"accuracy {model.evaluate(X, y)['accuracy']:.4f}" in result.stdout
    summary = run("summary", out / "model.npz")
    assert summary.returncode == 0 and "Dense(2, 32)" in summary.stdout and "trained on: clusters" in summary.stdout
    exported = run("export", out / "model.npz", "--out", tmp_path / "m.json")
    assert exported.returncode == 0
    document = json.loads((tmp_path / "m.json").read_text())
    # evaluate the exported JSON by hand: it must give the model's probabilities
    h = X.astype(np.float64)
    for layer in document["layers"]:
        if layer["type"] == "Standardize":
            h = (h - np.array(layer["mean"])) / np.array(layer["scale"])
        elif layer["type"] == "Dense":
            h = h @ np.array(layer["W"]) + np.array(layer["b"])
        elif layer["type"] == "ReLU":
            h = np.maximum(h, 0)
    p = np.exp(h - h.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(axis=1, keepdims=True), model.predict_proba(X), atol=1e-5)


@pytest.mark.slow
def test_predict_reads_image_files_of_either_polarity_and_any_size(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    X, y = bn.datasets.load_digits(flatten=False)
    model = bn.Sequential(bn.Dense(64, 64), bn.ReLU(), bn.Dense(64, 10), seed=0)
    model.fit(X.reshape(len(X), -1), y, loss="cross_entropy", optimizer=bn.Adam(3e-3), epochs=30, verbose=0)
    model.save(tmp_path / "digits.npz")
    paths, truth = [], []
    for i in range(20):
        picture = (X[i] * 255).astype(np.uint8)
        size = 40 + 13 * i
        image = Image.fromarray(picture if i % 2 else 255 - picture).resize((size, size), Image.Resampling.NEAREST)
        paths.append(tmp_path / f"digit{i}.png")
        image.save(paths[-1])
        truth.append(y[i])
    result = run("predict", tmp_path / "digits.npz", *paths)
    assert result.returncode == 0, result.stderr
    predicted = [int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()]
    assert np.mean(np.array(predicted) == truth) >= 0.8


@pytest.mark.slow
@pytest.mark.data("mnist")
def test_predict_on_mnist_digits_photographed_as_dark_ink_on_paper(tmp_path):
    from PIL import Image
    (X, y), (Xt, yt) = bn.datasets.load_mnist(download=False)
    model = bn.Sequential(bn.Dense(784, 128), bn.ReLU(), bn.Dense(128, 10), seed=0)
    model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=64, verbose=0)
    model.save(tmp_path / "mnist.npz")
    paths = []
    for i in range(30):
        ink = (Xt[i].reshape(28, 28) * 255).astype(np.uint8)
        canvas = np.full((300, 260), 245, np.uint8)  # light paper, digit off-centre and large
        big = np.asarray(Image.fromarray(255 - ink).resize((150, 150), Image.Resampling.BILINEAR))
        canvas[20 + 3 * i:170 + 3 * i, 10 + 2 * i:160 + 2 * i] = np.minimum(canvas[20 + 3 * i:170 + 3 * i, 10 + 2 * i:160 + 2 * i], big)
        paths.append(tmp_path / f"photo{i}.png")
        Image.fromarray(canvas).save(paths[-1])
    result = run("predict", tmp_path / "mnist.npz", *paths, "--save-input", tmp_path / "seen")
    assert result.returncode == 0, result.stderr
    predicted = [int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()]
    assert np.mean(np.array(predicted) == yt[:30]) >= 0.85
    assert len(list((tmp_path / "seen").glob("*.png"))) == 30


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "imagenet"], "argument --dataset: expected one of digits, mnist,"),
    (["train", "--hidden", "256,abc"], "comma-separated"),
    (["train", "--epochs", "0"], "argument --epochs: expected a positive whole number, got '0'"),
    (["train", "--dataset", "xor", "--dropout", "1.5", "--out", "{tmp}/x"], "--dropout: expected a fraction in [0, 1)"),
    (["train", "--recipe", "nope"], "argument --recipe: expected one of digits, clusters, regression"),
    (["evaluate", "{tmp}/missing.npz"], "no model file"),
    (["summary", "{tmp}/corrupt.npz"], "not a readable barenet model file"),
    (["predict", "{tmp}/corrupt.npz", "x.png"], "not a readable barenet model file"),
    (["train", "--resume", "{tmp}"], "is not a run folder"),
    (["train", "--dataset", "xor", "--lr", "1000", "--out", "{tmp}/x"], "--lr: expected a positive number up to 10, got '1000'"),
    # options that would do nothing are refused, not ignored
    (["train", "--dataset", "moons", "--augment", "--out", "{tmp}/x"], "moons is not an image data set"),
    (["train", "--dataset", "xor", "--patience", "3", "--validation-split", "0", "--out", "{tmp}/x"],
     "patience (early stopping) watches the validation loss, but validation_split is 0"),
    (["train", "--dataset", "xor", "--warmup", "2", "--out", "{tmp}/x"], "warmup applies to the cosine schedule only"),
    (["train", "--dataset", "xor", "--name", "a", "--out", "{tmp}/x"], "--out and --name both name the run folder"),
    (["train", "--resume", "{tmp}", "--lr", "0.1"], "--lr cannot change them (only --epochs, the new total)"),
    (["train", "--clip-norm", "-1"], "--clip-norm"),
])
def test_bad_usage_gets_exit_code_2_and_a_message_without_traceback(tmp_path, args, message):
    (tmp_path / "corrupt.npz").write_bytes(b"garbage")
    result = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists() and not Path("runs/a").exists()  # refused before any folder exists


def test_evaluate_refuses_a_data_set_of_another_width_before_loading_it(clusters_run, tmp_path):
    """A model of 2 features against MNIST: said at once, from the data set's known image size,
    where it used to look for MNIST (and download it, 11 MB) to find its width. Here MNIST is
    nowhere: the answer is the width, not that MNIST was not found."""
    empty = tmp_path / "data"
    empty.mkdir()
    result = run("evaluate", clusters_run[0] / "model.npz", "--dataset", "mnist",
                 env={"BARENET_DATA": str(empty), "HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert "the model takes 2 features but mnist has 784" in result.stderr
    assert "not found" not in result.stderr and "download" not in result.stderr.lower()


def test_evaluate_refuses_a_data_set_with_another_number_of_classes(clusters_run, tmp_path):
    """A model of 3 classes against 2, whose labels fit its outputs (it printed a meaningless
    score), and a model of 2 against 3 (a ValueError, exit 1): usage errors, exit 2."""
    trained = run("train", "--dataset", "xor", "--epochs", "1", "--out", tmp_path / "xor", "--no-plots")
    assert trained.returncode == 0, trained.stderr
    for model, dataset, message in (
            (clusters_run[0], "xor", "the model has 3 outputs but xor has 2 classes"),
            (tmp_path / "xor", "clusters", "the model has 2 outputs but clusters has 3 classes")):
        result = run("evaluate", model / "model.npz", "--dataset", dataset)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_clip_norm_reaches_the_optimizer_and_the_run_record(tmp_path):
    folder = tmp_path / "r"
    result = run("train", "--dataset", "xor", "--epochs", "1", "--clip-norm", "0.5", "--out", folder, "--no-plots")
    assert result.returncode == 0, result.stderr
    assert json.loads((folder / "config.json").read_text())["clip_norm"] == 0.5
    assert bn.load(folder / "checkpoint.npz").optimizer.clip_norm == 0.5


def test_missing_data_is_said_and_leaves_no_folder_behind(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "BARENET_DATA": str(tmp_path / "nothing")}
    for _ in range(2):  # the same command again meets the same message, not "exists and is not empty"
        result = run("train", "--dataset", "mnist", "--out", tmp_path / "m", env=env)
        assert result.returncode != 0 and "MNIST was not found" in result.stderr, result.stderr
        assert "BARENET_DATA" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "m").exists()


def test_a_non_empty_run_folder_is_not_overwritten(clusters_run):
    out, _ = clusters_run
    before = (out / "model.npz").read_bytes()
    result = run("train", "--dataset", "clusters", "--epochs", "1", "--out", out)
    assert result.returncode == 2 and "exists and is not empty" in result.stderr
    assert (out / "model.npz").read_bytes() == before


def test_an_unreadable_image_is_reported_and_the_others_still_predicted(clusters_run, tmp_path):
    pytest.importorskip("PIL")
    X, y = bn.datasets.load_digits()
    model = bn.Sequential(bn.Dense(64, 10), seed=0)
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    from PIL import Image
    Image.fromarray((X[0].reshape(8, 8) * 255).astype(np.uint8)).save(tmp_path / "good.png")
    result = run("predict", tmp_path / "m.npz", tmp_path / "bad.png", tmp_path / "good.png")
    assert result.returncode == 2
    assert "bad.png: cannot read it" in result.stderr and "good.png:" in result.stdout
    assert "BytesIO" not in result.stderr and "no picture format" in result.stderr
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")  # white paper, no ink
    blank = run("predict", tmp_path / "m.npz", tmp_path / "blank.png", tmp_path / "good.png")
    assert blank.returncode == 0
    lines = blank.stdout.splitlines()
    assert "no ink found" in lines[0] and "no ink found" not in lines[1]


@pytest.mark.slow
def test_a_diverging_run_fails_with_exit_code_1_and_says_why(tmp_path):
    result = run("train", "--dataset", "regression", "--optimizer", "sgd", "--lr", "9", "--epochs", "3",
                 "--out", tmp_path / "r", "--no-plots")
    assert result.returncode == 1
    assert "NonFiniteError" in result.stderr and "learning rate" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_default_train_uses_the_digits_where_mnist_is_not_on_disk(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "BARENET_DATA": str(tmp_path / "nothing")}
    result = run("train", "--epochs", "1", "--out", tmp_path / "a", "--no-plots", env=env)
    assert result.returncode == 0, result.stderr
    assert "training on digits" in result.stdout
    # the fallback is said, with where MNIST was looked for and how to provide it
    assert "note: training on scikit-learn's 8×8 digits, because MNIST was not found" in result.stderr
    assert "BARENET_DATA" in result.stderr and "--dataset digits" in result.stderr
    quiet = run("train", "--dataset", "digits", "--epochs", "1", "--out", tmp_path / "c", "--no-plots", env=env)
    assert quiet.returncode == 0 and "note:" not in quiet.stderr


@pytest.mark.slow
@pytest.mark.data("mnist")
def test_default_train_uses_mnist_where_it_is_on_disk(tmp_path):
    result = run("train", "--epochs", "1", "--out", tmp_path / "b", "--no-plots")
    assert result.returncode == 0 and "training on mnist" in result.stdout


def _wait_for_epochs(path, count, process, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        try:
            if len(json.loads(path.read_text())["epochs"]) - 1 >= count:
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_ctrl_c_saves_what_there_is_and_resume_ends_where_an_uninterrupted_run_would(tmp_path):
    # small batches: many quick epochs, so the interrupt surely lands mid-run
    settings = ["--dataset", "spirals", "--hidden", "64,64", "--batch-size", "8", "--epochs", "30", "--no-plots",
                "--seed", "3"]
    straight = run("train", *settings, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr

    folder = tmp_path / "interrupted"
    # as from a terminal: a job started in the background by a non-interactive shell (nohup, &)
    # inherits an ignored SIGINT, and barenet rightly leaves that alone
    process = subprocess.Popen([SCRIPT, "train", *settings, "--out", str(folder)], preexec_fn=_sigint_default,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert _wait_for_epochs(folder / "history.json", 2, process), "training did not get to epoch 2"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"interrupted: what was trained so far is saved in {folder}/" in stderr and "Traceback" not in stderr
    assert (folder / "model.npz").is_file() and "INTERRUPTED" in (folder / "report.txt").read_text()
    assert 2 <= bn.load(folder / "checkpoint.npz").history.epochs[-1] < 30

    resumed = run("train", "--resume", folder)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    a, b = bn.load(tmp_path / "straight" / "model.npz"), bn.load(folder / "model.npz")
    assert np.array_equal(a.parameter_vectors()[0], b.parameter_vectors()[0])
    assert a.history.to_dict()["loss"] == b.history.to_dict()["loss"]


def test_an_interrupt_before_anything_was_saved_says_so_and_exits_130(tmp_path, monkeypatch, capsys):
    from barenet.app import cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(bn_runs, "train_run", interrupt)  # Ctrl-C while the data loads
    assert cli.main(["train", "--dataset", "xor", "--out", str(tmp_path / "x"), "--no-plots"]) == 130
    assert "interrupted: no epoch had finished, so no model was saved" in capsys.readouterr().err
    monkeypatch.setattr(cli, "build_parser", interrupt)  # Ctrl-C before the command is even read
    assert cli.main(["train"]) == 130
    assert "interrupted before anything started" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2])
def test_ctrl_c_at_any_moment_from_the_first_exits_130_with_a_true_sentence(tmp_path, delay):
    """The console script's own code, signalled ``delay`` seconds after its entry point is
    imported (a few small modules, before NumPy): while NumPy and barenet load, while the data loads, or during training. Never a traceback; 130 exactly
    (not death by SIGINT); a run folder is named as saved only if it holds a model."""
    folder = tmp_path / "run"
    launcher = ("import sys; from barenet.app.entry import main; "  # what the console script runs
                "sys.stderr.write('up\\n'); sys.stderr.flush(); sys.exit(main())")
    process = subprocess.Popen([sys.executable, "-c", launcher, "train", "--dataset", "digits", "--epochs", "40",
                                "--batch-size", "16", "--out", str(folder), "--no-plots", "--quiet"],
                               preexec_fn=_sigint_default, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr.readline() == "up\n"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    if "saved in" in last:
        assert last == f"interrupted: what was trained so far is saved in {folder}/ (--resume {folder} continues)"
        assert (folder / "model.npz").is_file()
    else:
        assert last in ("interrupted before anything started", "interrupted: no epoch had finished, so no model was saved")
        assert not (folder / "model.npz").exists()


def test_an_interrupt_a_library_swallowed_is_raised_at_the_next_checkpoint_and_never_printed(monkeypatch, capsys):
    """What the command does when compiled code catches its Ctrl-C (rare, so not left to timing)."""
    from barenet.app import interrupts
    monkeypatch.setattr(interrupts, "_interrupts", 0)
    interrupts.raise_if_interrupted()  # nothing pressed: nothing raised
    try:
        interrupts.on_interrupt(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass  # swallowed
    with pytest.raises(KeyboardInterrupt):
        interrupts.raise_if_interrupted()

    class RaisesWhenCollected:  # Python prints what __del__ raises as "Exception ignored in ..."
        def __init__(self, error):
            self.error = error

        def __del__(self):
            raise self.error

    monkeypatch.setattr(sys, "unraisablehook", interrupts._unraisable)
    RaisesWhenCollected(KeyboardInterrupt())  # collected at once: its interrupt is not printed
    assert capsys.readouterr().err == ""
    RaisesWhenCollected(ValueError("shown"))  # anything else is, as usual
    assert "ValueError: shown" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_can_extend_a_finished_run(tmp_path):
    folder = tmp_path / "r"
    assert run("train", "--dataset", "xor", "--epochs", "2", "--out", folder, "--no-plots").returncode == 0
    result = run("train", "--resume", folder, "--epochs", "4", "--no-plots")
    assert result.returncode == 0, result.stderr
    assert bn.load(folder / "model.npz").history.epochs[-1] == 4
    # --epochs is the new total: asking for fewer, or for nothing more, is said and changes nothing
    config = (folder / "config.json").read_bytes()
    fewer = run("train", "--resume", folder, "--epochs", "3", "--no-plots")
    assert fewer.returncode == 2 and "already has 4 epochs" in fewer.stderr and "new total" in fewer.stderr
    again = run("train", "--resume", folder, "--no-plots")
    assert again.returncode == 2 and "is complete (4 of 4 epochs)" in again.stderr
    assert (folder / "config.json").read_bytes() == config
    assert bn.load(folder / "model.npz").history.epochs[-1] == 4


@pytest.mark.slow
def test_serve_starts_says_which_model_and_answers(tmp_path):
    pytest.importorskip("fastapi")
    import socket
    import urllib.request
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    process = subprocess.Popen([SCRIPT, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, preexec_fn=_sigint_default)
    try:
        first = process.stdout.readline()
        assert first.startswith("serving the model that ships with barenet"), first
        assert f"http://127.0.0.1:{port}/" in process.stdout.readline()
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/model", timeout=2) as reply:
                    info = json.loads(reply.read())
                break
            except OSError:
                assert time.time() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert info["classes"] == [str(d) for d in range(10)] and info["test"]["accuracy"] > 0.97
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


@pytest.mark.slow
def test_serve_refuses_a_model_that_cannot_read_drawings(tmp_path):
    pytest.importorskip("fastapi")
    model = bn.Sequential(bn.Dense(2, 3), seed=0)
    model.loss = bn.CrossEntropy()
    model.save(tmp_path / "small.npz")
    result = run("serve", tmp_path / "small.npz", "--port", "1")
    assert result.returncode == 2 and "784 inputs" in result.stderr
    assert run("serve", tmp_path / "missing.npz").returncode == 2


@pytest.mark.slow
def test_train_on_the_numba_backend_records_it_and_matches_numpy(tmp_path):
    pytest.importorskip("numba")
    results = {}
    for backend in ("numpy", "numba"):
        result = run("train", "--dataset", "clusters", "--epochs", "2", "--backend", backend, "--no-plots",
                     "--quiet", "--out", tmp_path / backend)
        assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / backend / "config.json").read_text())["backend"] == backend
        results[backend] = bn.load(tmp_path / backend / "model.npz")
    np.testing.assert_allclose(results["numba"].parameter_vectors()[0], results["numpy"].parameter_vectors()[0],
                               rtol=1e-4, atol=1e-5)  # the loss kernel rounds differently


def test_train_refuses_the_numba_backend_without_numba_before_making_a_folder(tmp_path):
    code = ("import sys; sys.modules['numba'] = None\n"
            "from barenet.app.cli import main\nsys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "train", "--dataset", "clusters", "--backend", "numba",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'pip install "barenet[fast]"' in result.stderr and not (tmp_path / "run").exists()


def test_train_and_evaluate_on_a_gpu_refuse_clearly_without_one(tmp_path, clusters_run):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    trained = run("train", "--dataset", "clusters", "--device", "gpu", "--out", tmp_path / "run")
    assert trained.returncode == 2 and 'pip install "barenet[gpu]"' in trained.stderr
    assert not (tmp_path / "run").exists()
    evaluated = run("evaluate", clusters_run[0] / "model.npz", "--device", "gpu")
    assert evaluated.returncode == 2 and "barenet[gpu]" in evaluated.stderr
    mixed = run("train", "--dataset", "clusters", "--device", "gpu", "--backend", "numba", "--out", tmp_path / "r2")
    assert mixed.returncode == 2 and "cannot go with --backend numba" in mixed.stderr
