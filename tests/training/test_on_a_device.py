"""Everything a user does, on a device: the strict stand-in for CuPy everywhere (arrays that refuse
NumPy arrays and count every read back to the host), and CuPy itself where a GPU is present.

The stand-in computes with NumPy underneath, so its results must equal the NumPy backend's to the
last bit; CuPy's must agree to rounding."""
import json
import math

import numpy as np
import pytest

import barenet as bn
from barenet import callbacks as cb
from barenet.core import backend
from barenet.core.backends.strict import StrictArray
from barenet.training import steps


def _gpu_present():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


DEVICES = ["strict", pytest.param("cupy", marks=pytest.mark.skipif(
    not _gpu_present(), reason="CuPy and an NVIDIA GPU are not on this machine (the GPU machine runs these)"))]


@pytest.fixture(params=DEVICES)
def device(request):
    with bn.using_backend(request.param):
        yield request.param


def _tolerance(device):
    return {"rtol": 0, "atol": 0} if device == "strict" else {"rtol": 1e-6, "atol": 1e-9}


def _on(name, make):
    """make() under backend ``name``; the backend is put back afterwards."""
    with bn.using_backend(name):
        return make()


@pytest.fixture
def data(rng):
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    return X, y


HIDDEN = {"Dense": lambda: [bn.Dense(8, 8)], "ReLU": lambda: [bn.ReLU()], "LeakyReLU": lambda: [bn.LeakyReLU(0.1)],
          "Sigmoid": lambda: [bn.Sigmoid()], "Tanh": lambda: [bn.Tanh()], "GELU": lambda: [bn.GELU()],
          "Softmax": lambda: [bn.Softmax()], "Dropout": lambda: [bn.Dropout(0.3)], "Identity": lambda: [bn.Identity()]}


def _train(make_layers, loss, optimizer, X, y, epochs=2, **fit):
    model = bn.Sequential(*make_layers(), dtype="float64", seed=3)
    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=32, verbose=0, **fit)
    return model


@pytest.mark.parametrize("layer", HIDDEN)
def test_every_layer_trains_on_the_device_as_on_numpy(layer, device, data):
    X, y = data

    def layers():
        return [bn.Standardizer().fit(X), bn.Dense(6, 8), *HIDDEN[layer](), bn.Dense(8, 3)]

    def run():
        model = _train(layers, bn.CrossEntropy(), bn.Adam(1e-2), X, y, validation_split=0.2)
        return bn.to_numpy(model.parameter_vectors()[0]), model.history.to_dict(), model.predict_proba(X)

    reference, on_device = _on("numpy", run), _on(device, run)
    np.testing.assert_allclose(on_device[0], reference[0], **_tolerance(device))
    np.testing.assert_allclose(on_device[2], reference[2], **_tolerance(device))
    assert on_device[1].keys() == reference[1].keys()
    assert isinstance(on_device[2], np.ndarray)  # what users get back lives on the host


LOSSES = {"CrossEntropy": (lambda: bn.CrossEntropy(0.1), lambda y: y, 3),
          "CrossEntropy-rows": (bn.CrossEntropy, lambda y: bn.one_hot(y, 3), 3),
          "BinaryCrossEntropy": (bn.BinaryCrossEntropy, lambda y: (y > 0).astype(float)[:, None], 1),
          "MSE": (bn.MSE, lambda y: y[:, None].astype(float), 1), "MAE": (bn.MAE, lambda y: y[:, None].astype(float), 1)}
OPTIMIZERS = {"SGD": lambda: bn.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
              "RMSProp": lambda: bn.RMSProp(1e-2, centered=True, momentum=0.5),
              "Adam": lambda: bn.Adam(bn.schedules.CosineDecay(1e-2, epochs=2, warmup_epochs=0.5), clip_norm=1.0),
              "AdamW": lambda: bn.AdamW(bn.schedules.StepDecay(1e-2, step_size=1), weight_decay=0.05)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_and_optimizer_trains_on_the_device_as_on_numpy(loss, optimizer, device, data):
    X, y = data
    make_loss, targets, outputs = LOSSES[loss]

    def run():
        model = _train(lambda: [bn.Dense(6, 8), bn.Tanh(), bn.Dense(8, outputs)], make_loss(), OPTIMIZERS[optimizer](),
                       X, targets(y), sample_weight=np.linspace(0.5, 1.5, len(X)))
        return bn.to_numpy(model.parameter_vectors()[0]), model.evaluate(X, targets(y)), model.predict(X)

    reference, on_device = _on("numpy", run), _on(device, run)
    np.testing.assert_allclose(on_device[0], reference[0], **_tolerance(device))
    assert on_device[1] == pytest.approx(reference[1], rel=1e-9 if device == "strict" else 1e-6)
    np.testing.assert_array_equal(on_device[2], reference[2])


def test_callbacks_restore_checkpoint_and_log_on_the_device(device, data, tmp_path):
    X, y = data
    stopper = cb.EarlyStopping(patience=1)
    model = bn.Sequential(bn.Dense(6, 16), bn.ReLU(), bn.Dense(16, 3), dtype="float64", seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.3), epochs=8, batch_size=16, verbose=0,
              validation_split=0.25, callbacks=[stopper, cb.ModelCheckpoint(tmp_path / "e{epoch}.npz"),
                                               cb.CSVLogger(tmp_path / "log.csv"),
                                               cb.HistoryWriter(tmp_path / "history.json"),
                                               cb.LearningRateScheduler(lambda epoch, lr: lr * 0.9)])
    assert stopper.best_epoch is not None and isinstance(stopper.weights, type(model.parameter_vectors()[0]))
    restored = bn.to_numpy(model.parameter_vectors()[0])
    best = bn.to_numpy(bn.load(tmp_path / f"e{stopper.best_epoch}.npz").parameter_vectors()[0])
    np.testing.assert_array_equal(restored, best)  # EarlyStopping put back the best epoch's weights
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == len(model.history)
    assert (tmp_path / "log.csv").read_text().count("\n") == len(model.history)  # a header, one row per epoch


