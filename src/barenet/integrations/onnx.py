"""Models as ONNX graphs, for runtimes outside Python (onnxruntime in C++, C#, Java, JavaScript...).

``to_onnx(model)`` builds, with the ``onnx`` package, one graph of standard operators (opset 17):

    Dense          Gemm(x, W, b)                      W is (in, out): no transpose
    ReLU           Relu            LeakyReLU(α)  LeakyRelu(alpha=α)
    Sigmoid        Sigmoid         Tanh          Tanh          Softmax   Softmax(axis=-1)
    GELU           ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), from Mul, Add, Pow and Tanh
    Standardizer   (x − mean) / scale: Sub, Div
    Conv2D         Conv(x, W, b), pads [top, left, bottom, right]; W is (out, in, kh, kw) in both
    MaxPool2D      MaxPool         AvgPool2D     AveragePool   GlobalAvgPool2D  GlobalAveragePool, Flatten
    BatchNorm1D/2D BatchNormalization(x, γ, β, running_mean, running_var), inference mode
    Flatten        Flatten(axis=1) Reshape       Reshape(x, [-1, *shape])
    Dropout, RandomAffine, Identity: nothing (they are the identity at inference)

The graph takes ``input`` (float32, any number of rows; images (n, channels, height, width) for
a network that starts with a convolution) and gives ``output``, what
``model.outputs`` gives (logits for a classifier), and for a classifier also ``probabilities``:
Softmax of the outputs for CrossEntropy, Sigmoid for BinaryCrossEntropy, as ``predict_proba``.
An ``Ensemble`` becomes every member's graph side by side and the Mean of their probabilities
(and of their outputs). A layer with no ONNX form (your own) is refused with ValueError naming it.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..core.backend import to_numpy
from ..core.conv import Conv2D
from ..core.layers import Dense
from ..core.losses import BinaryCrossEntropy, CrossEntropy
from ..core.normalization import BatchNorm1D
from ..core.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from ..core.preprocessing import Standardizer
from ..core.shaping import Flatten, Reshape
from ..training.ensemble import Ensemble
from . import onnx_sklearn

__all__ = ["to_onnx", "OPSET"]

OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'barenet[onnx]'") from None
    return onnx


class _Graph:
    """Nodes and initializers, with fresh names."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.initializers, self.count = onnx, [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem, array, dtype=np.float32):
        name = self.name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def op(self, kind, inputs, **attributes):
        out = self.name(kind.lower())
        self.nodes.append(self.onnx.helper.make_node(kind, inputs, [out], **attributes))
        return out


def _layer(graph, layer, x, where):
    """Add the nodes of one layer on the value named x; return the output's name."""
    if layer.identity_at_inference:
        return x
    if isinstance(layer, Dense):
        W = graph.constant("W", to_numpy(layer.params["W"]))
        if "b" in layer.params:
            return graph.op("Gemm", [x, W, graph.constant("b", to_numpy(layer.params["b"]))])
        return graph.op("MatMul", [x, W])
    if isinstance(layer, Standardizer):
        centred = graph.op("Sub", [x, graph.constant("mean", to_numpy(layer.buffers["mean"]))])
        return graph.op("Div", [centred, graph.constant("scale", to_numpy(layer.buffers["scale"]))])
    image_layer = _image_layer(graph, layer, x)
    if image_layer is not None:
        return image_layer
    if isinstance(layer, LeakyReLU):
        return graph.op("LeakyRelu", [x], alpha=float(layer.alpha))
    if isinstance(layer, GELU):  # the tanh approximation barenet computes
        cube = graph.op("Pow", [x, graph.constant("three", 3.0)])
        inner = graph.op("Add", [x, graph.op("Mul", [cube, graph.constant("c", 0.044715)])])
        t = graph.op("Tanh", [graph.op("Mul", [inner, graph.constant("k", math.sqrt(2.0 / math.pi))])])
        half_x = graph.op("Mul", [x, graph.constant("half", 0.5)])
        return graph.op("Mul", [half_x, graph.op("Add", [t, graph.constant("one", 1.0)])])
    if isinstance(layer, ReLU):
        return graph.op("Relu", [x])
    if isinstance(layer, Sigmoid):
        return graph.op("Sigmoid", [x])
    if isinstance(layer, Tanh):
        return graph.op("Tanh", [x])
    if isinstance(layer, Softmax):
        return graph.op("Softmax", [x], axis=-1)
    raise ValueError(f"layer {where} {layer!r} has no ONNX form (ONNX export knows Dense, the activations, "
                     f"Standardizer, the convolutional, pooling, normalisation and shaping layers, and the "
                     f"layers that are the identity at inference)")


def _window(layer):
    """Return a sliding layer's ONNX attributes: the kernel's shape and the strides."""
    return {"kernel_shape": list(layer.kernel_size), "strides": list(layer.stride)}


