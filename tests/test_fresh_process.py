"""What a user's script meets in a new Python process that has only run ``import barenet``.

The suite's own process has imported every module of barenet, so a bug that depends on what was
imported first (a kind of layer known to ``bn.load`` only once its module was touched) cannot be
seen from inside it. Each test here starts new interpreters."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.core import registry

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

PACKAGE = Path(bn.__file__).resolve().parent
ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")


def python(code, *args, timeout=120):
    """Run ``code`` in a new interpreter; its stdout, or the test fails with its stderr."""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 16)).astype(np.float32), rng.integers(0, 3, n)


# One model per built-in kind of layer (a test fails if a kind is added without its example).
LAYER_EXAMPLES = {
    "Identity": lambda X: [bn.Identity(), bn.Dense(16, 3)],
    "Dense": lambda X: [bn.Dense(16, 3, init="xavier_uniform", bias=False)],
    "Dropout": lambda X: [bn.Dense(16, 8), bn.Dropout(0.3), bn.Dense(8, 3)],
    "ReLU": lambda X: [bn.Dense(16, 8), bn.ReLU(), bn.Dense(8, 3)],
    "LeakyReLU": lambda X: [bn.Dense(16, 8), bn.LeakyReLU(0.2), bn.Dense(8, 3)],
    "Sigmoid": lambda X: [bn.Dense(16, 8), bn.Sigmoid(), bn.Dense(8, 3)],
    "Tanh": lambda X: [bn.Dense(16, 8), bn.Tanh(), bn.Dense(8, 3)],
    "Softmax": lambda X: [bn.Dense(16, 3), bn.Softmax(), bn.Dense(3, 3)],
    "GELU": lambda X: [bn.Dense(16, 8), bn.GELU(), bn.Dense(8, 3)],
    "Standardizer": lambda X: [bn.Standardizer().fit(X), bn.Dense(16, 3)],
    "RandomAffine": lambda X: [bn.RandomAffine((4, 4), shift=1.0, rotation=5.0), bn.Dense(16, 3)],
    "Reshape": lambda X: [bn.Reshape((2, 8)), bn.Tanh(), bn.Reshape((16,)), bn.Dense(16, 3)],
    "Flatten": lambda X: [bn.Reshape((1, 4, 4)), bn.Flatten(), bn.Dense(16, 3)],
    "Conv2D": lambda X: [bn.Reshape((1, 4, 4)), bn.Conv2D(1, 4, (3, 2), stride=(1, 2), padding=(1, 1)), bn.ReLU(),
                         bn.Conv2D(4, 2, 2, padding="same", bias=False), bn.Flatten(), bn.Dense(24, 3)],
    "MaxPool2D": lambda X: [bn.Reshape((1, 4, 4)), bn.Conv2D(1, 2, 3, padding=1), bn.MaxPool2D(3, 1), bn.Flatten(),
                            bn.Dense(8, 3)],
    "AvgPool2D": lambda X: [bn.Reshape((1, 4, 4)), bn.AvgPool2D(2), bn.Flatten(), bn.Dense(4, 3)],
    "GlobalAvgPool2D": lambda X: [bn.Reshape((1, 4, 4)), bn.Conv2D(1, 5, 3), bn.GlobalAvgPool2D(), bn.Dense(5, 3)],
    "BatchNorm1D": lambda X: [bn.Dense(16, 8), bn.BatchNorm1D(8, momentum=0.2), bn.ReLU(), bn.Dense(8, 3)],
    "BatchNorm2D": lambda X: [bn.Reshape((1, 4, 4)), bn.Conv2D(1, 3, 3, padding=1, bias=False),
                              bn.BatchNorm2D(3, eps=1e-3), bn.Flatten(), bn.Dense(48, 3)],
}
OPTIMIZER_EXAMPLES = {"SGD": lambda: bn.SGD(0.01, momentum=0.9, nesterov=True), "RMSProp": lambda: bn.RMSProp(
    0.01, momentum=0.5, centered=True), "Adam": lambda: bn.Adam(1e-3), "AdamW": lambda: bn.AdamW(1e-3)}
SCHEDULE_EXAMPLES = {"Constant": lambda: bn.schedules.Constant(0.01),
                     "StepDecay": lambda: bn.schedules.StepDecay(0.01, step_size=1),
                     "ExponentialDecay": lambda: bn.schedules.ExponentialDecay(0.01, gamma=0.9),
                     "CosineDecay": lambda: bn.schedules.CosineDecay(0.01, epochs=3, warmup_epochs=1)}
LOSS_EXAMPLES = {"CrossEntropy": (lambda: bn.CrossEntropy(label_smoothing=0.1), 3),
                 "BinaryCrossEntropy": (lambda: bn.BinaryCrossEntropy(), 3),
                 "MSE": (lambda: bn.MSE(), 3), "MAE": (lambda: bn.MAE(), 3), "Poisson": (lambda: bn.Poisson(), 3)}


def test_every_built_in_kind_has_an_example_here():
    assert set(LAYER_EXAMPLES) == set(registry.layers.names())
    assert set(OPTIMIZER_EXAMPLES) == set(registry.optimizers.names())
    assert set(SCHEDULE_EXAMPLES) == set(registry.schedules.names())
    assert set(LOSS_EXAMPLES) == set(registry.losses.names())


def test_the_registry_holds_every_class_barenet_exports_that_a_model_file_can_name():
    bases = {registry.layers: bn.Layer, registry.losses: bn.Loss, registry.optimizers: bn.Optimizer,
             registry.schedules: bn.schedules.Schedule}
    for table, base in bases.items():
        exported = {name for name in [*bn.__all__, *bn.schedules.__all__]
                    if isinstance(getattr(bn, name, getattr(bn.schedules, name, None)), type)
                    and issubclass(getattr(bn, name, getattr(bn.schedules, name, None)), base)}
        assert exported - {base.__name__, "Network", "Sequential"} <= set(table.names()), table


def _saved_models(folder):
    """A file for every built-in kind: each layer in a trained model, each optimizer with its
    state, each schedule as an optimizer's rate, each loss; and a checkpoint of each."""
    X, y = _images()
    files = {}
    for kind, layers in LAYER_EXAMPLES.items():
        model = bn.Sequential(*layers(X), seed=0)
        model.fit(X, y, loss="cross_entropy", epochs=1, batch_size=16, verbose=0)
        files[f"layer {kind}"] = model.save(folder / f"layer-{kind}.npz")
    for kind, make in OPTIMIZER_EXAMPLES.items():
        model = bn.Sequential(bn.Dense(16, 3), seed=0)
        model.fit(X, y, loss="cross_entropy", optimizer=make(), epochs=1, batch_size=16, verbose=0)
        files[f"optimizer {kind}"] = model.save(folder / f"optimizer-{kind}.npz")
    for kind, make in SCHEDULE_EXAMPLES.items():
        model = bn.Sequential(bn.Dense(16, 3), seed=0)
        model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(make()), epochs=1, batch_size=16, verbose=0)
        files[f"schedule {kind}"] = model.save(folder / f"schedule-{kind}.npz")
    for kind, (make, width) in LOSS_EXAMPLES.items():
        model = bn.Sequential(bn.Dense(16, width), seed=0)
        target = y if kind == "CrossEntropy" else (np.eye(3)[y]).astype(np.float32)
        model.fit(X, target, loss=make(), epochs=1, batch_size=16, verbose=0)
        files[f"loss {kind}"] = model.save(folder / f"loss-{kind}.npz")
    files["ensemble"] = bn.Ensemble([bn.load(files["layer ReLU"]), bn.load(files["layer GELU"])]).save(
        folder / "ensemble.npz")
    return files


