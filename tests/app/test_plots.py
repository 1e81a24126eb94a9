"""Plots: each returns a matplotlib Figure showing what it says."""
import numpy as np
import pytest

import barenet as bn

matplotlib = pytest.importorskip("matplotlib")
from barenet import metrics, plots  # noqa: E402
import matplotlib.colors  # noqa: E402, F811 (the submodule, loaded for to_rgb)


@pytest.fixture(scope="module")
def trained():
    X, y = bn.datasets.make_clusters(600, seed=1)
    model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(2, 16), bn.ReLU(), bn.Dense(16, 3), seed=0)
    model.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(0.01), epochs=5, validation_split=0.2, verbose=0,
              full_train_metrics=True)
    return model, X, y


def test_learning_curves_draw_train_and_validation_for_loss_and_accuracy(trained):
    model, _, _ = trained
    fig = plots.learning_curves(model.history)
    assert isinstance(fig, matplotlib.figure.Figure)
    loss_axes, accuracy_axes = fig.axes
    labels = [line.get_label() for line in loss_axes.get_lines()]
    assert labels == ["train (running mean)", "train (full pass)", "validation"]
    np.testing.assert_allclose(loss_axes.get_lines()[2].get_ydata(), model.history["val_loss"])
    assert accuracy_axes.get_ylabel() == "accuracy"
    # epoch 0's loss must not flatten the rest: the loss is drawn on a log scale, and said to be
    assert loss_axes.get_yscale() == "log" and "log" in loss_axes.get_ylabel()


def test_the_accuracy_view_fits_the_trained_epochs_and_says_where_epoch_0_went():
    history = {"epochs": [0, 1, 2, 3], "loss": [2.3, 0.5, 0.2, 0.1], "accuracy": [None, 0.93, 0.97, 0.99],
               "val_loss": [2.31, 0.4, 0.25, 0.2], "val_accuracy": [0.11, 0.94, 0.95, 0.96]}
    accuracy_axes = plots.learning_curves(history).axes[1]
    bottom, top = accuracy_axes.get_ylim()
    assert 0.85 < bottom < 0.93 and 0.99 < top < 1.02  # 93% to 99% fill the view
    assert any("epoch 0 (untrained): 0.11, below the view" in t.get_text() for t in accuracy_axes.texts)


def test_confusion_matrix_plot_annotates_every_cell(trained):
    model, X, y = trained
    cm = metrics.confusion_matrix(y, model.predict(X))
    fig = plots.confusion_matrix(cm, ["a", "b", "c"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 9 and texts[0] == str(cm[0, 0])


def test_decision_boundary_marks_correct_and_wrong_points(trained):
    model, X, y = trained
    fig = plots.decision_boundary(model, X, y)
    wrong = int((model.predict(X) != y).sum())
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["class 0", "class 1", "class 2", f"correct ({len(X) - wrong})", f"wrong ({wrong})"]
    # one colour per class: the region a class is predicted in, its points and its legend entry
    colours = [matplotlib.colors.to_rgb(c) for c in plots.class_colours(3)]
    regions, correct_points, wrong_points = ax.collections
    assert [tuple(c[:3]) for c in regions.cmap.colors] == colours
    right = model.predict(X) == y
    np.testing.assert_allclose(correct_points.get_facecolors()[:, :3], np.array(colours)[y[right]])
    np.testing.assert_allclose(wrong_points.get_facecolors()[:, :3], np.array(colours)[y[~right]])
    patches = ax.get_legend().get_patches()
    assert [matplotlib.colors.to_rgb(p.get_facecolor()) for p in patches] == colours
    with pytest.raises(ValueError, match="2-D points"):
        plots.decision_boundary(model, np.ones((3, 3)), [0, 1, 2])


def test_image_grids_and_confident_errors(rng):
    X, y = bn.datasets.load_digits()
    model = bn.Sequential(bn.Dense(64, 10), seed=0)
    model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0)
    fig = plots.sample_grid(X, y, model.predict(X), n=10, image_shape=(8, 8))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 10
    assert "green when right" in fig.get_suptitle() and "true class" in fig.get_suptitle()  # says what "6 (5)" means
    fig = plots.confident_errors(model, X, y, n=6, image_shape=(8, 8))
    proba = model.predict_proba(X)
    wrong = np.flatnonzero(proba.argmax(1) != y)
    expected = wrong[np.argsort(-proba[wrong].max(1))][:6]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split("(true ")[1].rstrip(")") for t in titles] == [str(y[i]) for i in expected]
    fig = plots.first_layer_weights(model, image_shape=(8, 8), n=10)
    assert sum(1 for ax in fig.axes if ax.images) == 10
    with pytest.raises(ValueError, match="first Dense layer with 784 inputs"):
        plots.first_layer_weights(model)


def test_activation_plot_shows_each_function_and_its_derivative():
    fig = plots.activation_functions()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["ReLU", "LeakyReLU(alpha=0.1)", "Sigmoid", "Tanh", "GELU"]
    sigmoid = fig.axes[2].get_lines()
    s, ds = sigmoid[0].get_ydata(), sigmoid[1].get_ydata()
    np.testing.assert_allclose(ds, s * (1 - s), atol=1e-12)  # the derivative drawn is σ(1-σ)


def test_predicted_vs_true_titles_the_mse(rng):
    y = rng.normal(size=50)
    fig = plots.predicted_vs_true(y, y + 0.1, noise_variance=0.01)
    assert "test MSE 0.0100" in fig.axes[0].get_title() and "noise floor" in fig.axes[0].get_title()
