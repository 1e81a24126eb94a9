"""Sequential and its training API: what fit, evaluate, predict and train_step promise, and the
errors they give for bad input (before touching the model)."""
import numpy as np
import pytest

import barenet as bn
from barenet.training import loop


def _mlp(seed=0, dtype="float32", classes=3, features=4):
    return bn.Sequential(bn.Dense(features, 16), bn.ReLU(), bn.Dense(16, classes), seed=seed, dtype=dtype)


@pytest.fixture
def data(rng):
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


def _weights(model):
    return {k: v.copy() for k, v in model.params.items()}


# -- construction --------------------------------------------------------------------------------

def test_layers_are_checked_at_construction_naming_both_layers():
    with pytest.raises(ValueError, match=r"layer 2 Dense\(8, 3\) cannot follow layer 1 ReLU.*expects 8 input features, got 16"):
        bn.Sequential(bn.Dense(4, 16), bn.ReLU(), bn.Dense(8, 3))
    with pytest.raises(TypeError, match="layer 1 must be a barenet Layer"):
        bn.Sequential(bn.Dense(4, 16), "relu")
    with pytest.raises(ValueError, match="at least one layer"):
        bn.Sequential()
    relu = bn.ReLU()
    with pytest.raises(ValueError, match="appears twice"):
        bn.Sequential(bn.Dense(2, 2), relu, bn.Dense(2, 2), relu)
    with pytest.raises(ValueError, match="dtype must be"):
        bn.Sequential(bn.Dense(2, 2), dtype="float16")
    with pytest.raises(ValueError, match="seed"):
        bn.Sequential(bn.Dense(2, 2), seed=-1)


def test_parameters_live_in_one_vector_and_dtype_is_float32_by_default():
    model = _mlp()
    theta, grad = model.parameter_vectors()
    assert theta.dtype == np.float32 and theta.size == 4 * 16 + 16 + 16 * 3 + 3 == model.count_params()
    for layer in model.layers:
        for name, value in layer.params.items():
            assert np.shares_memory(value, theta) and np.shares_memory(layer.grads[name], grad)
    assert model.astype("float64").parameter_vectors()[0].dtype == np.float64


def test_summary_lists_layers_shapes_and_counts():
    lines = []
    bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 10)).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Dense(784, 256)" in text and "(batch, 256)" in text and "200,960" in text
    assert "(batch, 10)" in text and "2,570" in text
    assert "total parameters: 203,530" in text


def test_model_backward_returns_the_input_gradient_like_a_layer(rng):
    model = _mlp(dtype="float64")
    X = rng.normal(size=(5, 4))
    out = model.forward(X)
    grad_in = model.backward(np.ones_like(out))
    model.forward(X)  # backward released what the forward pass kept (as PyTorch frees its graph): again
    expected = np.ones_like(out)
    for layer in reversed(model.layers):
        expected = layer.backward(expected)
    np.testing.assert_allclose(grad_in, expected)
    assert grad_in.shape == X.shape


# -- fit -----------------------------------------------------------------------------------------

def test_fit_returns_history_with_an_epoch_zero_before_any_update(data):
    X, y = data
    model = _mlp()
    history = model.fit(X, y, loss=bn.CrossEntropy(), epochs=3, batch_size=16, verbose=0,
                        validation_data=(X[:30], y[:30]))
    assert history is model.history
    assert history.epochs == [0, 1, 2, 3]
    assert set(history.keys()) >= {"loss", "accuracy", "val_loss", "val_accuracy", "time", "lr"}
    fresh = _mlp()
    assert history["loss"][0] == pytest.approx(fresh.evaluate(X, y, loss="cross_entropy")["loss"], rel=1e-6)
    assert history["time"][0] is None and all(t > 0 for t in history["time"][1:])
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(X[:30], y[:30])["loss"], rel=1e-6)