LOAD_EACH = """
import json, sys
import barenet as bn
out = {}
for path in sys.argv[1:]:
    model = bn.load(path)
    members = getattr(model, "members", [model])
    out[path] = {"layers": [type(l).__name__ for m in members for l in m.layers],
                 "loss": type(model.loss).__name__,
                 "optimizer": type(getattr(model, "optimizer", None)).__name__,
                 "rate": type(getattr(getattr(model, "optimizer", None), "lr", None)).__name__}
print(json.dumps(out))
"""


def test_every_built_in_kind_loads_in_a_process_that_only_imported_barenet(tmp_path):
    files = _saved_models(tmp_path)
    loaded = json.loads(python(LOAD_EACH, *files.values()))
    for what, path in files.items():
        expected = bn.load(path)
        got = loaded[str(path)]
        members = getattr(expected, "members", [expected])
        assert got["layers"] == [type(layer).__name__ for m in members for layer in m.layers], what
        assert got["loss"] == type(expected.loss).__name__, what
        assert got["optimizer"] == type(getattr(expected, "optimizer", None)).__name__, what
        assert got["rate"] == type(getattr(getattr(expected, "optimizer", None), "lr", None)).__name__, what


PREDICT_EACH = """
import json, sys
import numpy as np
import barenet as bn
X = np.load(sys.argv[1])
print(json.dumps({path: bn.load(path).predict_proba(X).tolist() for path in sys.argv[2:]}))
"""


def test_every_layers_model_gives_the_same_predictions_in_a_process_that_only_imported_barenet(tmp_path):
    """Each kind of layer, trained (BatchNorm's running statistics moved), saved, and loaded in a
    new interpreter: the same probabilities, to the last bit."""
    X, y = _images(seed=1)
    paths, expected = [], {}
    for kind, layers in LAYER_EXAMPLES.items():
        model = bn.Sequential(*layers(X), seed=0)
        model.fit(X, y, loss="cross_entropy", epochs=2, batch_size=16, verbose=0)
        paths.append(model.save(tmp_path / f"{kind}.npz"))
        expected[str(paths[-1])] = model.predict_proba(X)
    np.save(tmp_path / "X.npy", X)
    got = json.loads(python(PREDICT_EACH, tmp_path / "X.npy", *paths))
    for path, probabilities in expected.items():
        np.testing.assert_array_equal(np.asarray(got[path], dtype=np.float32), probabilities, err_msg=path)