def test_divergence_is_caught_on_the_device_with_the_weights_from_before(device, data):
    X, y = data
    model = bn.Sequential(bn.Dense(6, 8), bn.ReLU(), bn.Dense(8, 1), dtype="float64", seed=0)
    with pytest.raises(bn.NonFiniteError, match="diverged") as error:
        model.fit(X * 1e150, y[:, None].astype(float), loss=bn.MSE(), optimizer=bn.SGD(10.0), epochs=3, verbose=0)
    assert np.isfinite(bn.to_numpy(model.parameter_vectors()[0])).all(), error.value
    guard = cb.TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X * 1e150, y[:, None].astype(float), epochs=1, verbose=0, callbacks=[guard])


@pytest.mark.parametrize("saved_on, loaded_on", [("device", "numpy"), ("numpy", "device"), ("device", "device")])
def test_save_load_and_resume_across_backends(saved_on, loaded_on, device, data, tmp_path):
    X, y = data
    where = {"device": device, "numpy": "numpy"}

    def first_half():
        model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(6, 8), bn.Dropout(0.2), bn.ReLU(), bn.Dense(8, 3),
                              dtype="float64", seed=1)
        model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=2, batch_size=16, verbose=0)
        model.save(tmp_path / "half.npz")

    def second_half():
        model = bn.load(tmp_path / "half.npz")
        model.fit(X, y, epochs=2, batch_size=16, verbose=0)
        return bn.to_numpy(model.parameter_vectors()[0])

    def straight():
        model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(6, 8), bn.Dropout(0.2), bn.ReLU(), bn.Dense(8, 3),
                              dtype="float64", seed=1)
        model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=4, batch_size=16, verbose=0)
        return bn.to_numpy(model.parameter_vectors()[0])

    _on(where[saved_on], first_half)
    np.testing.assert_allclose(_on(where[loaded_on], second_half), _on("numpy", straight), **_tolerance(device))


def test_gradient_check_and_ensembles_on_the_device(device, data, tmp_path):
    X, y = data
    model = bn.Sequential(bn.Dense(6, 5), bn.Tanh(), bn.Dense(5, 3), dtype="float64", seed=0)
    report = bn.check_gradients(model, X[:6], y[:6], bn.CrossEntropy(), verbose=False)
    assert report.passed(1e-6), str(report)
    members = []
    for seed in (0, 1):
        member = bn.Sequential(bn.Dense(6, 8), bn.ReLU(), bn.Dense(8, 3), seed=seed)
        member.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=2, verbose=0)
        members.append(member)
    ensemble = bn.Ensemble(members)
    probabilities = ensemble.predict_proba(X)
    assert isinstance(probabilities, np.ndarray) and np.allclose(probabilities.sum(axis=1), 1)
    assert 0 <= ensemble.evaluate(X, y)["accuracy"] <= 1
    ensemble.save(tmp_path / "ensemble.npz")
    np.testing.assert_allclose(_on("numpy", lambda: bn.load(tmp_path / "ensemble.npz").predict_proba(X)),
                               probabilities, rtol=1e-6)