def test_a_second_fit_appends_to_the_history_and_keeps_optimizer_state(data):
    X, y = data
    model = _mlp()
    opt = bn.Adam(1e-2)
    model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, verbose=0)
    steps = opt.steps
    model.fit(X, y, epochs=3, verbose=0)  # same loss and optimizer, kept
    assert model.history.epochs == [0, 1, 2, 3, 4, 5]
    assert model.optimizer is opt and opt.steps == steps + 3 * int(np.ceil(120 / 32))


def test_two_runs_with_the_same_seed_give_bit_identical_weights(data):
    X, y = data

    def run(seed):
        model = bn.Sequential(bn.Dense(4, 16), bn.ReLU(), bn.Dropout(0.3), bn.Dense(16, 3), seed=seed)
        model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=8, validation_split=0.2, verbose=0)
        return model.parameter_vectors()[0].copy()

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_fit_handles_the_last_partial_batch(data):
    X, y = data
    model = _mlp()
    opt = bn.SGD(0.1)
    model.fit(X[:50], y[:50], loss="cross_entropy", optimizer=opt, epochs=1, batch_size=16, verbose=0)
    assert opt.steps == 4  # 16 + 16 + 16 + 2


def test_validation_split_is_shuffled_and_stratified(rng, monkeypatch):
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2, 3], 50)  # sorted: 'the last 10%' would be all class 3
    model = bn.Sequential(bn.Dense(4, 4), seed=0)
    seen = {}

    class Spy(bn.Callback):
        def on_train_begin(self, logs=None):
            seen.update(logs)

    model.fit(X, y, loss="cross_entropy", epochs=0, validation_split=0.2, callbacks=[Spy()], verbose=0)
    split_sizes = []
    original = loop.measure

    def measure(model_, X_part, y_part, *rest, **kw):
        split_sizes.append(np.bincount(y_part, minlength=4))
        return original(model_, X_part, y_part, *rest, **kw)

    model2 = bn.Sequential(bn.Dense(4, 4), seed=0)
    monkeypatch.setattr(loop, "measure", measure)
    model2.fit(X, y, loss="cross_entropy", epochs=0, validation_split=0.2, verbose=0)
    train_counts, val_counts = split_sizes
    np.testing.assert_array_equal(val_counts, [10, 10, 10, 10])
    np.testing.assert_array_equal(train_counts, [40, 40, 40, 40])
    assert "val_loss" in seen


def test_sample_weight_and_class_weight_change_the_loss(data):
    X, y = data
    model = _mlp()
    plain = model.evaluate(X, y, loss="cross_entropy")["loss"]
    doubled = model.evaluate(X, y, loss="cross_entropy", sample_weight=np.full(len(X), 2.0))["loss"]
    assert doubled == pytest.approx(2 * plain, rel=1e-6)
    # class 2 weighted 0: training only ever sees classes 0 and 1
    trained = _mlp()
    trained.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(0.05), epochs=30, class_weight={2: 0.0}, verbose=0)
    assert 2 not in set(trained.predict(X))
    balanced = _mlp()
    balanced.fit(X, y, loss="cross_entropy", epochs=1, class_weight="balanced", verbose=0)


def test_optimizer_clip_norm_limits_the_global_gradient_norm(rng):
    model = bn.Sequential(bn.Dense(3, 2), dtype="float64", seed=0)
    X, y = rng.normal(size=(8, 3)) * 100, rng.normal(size=(8, 2)) * 100
    before = model.parameter_vectors()[0].copy()
    model.train_step(X, y, loss="mse", optimizer=bn.SGD(1.0, clip_norm=0.5))
    step = model.parameter_vectors()[0] - before
    assert np.linalg.norm(step) == pytest.approx(0.5, rel=1e-5)