def test_a_run_trained_with_augmentation_loads_summarises_and_exports_in_new_processes(tmp_path):
    """The recipes that augment save a RandomAffine first; the model and the checkpoint load in
    a script that imports only barenet, and ``barenet summary`` and ``export`` read them."""
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "barenet", "train", "--dataset", "digits", "--augment", "light",
                           "--epochs", "1", "--hidden", "16", "--out", str(run), "--no-plots", "--quiet"],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr
    out = python("import sys, barenet as bn\n"
                 "for path in sys.argv[1:]: print(type(bn.load(path).layers[0]).__name__)",
                 run / "model.npz", run / "checkpoint.npz")
    assert out.split() == ["RandomAffine", "RandomAffine"]
    summary = subprocess.run([sys.executable, "-m", "barenet", "summary", str(run / "model.npz")],
                             capture_output=True, text=True, timeout=120, env=ENV)
    assert summary.returncode == 0 and "RandomAffine" in summary.stdout, summary.stderr
    exported = subprocess.run([sys.executable, "-m", "barenet", "export", str(run / "model.npz"), "--format", "json",
                               "--out", str(tmp_path / "m.json")], capture_output=True, text=True, timeout=120, env=ENV)
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "m.json").read_text())["layers"][0]["type"] == "Dense"


def test_the_estimators_take_every_activation_and_solver_in_a_new_process():
    pytest.importorskip("sklearn")
    code = ("import numpy as np\nfrom barenet.sklearn import MLPClassifier\n"
            "X = np.random.default_rng(0).random((40, 3)); y = np.arange(40) % 2\n"
            "for a in ('relu', 'leaky_relu', 'tanh', 'logistic', 'gelu', 'identity'):\n"
            "    for s in ('sgd', 'adam', 'adamw', 'rmsprop'):\n"
            "        MLPClassifier((4,), activation=a, solver=s, max_iter=2, random_state=0).fit(X, y)\n"
            "print('ok')")
    assert python(code).strip() == "ok"


@pytest.mark.parametrize("name", bn.NAMESPACES)
def test_each_namespace_imports_as_a_module_in_a_new_process(name):
    if name == "sklearn":
        pytest.importorskip("sklearn")
    if name == "onnx":
        pytest.importorskip("onnx")
    code = (f"import sys, barenet, barenet.{name}\n"
            f"from barenet.{name} import *\n"
            f"from barenet import {name} as by_name\n"
            f"module = sys.modules['barenet.{name}']\n"
            f"assert by_name is module is barenet.{name}, (by_name, module)\n"
            f"first = module.__all__[0]\n"
            f"exec(f'from barenet.{name} import {{first}}')\n"
            f"print(len(module.__all__))")
    assert int(python(code)) >= 1


def test_the_datasets_import_forms_users_write():
    out = python("import barenet.datasets\nfrom barenet.datasets import load_mnist, make_moons\n"
                 "import barenet as bn\nprint(bn.datasets.load_mnist is load_mnist, barenet.datasets is bn.datasets)")
    assert out.split() == ["True", "True"]


def _modules():
    return sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


STATE_AFTER_IMPORT = """
import json, logging, os, signal, sys, threading, warnings
def state():
    import numpy
    return {"excepthook": repr(sys.excepthook), "displayhook": repr(sys.displayhook),
            "signals": [repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)],
            "warnings": len(warnings.filters), "logging": [repr(h) for h in logging.getLogger().handlers],
            "environ": sorted(os.environ.items()), "threads": threading.active_count(),
            "numpy_errors": numpy.geterr(), "cwd": os.getcwd(), "recursion": sys.getrecursionlimit()}
import importlib
module = sys.argv[1]
# scikit-learn sets environment variables and warning filters of its own when imported: imported
# first, so that what is compared is what barenet's module does
for third_party in ("sklearn", "sklearn.base"):
    try:
        importlib.import_module(third_party)
    except ImportError:
        pass
before = state()
try:
    importlib.import_module(module)
except ImportError as error:  # an optional extra not installed here: nothing to compare
    print(json.dumps({"skipped": str(error)})); raise SystemExit
from barenet.core import registry
tables = {t.kind: [t.names(), sorted(t.aliases())] for t in
          (registry.layers, registry.activations, registry.losses, registry.optimizers, registry.schedules)}
print(json.dumps({"changed": {k: [before[k], v] for k, v in state().items() if v != before[k]}, "tables": tables}))
"""


def test_importing_any_module_first_changes_no_process_state_and_no_table_of_kinds():
    """Each module of barenet imported first in a new interpreter: the tables of kinds that
    bn.load reads are the same whatever came first, and the import set no hook, handler, signal,
    warning filter, environment variable, thread or NumPy error mode."""
    def probe(module):
        return module, json.loads(python(STATE_AFTER_IMPORT, module, timeout=300))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(probe, _modules()))
    reference = results["barenet"]["tables"]
    for module, result in results.items():
        if "skipped" in result:
            continue
        assert result["changed"] == {}, module
        assert result["tables"] == reference, module
    assert len(reference["layer"][0]) == len(registry.layers.names())
