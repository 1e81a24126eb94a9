"""The shape of the package, checked: five layers whose imports flow one way, no import cycle (not
even inside a function), no private name borrowed from another module, and no module but the
registry that lists the kinds of layer, loss, optimizer, activation or schedule."""
import ast
from pathlib import Path

import pytest

import barenet
from barenet.core import registry

PACKAGE = Path(barenet.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
LAYERS = ("core", "files", "training", "integrations", "app")
# the doors into the layers: the package, python -m barenet, and the namespaces that are modules
ENTRANCES = ("barenet", "barenet.__main__", *(f"barenet.{name}" for name in barenet.NAMESPACES))
# Modules that read the package root by design: the API page is written from its __all__.
READS_THE_ROOT = ("barenet.app.reference",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str):
    """(imported module, imported names, line) for every import in a module, at any depth."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # "from . import runs" imports the module barenet.app.runs
                if f"{target}.{alias.name}" in MODULES:
                    yield f"{target}.{alias.name}", [], node.lineno
                else:
                    yield target, [alias.name], node.lineno


def _layer(module: str):
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def _graph():
    return {name: {target for target, _, _ in _imports(name) if target in MODULES and target != name}
            for name in MODULES}


def test_every_module_lives_in_one_of_the_layers():
    loose = [name for name in MODULES if name not in ENTRANCES and _layer(name) is None]
    assert loose == []
    assert {_layer(name) for name in MODULES if _layer(name) is not None} == set(range(len(LAYERS)))


def test_imports_only_go_down_the_layers():
    upward = []
    for name in MODULES:
        if name in ENTRANCES:
            continue
        for target, _, line in _imports(name):
            if target == "barenet" and name not in READS_THE_ROOT:
                upward.append(f"{name}:{line} imports the package root")
            elif target in MODULES and _layer(target) is not None and _layer(target) > _layer(name):
                upward.append(f"{name}:{line} imports {target}, a layer above it")
    assert upward == []


def test_there_is_no_import_cycle_even_inside_functions():
    graph, state, cycles = _graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_imports_a_private_name_from_another():
    borrowed = [f"{name}:{line} takes {target}.{imported}" for name in MODULES
                for target, names, line in _imports(name) if target.startswith("barenet")
                for imported in names if imported.startswith("_") and not imported.startswith("__")]
    assert borrowed == []


TABLES = {"layer": registry.layers, "loss": registry.losses, "optimizer": registry.optimizers,
          "activation": registry.activations, "schedule": registry.schedules}


def _listed_kinds(node, classes, aliases):
    """Which entries of a literal collection name a registered kind: a class (as a name, an
    attribute or a string) or, in a list, tuple or set, a short alias such as "relu"."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items, words = node.elts, classes | aliases
    elif isinstance(node, ast.Dict):  # dict keys like "mse" may be metrics: only classes count
        items, words = [*node.keys, *node.values], classes
    else:
        return []
    found = []
    for item in items:
        if isinstance(item, ast.Name) and item.id in classes:
            found.append(item.id)
        elif isinstance(item, ast.Attribute) and item.attr in classes:
            found.append(item.attr)
        elif isinstance(item, ast.Constant) and item.value in words:
            found.append(item.value)
    return found


@pytest.mark.parametrize("kind", TABLES)
def test_only_the_registry_lists_the_kinds_of_each_thing(kind):
    table = TABLES[kind]
    classes, aliases = set(table.names()), set(table.aliases())
    listed = []
    for name, path in MODULES.items():
        if name == "barenet.core.registry":
            continue
        tree = ast.parse(path.read_text())
        # a module's list of its public names (__all__, and the package's map of them to their
        # modules, which it imports lazily) is not a table of kinds
        public = ("__all__", "_PUBLIC") if name == "barenet" else ("__all__", "aliases")  # a class's own short names
        exports = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id in public for t in node.targets)
                   for inner in ast.walk(node.value)}
        for node in ast.walk(tree):
            if id(node) in exports:  # a module's list of its public names is not a table of kinds
                continue
            found = _listed_kinds(node, classes, aliases)
            if len(set(found)) >= 2:
                listed.append(f"{name}:{node.lineno} lists {sorted(set(found))}")
    assert listed == []


def test_the_registry_knows_every_built_in_kind():
    assert set(registry.layers.names()) == {"Identity", "Dense", "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
                                            "Softmax", "GELU", "Standardizer", "RandomAffine", "Flatten", "Reshape",
                                            "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "BatchNorm1D",
                                            "BatchNorm2D"}
    assert set(registry.activations.aliases()) == {"relu", "leaky_relu", "sigmoid", "tanh", "gelu"}
    assert set(registry.losses.names()) == {"MSE", "MAE", "Poisson", "BinaryCrossEntropy", "CrossEntropy"}
    assert set(registry.optimizers.aliases()) == {"sgd", "rmsprop", "adam", "adamw"}
    assert set(registry.schedules.names()) == {"Constant", "StepDecay", "ExponentialDecay", "CosineDecay"}


def test_tests_are_split_like_the_package_and_core_tests_need_nothing_above_the_core():
    assert {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))} >= set(LAYERS)
    for path in (TESTS / "core").glob("test_*.py"):
        text = path.read_text()
        for upper in ("barenet.training", "barenet.files", "barenet.app", "from barenet import runs",
                      "from barenet import plots", "from barenet import bench"):
            assert upper not in text, f"{path.name} uses {upper}"


def test_no_module_branches_on_a_loss_task_string():
    """What a loss's outputs mean is the loss's own behaviour (predict, probabilities, correct,
    labels), not a string that callers compare."""
    compared = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(side, ast.Attribute) and side.attr == "task"
                       and not (isinstance(side.value, ast.Name) and side.value.id == "data") for side in sides):
                    compared.append(f"{name}:{node.lineno}")
    assert compared == []


def test_rooms_stay_small():
    """No module of barenet over 400 lines, no function over 60, no class over 250: a module that
    grows past that mixes concerns and becomes several (the house's rule of thumb)."""
    too_big = []
    for name, path in MODULES.items():
        text = path.read_text()
        if len(text.splitlines()) > 400:
            too_big.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            limit = 60 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
                250 if isinstance(node, ast.ClassDef) else None
            if limit and node.end_lineno - node.lineno + 1 > limit:
                too_big.append(f"{name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_big == []