def test_fit_stops_with_a_clear_error_when_training_diverges(rng):
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32) * 1e3
    model = bn.Sequential(bn.Dense(4, 32), bn.ReLU(), bn.Dense(32, 1), seed=0)
    with pytest.raises(bn.NonFiniteError) as caught:
        model.fit(X, y, loss="mse", optimizer=bn.SGD(10.0), epochs=20, batch_size=16, verbose=0)
    message = str(caught.value)
    assert "at epoch 1, batch" in message
    assert "the loss MSE()" in message and "outputs of the last layer reach" in message
    assert "learning rate" in message and "clip_norm" in message
    assert np.isfinite(model.parameter_vectors()[0]).all()  # the weights from before that batch
    assert len(model.history) >= 1


def test_diverged_error_names_the_first_layer_that_went_non_finite(rng):
    model = bn.Sequential(bn.Dense(2, 3), bn.Tanh(), bn.Dense(3, 2), seed=0)
    model.layers[2].params["W"][0, 0] = np.inf  # the output of layer 2 becomes non-finite
    with pytest.raises(bn.NonFiniteError, match=r"output of layer 2 Dense\(3, 2\)"):
        model.fit(rng.normal(size=(4, 2)), [0, 1, 0, 1], loss="cross_entropy", verbose=0)


# -- inputs: converted, never mutated, any memory layout -----------------------------------------

def test_inputs_in_any_layout_or_type_give_the_same_results(data):
    X, y = data
    model = _mlp()
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    expected = model.predict_proba(X)
    variants = {
        "fortran": np.asfortranarray(X),
        "non-contiguous": np.repeat(X, 2, axis=1)[:, ::2],
        "float64": X.astype(np.float64),
        "list": X.tolist(),
    }
    readonly = X.copy()
    readonly.setflags(write=False)
    variants["read-only"] = readonly
    for name, variant in variants.items():
        np.testing.assert_allclose(model.predict_proba(variant), expected, rtol=1e-6, err_msg=name)
    ints = np.round(X * 10).astype(np.int32)
    np.testing.assert_allclose(model.predict_proba(ints), model.predict_proba(ints.astype(np.float32)))


def test_fit_and_predict_never_modify_their_inputs(data):
    X, y = data
    X_copy, y_copy = X.copy(), y.copy()
    model = _mlp()
    model.fit(X, y, loss="cross_entropy", epochs=2, sample_weight=np.ones(len(X)), verbose=0)
    model.predict(X)
    model.evaluate(X, y)
    assert np.array_equal(X, X_copy) and np.array_equal(y, y_copy)


