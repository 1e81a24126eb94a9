"""The one place that knows every kind of layer, loss, optimizer, activation and schedule by name.

Each built-in class registers itself where it is defined, with a decorator::

    @registry.layers.register
    class Dense(Layer): ...

    @registry.activations.register("relu")       # also a layer: registered in both tables
    @registry.layers.register
    class ReLU(Layer): ...

Saving and loading, export, the runs and the command line look classes up here, so none of them
lists the kinds by hand and a new layer is known everywhere once it is registered. A table maps
the class name (what model files store) and any short aliases (what the command line takes) to
the class.

One hook lets a layer above plug in without being imported from below: ``hooks.file_format``
is set by ``barenet.files.saving`` when it is imported, and gives ``model.save`` (in
``barenet.training``) its writer.
"""
from __future__ import annotations

__all__ = ["Registry", "layers", "activations", "losses", "optimizers", "schedules", "hooks"]


class Registry:
    """Classes of one kind by name: ``registry[name]`` (class name or alias), ``in``, ``names()``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._classes: dict[str, type] = {}
        self._aliases: dict[str, str] = {}

    def register(self, *args):
        """``@table.register`` or ``@table.register("alias", ...)``: record a class under its name
        and the given aliases, and return it unchanged."""
        if len(args) == 1 and isinstance(args[0], type):
            return self._add(args[0], ())
        return lambda cls: self._add(cls, args)

    def _add(self, cls, aliases):
        name = cls.__name__
        if self._classes.get(name, cls) is not cls:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        self._classes[name] = cls
        for alias in aliases:
            self._aliases[alias] = name
        return cls

    def __getitem__(self, name: str) -> type:
        key = self._aliases.get(name, name)
        if not isinstance(name, str) or key not in self._classes:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._classes[key]

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self._aliases.get(name, name) in self._classes

    def names(self) -> list:
        """The class names, in registration order (simplest first, as the modules define them)."""
        return list(self._classes)

    def aliases(self) -> dict:
        """{alias: class} for the short names (``"relu"``, ``"adam"``...), in registration order."""
        return {alias: self._classes[name] for alias, name in self._aliases.items()}

    def name_of(self, cls_or_obj) -> str:
        """The registered name of a class or of an instance's class (KeyError if unregistered)."""
        cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
        if self._classes.get(cls.__name__) is not cls:
            raise KeyError(f"{cls.__name__} is not a registered {self.kind}")
        return cls.__name__

    def alias_of(self, cls_or_obj) -> str | None:
        """The first short alias of a class, if it has one."""
        name = self.name_of(cls_or_obj)
        return next((alias for alias, target in self._aliases.items() if target == name), None)

    def __repr__(self):
        return f"<registry of {len(self._classes)} {self.kind}s: {', '.join(self._classes)}>"


layers = Registry("layer")
activations = Registry("activation")
losses = Registry("loss")
optimizers = Registry("optimizer")
schedules = Registry("schedule")


class _Hooks:
    """Implementations from the layers above, filled in when those are imported."""

    file_format = None  # barenet.files.saving: .save(model, path, **options)


hooks = _Hooks()
