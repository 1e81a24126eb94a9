"""Callbacks, progress display and Ctrl-C: what each promises during fit."""
import csv
import io
import json
import os
import signal

import numpy as np
import pytest

import barenet as bn
from barenet import callbacks as cb


@pytest.fixture
def problem():
    X, y = bn.datasets.make_clusters(400, seed=0)
    return X, y, X[:100], y[:100]


def _model(seed=0):
    return bn.Sequential(bn.Dense(2, 16), bn.ReLU(), bn.Dense(16, 3), seed=seed)


class Recorder(bn.Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", dict(logs)))

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_hooks_are_called_in_order_with_epochs_counted_from_one(problem):
    X, y, Xv, yv = problem
    recorder = Recorder()
    _model().fit(X, y, loss="cross_entropy", epochs=2, validation_data=(Xv, yv), callbacks=[recorder], verbose=0)
    kinds = [e[0] if e[0] != "epoch_begin" and e[0] != "epoch_end" else e for e in recorder.events]
    assert kinds == ["train_begin", ("epoch_begin", 1), ("epoch_end", 1), ("epoch_begin", 2), ("epoch_end", 2),
                     "train_end"]
    assert "val_loss" in recorder.events[0][1]


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(problem):
    X, y, Xv, yv = problem
    model = _model()
    stopper = cb.EarlyStopping(monitor="val_loss", patience=2)
    # a learning rate so high that validation loss soon gets worse
    model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(3.0), epochs=40, validation_data=(Xv, yv),
              callbacks=[stopper], verbose=0)
    history = model.history
    best_epoch = int(np.argmin(history["val_loss"][1:])) + 1
    assert stopper.best_epoch == best_epoch and stopper.stopped_epoch == history.epochs[-1]
    assert history.epochs[-1] == best_epoch + 3  # patience 2: the third epoch without improvement stops
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(history["val_loss"][best_epoch], rel=1e-5)


def test_early_stopping_restores_the_best_weights_also_when_epochs_run_out(problem):
    X, y, Xv, yv = problem
    model = _model()
    stopper = cb.EarlyStopping(monitor="val_accuracy", patience=100)
    model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(2.0), epochs=8, validation_data=(Xv, yv),
              callbacks=[stopper], verbose=0)
    best = max(model.history["val_accuracy"][1:])
    assert stopper.stopped_epoch is None
    assert model.evaluate(Xv, yv)["accuracy"] == best


def _feed(stopper, losses, model=None):
    """Give an EarlyStopping the values of successive epochs, as fit would; the epochs it ran."""
    model = model or _model()
    stopper.set_model(model)
    model.stop_training = False
    stopper.on_train_begin({})
    ran = 0
    for epoch, loss in enumerate(losses, 1):
        model.parameter_vectors()[0][0] = epoch  # weights that say which epoch they are from
        stopper.on_epoch_end(epoch, {"loss": loss})
        ran = epoch
        if model.stop_training:
            break
    stopper.on_train_end({})
    return ran


def test_early_stopping_compared_to_the_best_follows_every_better_value():
    """Losses 1.0, 0.95, 0.94, 0.935 with min_delta 0.02: compared with the last improvement
    (Keras) 0.935 beats 0.95 by less than 0.02 but 0.94 is not the reference; compared with the
    best (scikit-learn) each smaller loss becomes the best, and patience counts the epochs that
    fail to beat it by 0.02."""
    losses = [1.0, 0.95, 0.94, 0.935, 0.934, 0.933]
    keras = cb.EarlyStopping("loss", patience=1, min_delta=0.02)
    scikit = cb.EarlyStopping("loss", patience=1, min_delta=0.02, compare_to="best")
    model_k, model_s = _model(), _model()
    assert _feed(keras, losses, model_k) == 4 and keras.best_value == 0.95 and keras.best_epoch == 2
    assert _feed(scikit, losses, model_s) == 4 and scikit.best_value == 0.935 and scikit.best_epoch == 4
    assert model_k.parameter_vectors()[0][0] == 2 and model_s.parameter_vectors()[0][0] == 4  # the best epoch's weights
    with pytest.raises(ValueError, match="compare_to must be"):
        cb.EarlyStopping(compare_to="last")


