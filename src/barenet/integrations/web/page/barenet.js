// barenet in the browser: a trained model's forward pass, with no library. model.js (written by
// `barenet export --format web`, or served by `barenet serve`) hands the model to useModel;
// then barenet.predict(values) gives its probabilities, as Python's model.predict_proba does.
//
// A model file holds a JSON description and its weights as one base64 string of little-endian
// binary: float32 arrays, or int8 arrays with one float32 scale per output channel (--quantize
// int8), dequantized here once, on load. Activations are computed in double precision.
"use strict";
(function (barenet) {
  // The layer kinds the browser runs, by their registered names (barenet.core.registry.layers):
  // each takes the previous layer's output for one sample (a Float64Array; an image's values
  // channel by channel, row by row, as NumPy lays out (C, H, W)) and the layer {config, arrays,
  // shape}, shape being the sample's shape at the layer's input ([C, H, W] for an image).
  // The exporter reads the names of this table and refuses a model with a layer not in it;
  // layers that are the identity at inference (Dropout, RandomAffine, Identity) never reach it.
  const sigmoid = (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
  const GELU_C = Math.sqrt(2 / Math.PI);
  const LAYERS = {
    Dense(x, { config, arrays }) {           // y = x W + b, W (in, out)
      const out = config.out_features, W = arrays.W;
      const y = new Float64Array(out);
      if (arrays.b) y.set(arrays.b);
      for (let i = 0; i < x.length; i++) {
        const xi = x[i];
        if (xi === 0) continue;               // drawings are mostly background
        for (let j = 0, row = i * out; j < out; j++) y[j] += xi * W[row + j];
      }
      return y;
    },
    ReLU: (x) => x.map((v) => (v > 0 ? v : 0)),
    LeakyReLU: (x, { config }) => x.map((v) => (v > 0 ? v : config.alpha * v)),
    Sigmoid: (x) => x.map(sigmoid),
    Tanh: (x) => x.map(Math.tanh),
    Softmax: (x) => softmax(x),
    GELU: (x) => x.map((v) => {               // the tanh form, as barenet's GELU
      const c = Math.min(Math.max(v, -10), 10);
      return 0.5 * v * (1 + Math.tanh(GELU_C * (c + 0.044715 * c * c * c)));
    }),
    Standardizer: (x, { arrays }) => x.map((v, i) => (v - arrays.mean[i]) / arrays.scale[i]),
    Reshape: (x) => x,                        // the same values in the same order: only the shape changes
    Flatten: (x) => x,
    Conv2D(x, { config, arrays, shape }) {   // y[f,i,j] = b_f + Σ_c,p,q x[c, s·i+p−top, s·j+q−left] W[f,c,p,q]
      const [C, H, W] = shape, [kh, kw] = config.kernel_size, [sh, sw] = config.stride, F = config.out_channels;
      const [top, bottom, left, right] = config.padding === "same"
        ? [(kh - 1) >> 1, kh >> 1, (kw - 1) >> 1, kw >> 1]
        : [config.padding[0], config.padding[0], config.padding[1], config.padding[1]];
      const oh = Math.floor((H + top + bottom - kh) / sh) + 1, ow = Math.floor((W + left + right - kw) / sw) + 1;
      const y = new Float64Array(F * oh * ow), K = arrays.W;
      for (let f = 0; f < F; f++) {
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            let sum = arrays.b ? arrays.b[f] : 0;
            for (let c = 0; c < C; c++) {
              for (let p = 0; p < kh; p++) {
                const h = i * sh + p - top;
                if (h < 0 || h >= H) continue;  // the padding's zeros
                for (let q = 0; q < kw; q++) {
                  const w = j * sw + q - left;
                  if (w >= 0 && w < W) sum += x[(c * H + h) * W + w] * K[((f * C + c) * kh + p) * kw + q];
                }
              }
            }
            y[(f * oh + i) * ow + j] = sum;
          }
        }
      }
      return y;
    },
    MaxPool2D: (x, layer) => pool(x, layer, (window) => Math.max(...window)),
    AvgPool2D: (x, layer) => pool(x, layer, (window) => window.reduce((a, b) => a + b, 0) / window.length),
    GlobalAvgPool2D(x, { shape }) {           // each channel's mean
      const [C, H, W] = shape, y = new Float64Array(C);
      for (let c = 0; c < C; c++) y[c] = x.subarray(c * H * W, (c + 1) * H * W).reduce((a, b) => a + b, 0) / (H * W);
      return y;
    },
    BatchNorm1D: (x, layer) => batchNorm(x, layer),
    BatchNorm2D: (x, layer) => batchNorm(x, layer),
  };

  // A window layer (max or mean of each kh × kw window of each channel, the windows a stride apart).
  function pool(x, { config, shape }, reduce) {
    const [C, H, W] = shape, [kh, kw] = config.kernel_size, [sh, sw] = config.stride;
    const oh = Math.floor((H - kh) / sh) + 1, ow = Math.floor((W - kw) / sw) + 1;
    const y = new Float64Array(C * oh * ow), window = new Float64Array(kh * kw);
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          for (let p = 0; p < kh; p++) {
            for (let q = 0; q < kw; q++) window[p * kw + q] = x[(c * H + i * sh + p) * W + j * sw + q];
          }
          y[(c * oh + i) * ow + j] = reduce(window);
        }
      }
    }
    return y;
  }

  // Batch normalisation at inference: (x − running_mean) / √(running_var + ε) · γ + β, per channel.
  function batchNorm(x, { config, arrays, shape }) {
    const pixels = x.length / shape[0];       // 1 for rows, H·W for images
    return x.map((v, k) => {
      const c = Math.floor(k / pixels);
      return (v - arrays.running_mean[c]) / Math.sqrt(arrays.running_var[c] + config.eps) * arrays.gamma[c]
        + arrays.beta[c];
    });
  }

  function softmax(x) {
    const top = Math.max(...x);
    const e = x.map((v) => Math.exp(v - top));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  }
  // How a member's outputs become probabilities (its loss's predict_proba).
  const OUTPUTS = { softmax, sigmoid: (x) => x.map(sigmoid), identity: (x) => x };

  function decodeBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new DataView(bytes.buffer);
  }

  // One array of the weights as a Float32Array (int8 ones multiplied by their scales).
  function readArray(view, { dtype, offset, shape, scales, axis }) {
    const size = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    if (dtype === "float32") {
      for (let i = 0; i < size; i++) out[i] = view.getFloat32(offset + 4 * i, true);
    } else if (dtype === "int8") {
      // one scale per output channel: along `axis`, the last (a Dense layer's W) unless named (a convolution's: 0)
      const along = axis ?? shape.length - 1;
      const channels = shape[along], inner = shape.slice(along + 1).reduce((a, b) => a * b, 1);
      const scale = readArray(view, { dtype: "float32", offset: scales, shape: [channels] });
      for (let i = 0; i < size; i++) out[i] = view.getInt8(offset + i) * scale[Math.floor(i / inner) % channels];
    } else {
      throw new Error(`unknown weight type ${dtype}`);
    }
    return out;
  }

  let model = null;
  let loaded = null;
  const ready = new Promise((resolve) => { loaded = resolve; });

  // Called by model.js: check that every layer can run here, then decode the weights.
  barenet.useModel = function useModel(description) {
    if (description.format !== "barenet-web" || description.version !== 1) {
      throw new Error(`not a barenet web model (format ${description.format}, version ${description.version})`);
    }
    const view = decodeBase64(description.weights);
    const members = description.members.map((layers) => layers.map((layer, k) => {
      if (!LAYERS[layer.kind]) throw new Error(`layer ${k} (${layer.kind}) cannot run in the browser`);
      const arrays = {};
      for (const [name, spec] of Object.entries(layer.arrays)) arrays[name] = readArray(view, spec);
      return { kind: layer.kind, config: layer.config, shape: layer.shape, arrays };
    }));
    const { weights, ...info } = description;
    model = { ...info, members };
    loaded(model);
    barenet.model = info;
    if (typeof document !== "undefined") document.dispatchEvent(new CustomEvent("barenet:model", { detail: info }));
    return info;
  };

  // The probabilities (or outputs) for one sample: `values`, input_width numbers (784 for the
  // draw page: what prepareDigit gives). Ensembles average their members' probabilities.
  barenet.predict = async function predict(values) {
    const current = model || await ready;
    if (!values || values.length !== current.input_width) {
      throw new RangeError(`predict takes ${current.input_width} values, got ${values ? values.length : values}`);
    }
    const sum = new Float64Array(current.output_width);
    for (const layers of current.members) {
      let x = Float64Array.from(values);
      for (const layer of layers) x = LAYERS[layer.kind](x, layer);
      OUTPUTS[current.output](x).forEach((v, j) => { sum[j] += v / current.members.length; });
    }
    return Array.from(sum);
  };

  barenet.layerKinds = Object.keys(LAYERS);
})(globalThis.barenet = globalThis.barenet || {});
