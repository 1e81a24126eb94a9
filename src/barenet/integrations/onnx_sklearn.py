"""Fitted scikit-learn estimators as ONNX graphs: barenet's ``MLPClassifier`` and ``MLPRegressor``.

Alone or as the last step of a fitted ``Pipeline`` after a ``StandardScaler``.
``bn.to_onnx(estimator)`` comes here (``integrations.onnx`` hands estimators over); the network in
the middle is ``to_onnx``'s graph of ``estimator.model_``, and around it::

    input          (n, features), float64 or float32: ``input_dtype``, by default the dtype the
                   estimator was fitted on (float64 for most scikit-learn data). An ONNX input has
                   one type, so the file takes that one; the other dtype is one export away.
    scaler         (x - mean_) / scale_, in the input's precision, for a Pipeline's StandardScaler
    Cast           to float32, the network's precision
    network        model_'s layers: Gemm, the activations (integrations.onnx)
    outputs        a classifier: "probabilities", as predict_proba (two columns for two classes),
                   and "label", as predict (classes_ looked up by Gather: strings stay strings);
                   a regressor: "predictions", as predict (Exp of the outputs for "poisson")

The file's metadata holds ``classes`` (JSON), ``estimator`` and ``input_dtype``.
"""
from __future__ import annotations

import json

import numpy as np

from ..files.atomic import atomic_write

__all__ = ["is_estimator", "estimator_to_onnx"]


def is_estimator(model) -> bool:
    """Whether ``model`` is a scikit-learn estimator (it has get_params) rather than a network."""
    return hasattr(model, "get_params") and hasattr(model, "fit")


def _parts(estimator):
    """(StandardScaler or None, the barenet estimator) of an estimator or a fitted Pipeline."""
    steps = [step for _, step in getattr(estimator, "steps", [(None, estimator)]) if step not in (None, "passthrough")]
    *before, last = steps
    if not hasattr(last, "_network_outputs"):
        raise ValueError(f"ONNX export takes a barenet MLPClassifier or MLPRegressor, or a Pipeline ending in one; "
                         f"got {type(last).__name__}")
    if not hasattr(last, "model_"):
        raise ValueError(f"this {type(last).__name__} is not fitted yet: call fit before exporting it")
    if len(getattr(last, "classes_", "ab")) < 2:
        raise ValueError(f"this {type(last).__name__} was fitted on one class, {last.classes_[0]!r}: it has nothing "
                         f"to predict")
    if len(before) > 1 or (before and type(before[0]).__name__ != "StandardScaler"):
        raise ValueError(f"ONNX export takes a Pipeline of a StandardScaler and a barenet estimator, got the steps "
                         f"{[type(step).__name__ for step in steps]}")
    return (before[0] if before else None), last


def _multilabel(mlp) -> bool:
    return hasattr(mlp, "classes_") and mlp.out_activation_ == "logistic" and mlp.n_outputs_ > 1