def test_a_tie_with_the_best_plus_min_delta_counts_as_progress_when_compared_to_the_best():
    stopper = cb.EarlyStopping("loss", patience=0, min_delta=0.0, compare_to="best", restore_best_weights=False)
    assert _feed(stopper, [1.0, 1.0, 1.0, 2.0, 3.0]) == 4  # scikit-learn's "loss > best - tol" to count a miss


def test_on_plateau_can_keep_training_going_and_restart_the_patience():
    calls = []
    stopper = cb.EarlyStopping("loss", patience=1, on_plateau=lambda: calls.append(1) or len(calls) < 2)
    ran = _feed(stopper, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert len(calls) == 2 and ran == 5 and stopper.stopped_epoch == 5  # kept going once, then stopped
    with pytest.raises(TypeError, match="on_plateau must be a function"):
        cb.EarlyStopping(on_plateau=3)


def test_resume_replays_the_history_through_the_same_rule():
    history = bn.History()
    for epoch, loss in enumerate([None, 1.0, 0.95, 0.94, 0.935]):
        history.append(epoch, {"loss": loss})
    stopper = cb.EarlyStopping("loss", patience=5, min_delta=0.02, compare_to="best")
    stopper.resume(history)
    assert stopper.best_value == 0.935 and stopper.best_epoch == 4 and stopper.wait == 2
    keras = cb.EarlyStopping("loss", patience=5, min_delta=0.02)
    keras.resume(history)
    assert keras.best_value == 0.95 and keras.wait == 2


def test_a_monitor_that_training_does_not_report_is_a_clear_error(problem):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match="monitors 'val_loss'.*pass validation data"):
        _model().fit(X, y, loss="cross_entropy", epochs=2, callbacks=[cb.EarlyStopping()], verbose=0)


def test_model_checkpoint_every_epoch_and_best_only(problem, tmp_path):
    X, y, Xv, yv = problem
    model = _model()
    every = cb.ModelCheckpoint(tmp_path / "epoch{epoch}.npz")
    best = cb.ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", save_best_only=True)
    model.fit(X, y, loss="cross_entropy", epochs=3, validation_data=(Xv, yv), callbacks=[every, best], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch1.npz", "epoch2.npz", "epoch3.npz"]
    final = bn.load(tmp_path / "epoch3.npz")
    np.testing.assert_array_equal(final.predict_proba(X), model.predict_proba(X))
    assert final.optimizer is not None and final.optimizer.steps == model.optimizer.steps
    assert bn.load(tmp_path / "best.npz").history.epochs[-1] == best.best_epoch


def test_learning_rate_scheduler_sets_the_rate_each_epoch(problem):
    X, y, _, _ = problem
    seen = []

    class Spy(bn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["lr"])

    scheduler = cb.LearningRateScheduler(lambda epoch, lr: 0.1 / epoch)
    _model().fit(X, y, loss="cross_entropy", optimizer=bn.SGD(1.0), epochs=3, callbacks=[scheduler, Spy()], verbose=0)
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    with pytest.raises(ValueError, match="positive number"):
        _model().fit(X, y, loss="cross_entropy", epochs=1, callbacks=[cb.LearningRateScheduler(lambda e, lr: -1)],
                     verbose=0)


def test_terminate_on_nan_stops_with_a_warning_instead_of_raising(rng):
    X, y = rng.normal(size=(64, 4)), rng.normal(size=(64, 1)) * 1e3
    model = bn.Sequential(bn.Dense(4, 32), bn.ReLU(), bn.Dense(32, 1), seed=0)
    guard = cb.TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="training diverged"):
        model.fit(X, y, loss="mse", optimizer=bn.SGD(10.0), epochs=20, batch_size=16, callbacks=[guard], verbose=0)
    assert isinstance(guard.error, bn.NonFiniteError)
    assert np.isfinite(model.parameter_vectors()[0]).all()


def test_csv_logger_and_history_writer(problem, tmp_path):
    X, y, Xv, yv = problem
    model = _model()
    model.fit(X, y, loss="cross_entropy", epochs=3, validation_data=(Xv, yv), verbose=0,
              callbacks=[cb.CSVLogger(tmp_path / "log.csv"), cb.HistoryWriter(tmp_path / "history.json")])
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[-1]["val_loss"]) == pytest.approx(model.history["val_loss"][-1])
    assert json.loads((tmp_path / "history.json").read_text()) == model.history.to_dict()