def test_batch_predictions_equal_row_by_row_predictions(data):
    X, y = data
    model = _mlp()
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    batch = model.predict_proba(X)
    rows = np.concatenate([model.predict_proba(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(batch, rows, rtol=1e-5, atol=1e-7)
    assert np.array_equal(model.predict(X, batch_size=7), model.predict(X))


def test_predict_returns_ids_probabilities_or_values_by_loss(data):
    X, y = data
    clf = _mlp()
    clf.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(clf.predict(X), proba.argmax(axis=1)) and clf.predict(X).dtype == np.int64
    reg = bn.Sequential(bn.Dense(4, 8), bn.Tanh(), bn.Dense(8, 1), seed=0)
    reg.fit(X, X[:, 0], loss="mse", epochs=1, verbose=0)
    assert reg.predict(X).shape == (120,)
    with pytest.raises(ValueError, match="predict_proba needs"):
        reg.predict_proba(X)
    binary = bn.Sequential(bn.Dense(4, 1), seed=0)
    binary.fit(X, (X[:, 0] > 0).astype(float), loss=bn.BinaryCrossEntropy(), epochs=1, verbose=0)
    assert set(binary.predict(X)) <= {0, 1}
    assert binary.predict_proba(X).shape == (120, 1)


# -- bad input: a clear error naming the argument, and the weights untouched ---------------------

BAD_CALLS = [
    ("X 1-D", lambda X, y: dict(X=X[:, 0], y=y), ValueError, r"X must be 2-D .*reshape"),
    ("X 3-D", lambda X, y: dict(X=X.reshape(120, 2, 2), y=y), ValueError, r"X must be 2-D.*flatten"),
    ("X wrong width", lambda X, y: dict(X=X[:, :3], y=y), ValueError, r"X has 3 features .* expects 4"),
    ("X empty", lambda X, y: dict(X=X[:0], y=y[:0]), ValueError, r"X is empty"),
    ("X NaN", lambda X, y: dict(X=np.where(np.arange(4) == 2, np.nan, X), y=y), ValueError, r"X contains NaN"),
    ("X inf", lambda X, y: dict(X=np.where(np.arange(4) == 1, np.inf, X), y=y), ValueError, r"X contains NaN or inf"),
    ("X strings", lambda X, y: dict(X=np.full((120, 4), "a"), y=y), TypeError, r"X must hold real numbers"),
    ("X ragged", lambda X, y: dict(X=[[1.0, 2.0, 3.0, 4.0], [1.0]], y=[0, 1]), ValueError, r"X must be a rectangular"),
    ("X too big for float32", lambda X, y: dict(X=X.astype(np.float64) * 1e300, y=y), ValueError, r"X holds values beyond"),
    ("y wrong length", lambda X, y: dict(X=X, y=y[:-1]), ValueError, r"y must have one row per sample of X \(120\)"),
    ("y class out of range", lambda X, y: dict(X=X, y=y + 1), ValueError, r"y holds class ids from 1 to 3 .* \[0, 2\]"),
    ("y negative class", lambda X, y: dict(X=X, y=y - 1), ValueError, r"y holds class ids from -1"),
    ("y fractional", lambda X, y: dict(X=X, y=y + 0.5), ValueError, r"y must hold integer class ids"),
    ("y NaN", lambda X, y: dict(X=X, y=np.where(np.arange(120) == 3, np.nan, y)), ValueError, r"y contains NaN"),
    ("batch_size 0", lambda X, y: dict(X=X, y=y, batch_size=0), ValueError, r"batch_size must be at least 1"),
    ("batch_size float", lambda X, y: dict(X=X, y=y, batch_size=3.5), TypeError, r"batch_size must be an int"),
    ("epochs negative", lambda X, y: dict(X=X, y=y, epochs=-1), ValueError, r"epochs must be at least 0"),
    ("validation_split", lambda X, y: dict(X=X, y=y, validation_split=1.5), ValueError, r"validation_split must be a fraction"),
    ("both validations", lambda X, y: dict(X=X, y=y, validation_split=0.1, validation_data=(X, y)), ValueError, r"not both"),
    ("validation X width", lambda X, y: dict(X=X, y=y, validation_data=(X[:, :2], y)), ValueError, r"validation_data\[0\] has 2 features"),
    ("sample_weight length", lambda X, y: dict(X=X, y=y, sample_weight=np.ones(3)), ValueError, r"sample_weight must have shape \(120,\)"),
    ("sample_weight negative", lambda X, y: dict(X=X, y=y, sample_weight=-np.ones(120)), ValueError, r"sample_weight must be non-negative"),
    ("class_weight key", lambda X, y: dict(X=X, y=y, class_weight={7: 1.0}), ValueError, r"class_weight keys must be class ids"),
    ("loss unknown", lambda X, y: dict(X=X, y=y, loss="hinge"), TypeError, r"loss must be"),
    ("optimizer unknown", lambda X, y: dict(X=X, y=y, optimizer="lbfgs"), TypeError, r"optimizer must be"),
]


@pytest.mark.parametrize("name, make, error, message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
@pytest.mark.parametrize("fitted", [False, True])
def test_fit_rejects_bad_input_clearly_and_leaves_weights_untouched(name, make, error, message, fitted, data):
    X, y = data
    model = _mlp()
    if fitted:
        model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    before, history = _weights(model), len(model.history)
    kwargs = {"loss": "cross_entropy", "verbose": 0} | make(X, y)
    with pytest.raises(error, match=message):
        model.fit(kwargs.pop("X"), kwargs.pop("y"), **kwargs)
    assert all(np.array_equal(v, before[k]) for k, v in model.params.items())
    assert len(model.history) == history


@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
@pytest.mark.parametrize("fitted", [False, True])
def test_inference_methods_report_the_bad_input_before_anything_else(method, fitted, data):
    X, y = data
    model = _mlp()
    if fitted:
        model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    args = (X[:, :3], y) if method == "evaluate" else (X[:, :3],)
    with pytest.raises(ValueError, match=r"X has 3 features .* expects 4"):
        getattr(model, method)(*args)


def test_evaluate_uses_the_last_fit_loss_unless_given_one(data):
    X, y = data
    model = _mlp()
    with pytest.raises(ValueError, match="evaluate needs a loss"):
        model.evaluate(X, y)
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    assert set(model.evaluate(X, y)) == {"loss", "accuracy"}
    onehot = bn.one_hot(y, 3)
    assert model.evaluate(X, onehot, loss="mse")["loss"] == pytest.approx(
        float(((model.forward(X, training=False) - onehot) ** 2).mean()), rel=1e-5)


def test_cross_entropy_needs_two_outputs():
    model = bn.Sequential(bn.Dense(3, 1))
    with pytest.raises(ValueError, match="at least 2 outputs"):
        model.fit(np.ones((4, 3)), [0, 1, 0, 1], loss="cross_entropy", verbose=0)


def test_train_step_is_one_update_for_a_loop_of_your_own(data):
    X, y = data
    model = _mlp()
    opt = bn.SGD(0.1)
    logs = [model.train_step(xb, yb, loss=bn.CrossEntropy(), optimizer=opt)
            for xb, yb in bn.minibatches(X, y, batch_size=40, seed=0)]
    assert opt.steps == 3 and all({"loss", "accuracy"} <= set(l) for l in logs)
    with pytest.raises(ValueError, match=r"x has 2 features"):
        model.train_step(X[:, :2], y)


def test_explicit_loop_forward_loss_backward_step_trains(data):
    X, y = data
    model, loss, opt = _mlp(), bn.CrossEntropy(), bn.Adam(1e-2)
    first = None
    for epoch in range(30):
        for xb, yb in bn.minibatches(X, y, batch_size=32, seed=epoch):
            value = loss.forward(model.forward(xb), yb)
            model.backward(loss.backward())
            opt.step(model)
            first = value if first is None else first
    assert loss.forward(model.forward(X, training=False), y) < 0.5 * first


def test_one_optimizer_refuses_a_second_model_of_another_size(data):
    X, y = data
    opt = bn.SGD(0.1, momentum=0.9)
    _mlp().fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="one optimizer per model"):
        bn.Sequential(bn.Dense(4, 3)).fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1, verbose=0)


def test_verbose_output_to_a_pipe_is_one_line_per_epoch_saying_what_each_figure_is(data, capsys):
    X, y = data
    model = _mlp()
    model.fit(X, y, loss="cross_entropy", epochs=3, verbose=1, validation_data=(X, y))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("epoch 0/3  train loss") and lines[0].endswith("(full pass)  val loss "
                                                                             + lines[0].split("val loss ")[1])
    assert "(running mean)" in lines[1] and "val loss" in lines[3] and "acc" in lines[3]
    model.fit(X, y, epochs=2, verbose=2, full_train_metrics=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [l.split()[1] for l in lines] == ["4/5", "5/5"] and "(full pass)" in lines[0]
    model.fit(X, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_full_train_metrics_match_evaluate(data):
    X, y = data
    model = _mlp()
    history = model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0, full_train_metrics=True)
    assert history["train_loss"][-1] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-6)
    assert history["train_accuracy"][-1] == model.evaluate(X, y)["accuracy"]


def test_huge_but_finite_values_are_not_mistaken_for_infinity():
    # their float64 sum overflows, so the fast finiteness check must fall back to a precise one
    X = np.full((4, 2), 1e308)
    model = bn.Sequential(bn.Dense(2, 2), dtype="float64", seed=0)
    assert model.predict(X).shape == (4, 2)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(nan at index \(2, 1\)\)"):
        model.predict(X)