def test_plots_of_a_model_on_the_device(device, data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from barenet import plots
    X, y = data
    model = bn.Sequential(bn.Dense(6, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), epochs=2, verbose=0, validation_split=0.2)
    plots.learning_curves(model.history)
    images = bn.Sequential(bn.Dense(64, 10), seed=0)
    images.fit(np.tile(X, (1, 11))[:, :64], y, loss=bn.CrossEntropy(), epochs=1, verbose=0)
    assert len(plots.first_layer_weights(images, image_shape=(8, 8), n=10).axes) >= 10
    flat = bn.Sequential(bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)
    flat.fit(X[:, :2], y, loss=bn.CrossEntropy(), epochs=1, verbose=0)
    plots.decision_boundary(flat, X[:, :2], y)
    plots.activation_functions()


def _dense():
    return bn.Sequential(bn.Dense(6, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)


def _convolutional():
    return bn.Sequential(bn.Reshape((1, 2, 3)), bn.Conv2D(1, 4, 2, padding="same"), bn.ReLU(), bn.MaxPool2D((2, 1)),
                         bn.Flatten(), bn.Dense(12, 3), seed=0)


def _reads_per_epoch(X, y, batch_size, callbacks=(), network=_dense):
    with bn.using_backend("strict"):
        model = network()
        model.fit(X, y, loss=bn.CrossEntropy(), epochs=1, batch_size=batch_size, verbose=0)  # epoch 0 measured
        before = StrictArray.syncs
        model.fit(X, y, epochs=2, batch_size=batch_size, verbose=0, callbacks=list(callbacks))
        return (StrictArray.syncs - before) / 2


def test_a_fit_waits_for_the_device_once_per_window_of_steps(data):
    """On the stand-in every read back to the host is counted. An epoch of n batches reads the
    divergence flag once per DEVICE_CHECK_EVERY steps, plus a few reads at the epoch's end (its
    loss and accuracy), not three times a batch as it once did. A callback that asks for every
    batch's loss reads it, and then the check runs every step too, so that no callback sees a
    batch after the one that diverged: two reads per step."""
    X, y = data
    batches = len(X) // 4
    per_epoch = _reads_per_epoch(X, y, 4)
    assert batches > 2 * steps.DEVICE_CHECK_EVERY - 4
    assert per_epoch <= math.ceil(batches / steps.DEVICE_CHECK_EVERY) + 4, per_epoch

    class EveryBatch(cb.Callback):
        def on_batch_end(self, batch, logs):
            self.last = logs["loss"]
    assert 2 * batches <= _reads_per_epoch(X, y, 4, [EveryBatch()]) <= 2 * batches + 4


def test_a_convolutional_network_waits_for_the_device_as_seldom_as_a_dense_one(data):
    """MaxPool2D asked the host, each step, whether its output held a NaN (forward) and whether dY
    was finite (backward), two waits for the device a step. On a device it does without: the NaN
    fix-up and xp.where run every time, as cheap there as the questions."""
    X, y = data
    assert _reads_per_epoch(X, y, 4, network=_convolutional) == _reads_per_epoch(X, y, 4)


@pytest.mark.parametrize("bad_row", [0, 37, 119])
def test_divergence_found_a_window_late_leaves_what_a_check_every_step_leaves(bad_row, data):
    """The deferred check rolls back and replays: the error names the same batch, and the weights,
    the optimizer's state and the random generator are those a check every step leaves."""
    X, y = data
    X = X.copy()
    X[bad_row] = 1e308  # the batch that holds this row overflows the first layer

    def run():
        model = bn.Sequential(bn.Dense(6, 16), bn.ReLU(), bn.Dropout(0.2), bn.Dense(16, 3), dtype="float64", seed=4)
        with pytest.raises(bn.NonFiniteError) as error:
            model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=2, batch_size=3, verbose=0)
        return (str(error.value), bn.to_numpy(model.parameter_vectors()[0]), model.optimizer.steps,
                bn.to_numpy(model.optimizer.state["exp_avg_sq"]), model.rng.random())

    reference, deferred = _on("numpy", run), _on("strict", run)
    assert deferred[0] == reference[0] and "epoch 1, batch" in reference[0]
    np.testing.assert_array_equal(deferred[1], reference[1])
    assert np.isfinite(deferred[1]).all() and deferred[2] == reference[2]
    np.testing.assert_array_equal(deferred[3], reference[3])
    assert deferred[4] == reference[4]


def test_the_stand_in_refuses_what_cupy_refuses():
    with bn.using_backend("strict"):
        xp = backend.xp
        device_array = xp.asarray(np.ones(3))
        with pytest.raises(TypeError, match="Implicit conversion"):
            np.asarray(device_array)
        with pytest.raises(TypeError, match="NumPy array"):
            device_array + np.ones(3)
        with pytest.raises(ValueError, match="cannot be used for fill"):
            device_array[...] = np.zeros(3)
        assert isinstance(device_array.sum(), StrictArray)  # reductions stay on the device
        assert float(device_array.sum()) == 3.0 and np.array_equal(bn.to_numpy(device_array), np.ones(3))


def test_missing_cupy_or_gpu_is_a_clear_error(monkeypatch):
    import sys
    if _gpu_present():
        pytest.skip("a GPU is present: set_backend('cupy') succeeds here")
    before = bn.get_backend()
    with pytest.raises((ImportError, RuntimeError), match="(barenet\\[gpu\\]|no usable NVIDIA GPU|no NVIDIA GPU)"):
        bn.set_backend("cupy")
    assert bn.get_backend() == before
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ImportError, match='pip install "barenet\\[gpu\\]"'):
        bn.set_backend("cupy")