@pytest.fixture
def interactive_sigint():
    """SIGINT as Python sets it up in a terminal (a background job may have it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class PressCtrlC(bn.Callback):
    """Sends this process SIGINT at batch 3 of epoch 3; counts the batches that ran."""

    batches = 0

    def on_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.model.history.epochs[-1] == 2 and batch == 3:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_after_the_current_batch_and_keeps_finished_epochs(problem, interactive_sigint):
    X, y, Xv, yv = problem
    model = _model()
    recorder, press = Recorder(), PressCtrlC()

    with pytest.raises(KeyboardInterrupt, match="interrupted during epoch 3"):
        model.fit(X, y, loss="cross_entropy", epochs=10, batch_size=32, validation_data=(Xv, yv),
                  callbacks=[press, recorder], verbose=0)
    assert model.history.epochs == [0, 1, 2]
    assert recorder.events[-1] == ("train_end",)
    assert press.batches == 2 * 13 + 4  # stopped right after the batch during which it was pressed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    model.fit(X, y, epochs=1, verbose=0)  # the model is still usable
    assert model.history.epochs[-1] == 3


class PressCtrlCWhileMeasuring(bn.Layer):
    """Changes nothing; sends this process SIGINT during the first inference pass it sees, and counts
    the inference and training batches that went through it."""

    def __init__(self, at=1):
        super().__init__()
        self.inference = self.training_batches = 0
        self.at = at  # the inference batch during which to press

    def forward(self, x, training=True):
        if training:
            self.training_batches += 1
        else:
            self.inference += 1
            if self.inference == self.at:
                os.kill(os.getpid(), signal.SIGINT)
        return x

    def backward(self, grad_out):
        return grad_out


@pytest.mark.parametrize("at, passes", [(1, "training"), (6, "validation")])
def test_ctrl_c_during_the_passes_before_the_first_epoch_stops_after_that_batch(at, passes, interactive_sigint):
    """fit measures the untrained model over the whole training set, then the validation set,
    first (epoch 0 of the history), 1,024 rows a batch: long passes for a convolutional network on
    60,000 images. Ctrl-C during either stops it after the batch it came in, and trains nothing,
    where it used to wait for both passes and a first batch of training."""
    X, y = bn.datasets.make_clusters(5000, seed=0)
    press = PressCtrlCWhileMeasuring(at)
    model = bn.Sequential(press, bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)
    before = model.parameter_vectors()[0].copy()
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt, match="before its first epoch.*nothing was trained"):
        model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=500, callbacks=[recorder], verbose=0,
                  validation_data=(X, y))
    assert (press.inference, press.training_batches) == (at, 0), passes  # each pass has 5 batches
    assert model.history.epochs == [] and recorder.events == []
    np.testing.assert_array_equal(model.parameter_vectors()[0], before)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    model.fit(X, y, epochs=1, batch_size=500, verbose=0)  # still usable: the pass again, then training
    assert model.history.epochs == [0, 1] and press.training_batches == 10


def test_where_sigint_is_ignored_fit_leaves_it_ignored(problem):
    """A job started in the background with SIGINT ignored (nohup, `cmd &` from a script) must
    not start reacting to it because it trains."""
    X, y, _, _ = problem
    model, press = _model(), PressCtrlC()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        model.fit(X, y, loss="cross_entropy", epochs=4, batch_size=32, callbacks=[press], verbose=0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert model.history.epochs == [0, 1, 2, 3, 4] and press.batches == 4 * 13


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_progress_bar_shows_the_running_loss(problem):
    pytest.importorskip("tqdm")
    X, y, _, _ = problem
    stream = FakeTerminal()
    progress = cb.progress_for(1, 2, 13, stream)
    assert isinstance(progress, cb.ProgressBar)
    _model().fit(X, y, loss="cross_entropy", epochs=2, batch_size=32, callbacks=[progress], verbose=0)
    text = stream.getvalue()
    assert "epoch 1/2" in text and "batch" in text and "(running mean)" in text
    assert len(text.splitlines()) < 20  # a bar that redraws itself, not a line per batch


def test_in_a_file_or_pipe_progress_is_plain_lines():
    assert isinstance(cb.progress_for(1, 5, 100, io.StringIO()), cb.ProgressLogger)
    assert not isinstance(cb.progress_for(1, 5, 100, io.StringIO()), cb.ProgressBar)
    assert isinstance(cb.progress_for(2, 5, 100, FakeTerminal()), cb.ProgressLogger)
    assert cb.progress_for(0, 5, 100, FakeTerminal()) is None
