"""A stand-in for CuPy that runs on any CPU, for tests.

NumPy underneath, but its arrays behave like arrays on a GPU where a mix-up would go unnoticed
on NumPy.

- They refuse implicit conversion to NumPy (``numpy.asarray(a)``, ``numpy.exp(a)`` with a NumPy
  array beside it, ``a[...] = numpy_array``), as ``cupy.ndarray`` does: host data must come in
  through ``xp.asarray`` and go out through ``.get()``.
- Reductions give 0-d arrays, not Python numbers, as CuPy's do; turning one into a number
  (``float(a)``, ``int(a)``, ``bool(a)``, ``.item()``, ``.get()``) is a *synchronisation*, which on
  a GPU waits for the device. ``StrictArray.syncs`` counts them, so a test can bound them.

``bn.set_backend("strict")`` selects it. Every other module sees it only as the array module
``xp``; it exists so that the whole suite can check, without a GPU, that barenet keeps device
arrays on the device.
"""
from __future__ import annotations

import numpy

__all__ = ["StrictArray", "StrictModule", "module"]

_TRANSFERS = ("asarray", "array", "ascontiguousarray")  # the functions that take host data in


class StrictArray:
    """An array "on the device" (a NumPy array inside)."""

    __slots__ = ("a",)
    syncs = 0  # device-to-host reads so far, all arrays together

    def __init__(self, array):
        self.a = array

    # -- what CuPy refuses ---------------------------------------------------------------------

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _unwrap_all(inputs, ufunc.__name__)
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o, ufunc.__name__) for o in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, function, types, args, kwargs):
        return _wrap(function(*_unwrap_all(args, function.__name__), **_unwrap_kwargs(kwargs, function.__name__)))

    # -- reading it on the host ------------------------------------------------------------------

    def get(self):
        """Return a NumPy copy, as ``cupy.ndarray.get`` does: a read back to the host, counted."""
        StrictArray.syncs += 1
        return self.a.copy()

    def item(self):
        """Return the one element as a Python number: a read back to the host, counted."""
        StrictArray.syncs += 1
        return self.a.item()

    def tolist(self):
        """Return the elements as nested Python lists: a read back to the host, counted."""
        StrictArray.syncs += 1
        return self.a.tolist()

    def __float__(self):
        StrictArray.syncs += 1
        return float(self.a)

    def __int__(self):
        StrictArray.syncs += 1
        return int(self.a)

    def __bool__(self):
        StrictArray.syncs += 1
        return bool(self.a)

    def __repr__(self):
        return f"StrictArray({self.a!r})"

    # -- the ndarray interface, on the device --------------------------------------------------------

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    nbytes = property(lambda self: self.a.nbytes)
    T = property(lambda self: StrictArray(self.a.T))
    flags = property(lambda self: self.a.flags)

    def __len__(self):
        return len(self.a)

    def __iter__(self):
        return (_wrap(row) for row in self.a)

    def __getitem__(self, key):
        return _wrap(self.a[_unwrap_key(key)])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray) and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self.a[_unwrap_key(key)] = _unwrap(value, "setitem")

    def __getattr__(self, name):  # methods: sum, max, reshape, astype, argmax, copy, ...
        if name.startswith("__"):  # __array_interface__, __array_struct__, __dlpack__: host access
            raise AttributeError(name)
        attribute = getattr(self.a, name)
        if not callable(attribute):
            return attribute

        def method(*args, **kwargs):
            return _wrap(attribute(*_unwrap_all(args, name), **_unwrap_kwargs(kwargs, name)))
        return method

    def __deepcopy__(self, memo):
        return StrictArray(self.a.copy())

    def __reduce__(self):
        raise TypeError("a device array cannot be pickled; call .get() first")


def _binary(name):
    def operator(self, other):
        return _wrap(getattr(self.a, name)(_unwrap(other, name)))
    operator.__name__ = name
    return operator


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lt", "le", "gt", "ge", "eq", "ne"):
    for _form in (f"__{_name}__", f"__r{_name}__", f"__i{_name}__"):
        if hasattr(numpy.ndarray, _form):
            setattr(StrictArray, _form, _binary(_form))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(StrictArray, _name, (lambda name: lambda self: _wrap(getattr(self.a, name)()))(_name))
StrictArray.__hash__ = None


def _unwrap(value, where):
    if isinstance(value, StrictArray):
        return value.a
    if isinstance(value, numpy.ndarray) and value.ndim:
        raise TypeError(f"{where}: a NumPy array was given where a device array is needed; "
                        f"move it with xp.asarray first (CuPy refuses this too)")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, where) for v in value)
    return value


def _unwrap_all(values, where):
    return tuple(_unwrap(v, where) for v in values)


def _unwrap_kwargs(kwargs, where):
    return {k: _unwrap(v, where) for k, v in kwargs.items()}


def _unwrap_key(key):
    if isinstance(key, tuple):
        return tuple(_unwrap_key(k) for k in key)
    return key.a if isinstance(key, StrictArray) else key


def _wrap(result):
    if isinstance(result, (numpy.ndarray, numpy.generic)) and not isinstance(result, numpy.dtype):
        return StrictArray(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    return result


class StrictModule:
    """The array module: NumPy's names, taking and giving device arrays."""

    __name__ = "strict"

    def __getattr__(self, name):
        attribute = getattr(numpy, name)
        if isinstance(attribute, type) or not callable(attribute) or name in ("finfo", "iinfo", "dtype"):
            return attribute  # dtypes, constants, finfo

        def function(*args, **kwargs):
            if name in _TRANSFERS:  # host data comes in here, and only here
                args = tuple(a.a if isinstance(a, StrictArray) else a for a in args)
                return StrictArray(numpy.asarray(attribute(*args, **kwargs)))
            return _wrap(attribute(*_unwrap_all(args, name), **_unwrap_kwargs(kwargs, name)))
        function.__name__ = name
        return function

    def __repr__(self):
        return "<the strict stand-in array module>"


module = StrictModule()
