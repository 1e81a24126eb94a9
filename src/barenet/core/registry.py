"""The one place that knows every kind of layer, loss, optimizer, activation and schedule by name.

Each table is declared here with the modules that define its kinds; the table is read from those
modules the first time it is used: every class a module lists in ``__all__`` that derives from
the table's base class is a kind, known by its class name, and by the short names in its
``aliases`` attribute (``ReLU.aliases = ("relu",)``: what the command line takes)::

    layers = Registry("layer", "Layer", ["barenet.core.layers", "barenet.core.activations", ...])

So nothing registers itself when it is imported: what a table holds does not depend on which
modules a program happened to import first, and a model file saved in one process loads in any
other that has only run ``import barenet``. Saving and loading, export, the runs and the command
line look classes up here, so none of them lists the kinds by hand, and a new layer is known
everywhere once its module is named below.
"""
from __future__ import annotations

import importlib

__all__ = ["Registry", "layers", "activations", "losses", "optimizers", "schedules"]


class Registry:
    """Classes of one kind by name: ``registry[name]`` (class name or alias), ``in``, ``names()``.

    Parameters
    ----------
    kind : str
        What the classes are, for messages: "layer", "loss"...
    base : str
        The name of the base class, found in the first module.
    modules : iterable of str
        The modules whose ``__all__`` lists the kinds.
    with_aliases : bool, default False
        Keep only classes that have short names (the activations among the layers).
    """

    def __init__(self, kind: str, base: str, modules, with_aliases: bool = False):
        self.kind, self._base, self._modules, self._with_aliases = kind, base, tuple(modules), with_aliases
        self._table = None

    def _read(self):
        """Return (classes by name, class names by alias), read from the modules once."""
        if self._table is None:
            modules = [importlib.import_module(name) for name in self._modules]
            base = getattr(modules[0], self._base)
            classes, aliases = {}, {}
            for module in modules:
                for name in module.__all__:
                    cls = getattr(module, name)
                    if not (isinstance(cls, type) and issubclass(cls, base) and cls is not base):
                        continue
                    if self._with_aliases and not cls.__dict__.get("aliases"):
                        continue
                    if classes.get(name, cls) is not cls:
                        raise ValueError(f"two {self.kind}s are named {name!r}")
                    classes[name] = cls
                    aliases.update(dict.fromkeys(cls.__dict__.get("aliases", ()), name))
            self._table = classes, aliases
        return self._table

    def __getitem__(self, name: str) -> type:
        classes, aliases = self._read()
        key = aliases.get(name, name) if isinstance(name, str) else None
        if key not in classes:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(classes)}")
        return classes[key]

    def __contains__(self, name) -> bool:
        classes, aliases = self._read()
        return isinstance(name, str) and aliases.get(name, name) in classes

    def names(self) -> list:
        """Return the class names, in the order the modules list them (simplest first)."""
        return list(self._read()[0])

    def aliases(self) -> dict:
        """Return {alias: class} for the short names (``"relu"``, ``"adam"``...), in the modules' order."""
        classes, aliases = self._read()
        return {alias: classes[name] for alias, name in aliases.items()}

    def name_of(self, cls_or_obj) -> str:
        """Return the registered name of a class or of an instance's class (KeyError if it is not one)."""
        cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
        if self._read()[0].get(cls.__name__) is not cls:
            raise KeyError(f"{cls.__name__} is not a built-in {self.kind}")
        return cls.__name__

    def alias_of(self, cls_or_obj) -> str | None:
        """Return the first short alias of a class or of an instance's class, if it has one (else None)."""
        name = self.name_of(cls_or_obj)
        return next((alias for alias, target in self._read()[1].items() if target == name), None)

    def __repr__(self):
        return f"<registry of {self.kind}s: {', '.join(self.names())}>"


_LAYER_MODULES = ("barenet.core.layers", "barenet.core.activations", "barenet.core.preprocessing",
                  "barenet.core.augment", "barenet.core.shaping", "barenet.core.conv", "barenet.core.pooling",
                  "barenet.core.normalization")

layers = Registry("layer", "Layer", _LAYER_MODULES)
activations = Registry("activation", "Layer", ("barenet.core.layers", "barenet.core.activations"), with_aliases=True)
losses = Registry("loss", "Loss", ("barenet.core.losses",))
optimizers = Registry("optimizer", "Optimizer", ("barenet.core.optimizers",))
schedules = Registry("schedule", "Schedule", ("barenet.core.schedules",))