class _Nodes:
    """The nodes and constants added around the network, with names of their own."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.constants, self.count = onnx, [], [], 0

    def constant(self, array):
        self.count += 1
        name = f"sklearn_constant_{self.count}"
        self.constants.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind, inputs, output=None, **attributes):
        self.count += 1
        output = output or f"sklearn_{kind.lower()}_{self.count}"
        self.nodes.append(self.onnx.helper.make_node(kind, inputs, [output], **attributes))
        return output


def _scaled_input(nodes, scaler, dtype):
    """Return the input, standardised by the scaler in its own precision, as float32."""
    x = "input"
    if scaler is not None and getattr(scaler, "mean_", None) is not None:
        x = nodes.op("Sub", [x, nodes.constant(scaler.mean_.astype(dtype))])
    if scaler is not None and getattr(scaler, "scale_", None) is not None:
        x = nodes.op("Div", [x, nodes.constant(scaler.scale_.astype(dtype))])
    return nodes.op("Cast", [x], to=nodes.onnx.TensorProto.FLOAT) if dtype == np.float64 else x


def _classes_tensor(classes):
    return np.array([str(c) for c in classes], dtype=object) if classes.dtype.kind in "USO" else classes


def _flat(nodes, value):
    """One column as a vector, (n, 1) → (n,), as predict gives it."""
    return nodes.op("Reshape", [value, nodes.constant(np.array([-1], dtype=np.int64))])


def _classifier_outputs(nodes, mlp, probabilities):
    """{name: value} of predict_proba and predict."""
    onnx = nodes.onnx

    def label(ids):
        return nodes.op("Gather", [nodes.constant(_classes_tensor(mlp.classes_)), ids], axis=0)

    if mlp.out_activation_ == "softmax":
        ids = nodes.op("ArgMax", [probabilities], axis=1, keepdims=0)
        return {"probabilities": probabilities, "label": label(ids)}
    positive = nodes.op("Cast", [nodes.op("Greater", [probabilities, nodes.constant(np.float32(0.5))])],
                        to=onnx.TensorProto.INT64)
    if _multilabel(mlp):
        return {"probabilities": probabilities, "label": positive}
    both = nodes.op("Concat", [nodes.op("Sub", [nodes.constant(np.float32(1.0)), probabilities]), probabilities], axis=1)
    return {"probabilities": both, "label": label(_flat(nodes, positive))}


def _regressor_outputs(nodes, mlp, outputs):
    values = nodes.op("Exp", [outputs]) if mlp.out_activation_ == "exp" else outputs
    if mlp.n_outputs_ == 1:
        values = _flat(nodes, values)
    return {"predictions": values}


def _value_info(onnx, name, mlp):
    """Return the declared type and shape of one of the graph's outputs."""
    helper, kinds = onnx.helper, onnx.TensorProto
    if name == "label" and _multilabel(mlp):
        return helper.make_tensor_value_info(name, kinds.INT64, ["n", mlp.n_outputs_])
    if name == "label":
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(
            _classes_tensor(mlp.classes_).dtype), ["n"])
    if name == "probabilities":
        return helper.make_tensor_value_info(name, kinds.FLOAT, ["n", len(mlp.classes_)])
    return helper.make_tensor_value_info(name, kinds.FLOAT, ["n"] if mlp.n_outputs_ == 1 else ["n", mlp.n_outputs_])


def estimator_to_onnx(estimator, path=None, *, opset: int, network, input_dtype=None):
    """Return the ONNX ``ModelProto`` of a fitted estimator or Pipeline (see the module).

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor or Pipeline
        Fitted.
    path : str or Path, optional
        Where to write the file too.
    opset : int
        The ONNX operator set.
    network : callable
        ``integrations.onnx.to_onnx``, which draws the network.
    input_dtype : str, optional
        The input's type, float64 or float32; by default the one the estimator was fitted on.

    Raises
    ------
    ValueError
        For an estimator that is not barenet's, not fitted, fitted on one class, or a Pipeline of
        other steps.
    """
    import onnx

    scaler, mlp = _parts(estimator)
    dtype = np.dtype(input_dtype or mlp.model_.dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"input_dtype must be 'float32' or 'float64', got {input_dtype!r}")
    inner = network(mlp.model_, opset=opset).graph
    nodes = _Nodes(onnx)
    x = _scaled_input(nodes, scaler, dtype)
    front, nodes.nodes = nodes.nodes, []  # before the network; what follows comes after it
    renamed = {"input": x, "output": "network_output", "probabilities": "network_probabilities"}
    for node in inner.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    if hasattr(mlp, "classes_"):
        outputs = _classifier_outputs(nodes, mlp, "network_probabilities")
    else:
        outputs = _regressor_outputs(nodes, mlp, "network_output")
    for public, value in outputs.items():
        nodes.op("Identity", [value], output=public)
    helper = onnx.helper
    graph = helper.make_graph(
        front + list(inner.node) + nodes.nodes, "barenet.sklearn",
        [helper.make_tensor_value_info("input", helper.np_dtype_to_tensor_dtype(dtype), ["n", mlp.n_features_in_])],
        [_value_info(onnx, name, mlp) for name in outputs], list(inner.initializer) + nodes.constants)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="barenet",
                              ir_version=helper.find_min_ir_version_for(opsets))
    _describe(proto, mlp, dtype)
    onnx.checker.check_model(proto)
    if path is not None:
        with atomic_write(path) as handle:
            handle.write(proto.SerializeToString())
    return proto


def _describe(proto, mlp, dtype):
    """Write the file's metadata: the estimator, the input's dtype, and classes_ as JSON."""
    meta = {"estimator": type(mlp).__name__, "input_dtype": str(dtype)}
    if hasattr(mlp, "classes_"):
        meta["classes"] = json.dumps([c.item() if hasattr(c, "item") else c for c in mlp.classes_])
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