def _image_layer(graph, layer, x):
    """Add the nodes of a convolution, pooling, normalisation or shaping layer; return the output, or None."""
    if isinstance(layer, Conv2D):
        top, bottom, left, right = layer.pads
        inputs = [x, graph.constant("W", to_numpy(layer.params["W"]))]
        if layer.bias:
            inputs.append(graph.constant("b", to_numpy(layer.params["b"])))
        return graph.op("Conv", inputs, **_window(layer), pads=[top, left, bottom, right])
    if isinstance(layer, MaxPool2D):
        return graph.op("MaxPool", [x], **_window(layer))
    if isinstance(layer, AvgPool2D):
        return graph.op("AveragePool", [x], **_window(layer))
    if isinstance(layer, GlobalAvgPool2D):
        return graph.op("Flatten", [graph.op("GlobalAveragePool", [x])], axis=1)
    if isinstance(layer, BatchNorm1D):  # BatchNorm2D too: ONNX's takes (n, C) and (n, C, H, W)
        arrays = [layer.params["gamma"], layer.params["beta"], layer.buffers["running_mean"],
                  layer.buffers["running_var"]]
        names = [graph.constant(stem, to_numpy(a)) for stem, a in zip(("gamma", "beta", "mean", "var"), arrays)]
        return graph.op("BatchNormalization", [x, *names], epsilon=float(layer.eps))
    if isinstance(layer, Flatten):
        return graph.op("Flatten", [x], axis=1)
    if isinstance(layer, Reshape):
        return graph.op("Reshape", [x, graph.constant("shape", [-1, *layer.shape], dtype=np.int64)])
    return None


def _member(graph, model, x, prefix=""):
    """Add one Sequential's graph; return the names of its (outputs, probabilities or None)."""
    for i, layer in enumerate(model.layers):
        x = _layer(graph, layer, x, f"{prefix}{i}")
    if isinstance(model.loss, CrossEntropy):
        return x, graph.op("Softmax", [x], axis=-1)
    if isinstance(model.loss, BinaryCrossEntropy):
        return x, graph.op("Sigmoid", [x])
    return x, None


def _dims(shape):
    """Return the input's dimensions: "n", then each size of one sample (named where it is unknown).

    Just "n" and an unknown width for a network that takes anything.
    """
    if shape is None:
        return ["n", None]
    return ["n"] + [f"size{i}" if size is None else size for i, size in enumerate(shape, 1)]


def to_onnx(model, path=None, *, opset: int = OPSET, input_dtype=None):
    """Return an ONNX ``ModelProto`` computing ``model``, checked with ``onnx.checker``.

    Parameters
    ----------
    model : Sequential, Ensemble, or a fitted barenet.sklearn estimator
        An estimator, or a Pipeline of a StandardScaler and one, is drawn by ``onnx_sklearn``.
    path : str or Path, optional
        Where to write the file too (atomically).
    opset : int, default 17
        The ONNX operator set.
    input_dtype : {"float64", "float32"}, optional
        An estimator's input type (default: the one it was fitted on); a network's graph takes float32.

    Raises
    ------
    ValueError
        For a layer with no ONNX form (your own), naming it; or ``input_dtype`` for a network.
    """
    if onnx_sklearn.is_estimator(model):
        return onnx_sklearn.estimator_to_onnx(model, path, opset=opset, network=to_onnx, input_dtype=input_dtype)
    if input_dtype is not None:
        raise ValueError("input_dtype is for scikit-learn estimators; a network's graph takes float32")
    onnx = _onnx()
    helper = onnx.helper
    graph = _Graph(onnx)
    members = model.members if isinstance(model, Ensemble) else [model]
    results = [_member(graph, member, "input", f"{k}." if len(members) > 1 else "")
               for k, member in enumerate(members)]
    outputs = [r[0] for r in results]
    probabilities = [r[1] for r in results if r[1] is not None]
    named = {"output": outputs[0] if len(outputs) == 1 else graph.op("Mean", outputs)}
    if probabilities:
        named["probabilities"] = probabilities[0] if len(probabilities) == 1 else graph.op("Mean", probabilities)
    for public, inner in named.items():
        graph.nodes.append(helper.make_node("Identity", [inner], [public]))
    width = members[0].output_width_
    float_ = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("input", float_, _dims(model.input_shape))]
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        helper.make_graph(graph.nodes, "barenet", inputs,
                          [helper.make_tensor_value_info(name, float_, ["n", width]) for name in named],
                          graph.initializers),
        opset_imports=opsets, producer_name="barenet",
        # the IR version that goes with the opset (8 for 17), not the onnx package's newest: runtimes
        # refuse files of an IR version newer than they know, whatever operators the graph uses
        ir_version=helper.find_min_ir_version_for(opsets))
    meta = getattr(model, "metadata", None) or {}
    if meta.get("class_names"):
        entry = proto.metadata_props.add()
        entry.key, entry.value = "class_names", ",".join(str(c) for c in meta["class_names"])
    onnx.checker.check_model(proto)
    if path is not None:
        from ..files.atomic import atomic_write
        with atomic_write(path) as handle:
            handle.write(proto.SerializeToString())
    return proto
