// "What it has learned", drawn on one canvas from what the server sends (app/web/learned.py):
// the decision regions under the points for 2-D data, predicted against true for regression,
// the first layer's weights as small pictures for images. Redrawn every epoch. The canvas's
// data attributes say where things were drawn (for the tests, which read its pixels).
"use strict";
const learnedView = (function () {
  const COLOURS = [[47, 111, 222], [232, 89, 12], [31, 157, 85], [156, 54, 181], [214, 51, 108],
                   [102, 117, 127], [240, 140, 0], [12, 166, 166], [121, 80, 242], [130, 90, 44]];
  const NAMES = ["blue", "orange", "green", "purple", "pink", "grey", "amber", "teal", "violet", "brown"];
  const WHITE = [255, 255, 255];
  const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));
  const css = (c) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

  // Each cell in its class's colour, deeper where the model is surer (from chance to certain).
  function regions(canvas, fixed, learned) {
    const pen = canvas.getContext("2d");
    const n = fixed.grid, cells = new ImageData(n, n);
    const chance = 100 / fixed.classes.length;
    learned.regions.forEach((k, i) => {
      const depth = 0.12 + 0.48 * Math.max(0, (learned.sure[i] - chance) / (100 - chance));
      cells.data.set([...mix(WHITE, COLOURS[k % COLOURS.length], depth), 255], 4 * i);
    });
    const grid = document.createElement("canvas");
    grid.width = grid.height = n;
    grid.getContext("2d").putImageData(cells, 0, 0);
    pen.imageSmoothingEnabled = false;     // cells, as computed: no blur between them
    pen.drawImage(grid, 0, 0, canvas.width, canvas.height);
    const [x0, x1, y0, y1] = fixed.extent;
    for (const [x, y, k] of fixed.points) {
      pen.beginPath();
      pen.arc((x - x0) / (x1 - x0) * canvas.width, (y1 - y) / (y1 - y0) * canvas.height, 3.5, 0, 2 * Math.PI);
      pen.fillStyle = css(COLOURS[k % COLOURS.length]);
      pen.fill();
      pen.strokeStyle = "rgba(29, 35, 48, 0.7)";   // dark rims: points stand out on their own class's region
      pen.lineWidth = 1;
      pen.stroke();
    }
    return `The class the network gives each point of the plane (deeper colour: surer), under ${fixed.points.length} ` +
           `training points in their true class's colour (${fixed.classes.map((c, k) => `${c}: ${NAMES[k % NAMES.length]}`).join(", ")}).`;
  }

  // Predicted against true: on the diagonal, the prediction is exact.
  function regression(canvas, fixed, learned) {
    const pen = canvas.getContext("2d"), pad = 36, side = canvas.width - 2 * pad;
    const all = fixed.true.concat(learned.predicted);
    const low = Math.min(...all), high = Math.max(...all), span = high - low || 1;
    const at = (v) => pad + (v - low) / span * side;
    pen.fillStyle = "white";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.strokeStyle = "#c9d1dc";
    pen.strokeRect(pad, pad, side, side);
    pen.setLineDash([6, 4]);
    pen.beginPath();
    pen.moveTo(pad, canvas.height - pad);
    pen.lineTo(canvas.width - pad, pad);
    pen.stroke();
    pen.setLineDash([]);
    pen.fillStyle = css(COLOURS[0]);
    fixed.true.forEach((t, i) => {
      pen.beginPath();
      pen.arc(at(t), canvas.height - at(learned.predicted[i]), 2.5, 0, 2 * Math.PI);
      pen.fill();
    });
    pen.fillStyle = "#667085";
    pen.font = "13px system-ui, sans-serif";
    const tick = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
    pen.textAlign = "left";
    pen.fillText(tick(low), pad, canvas.height - pad + 16);
    pen.textAlign = "right";
    pen.fillText(tick(high), canvas.width - pad, canvas.height - pad + 16);
    pen.fillText(tick(low), pad - 4, canvas.height - pad);
    pen.fillText(tick(high), pad - 4, pad + 10);
    pen.textAlign = "left";
    pen.fillText("true value →", canvas.width / 2 - 36, canvas.height - 12);
    pen.save();
    pen.translate(16, canvas.height / 2 + 36);
    pen.rotate(-Math.PI / 2);
    pen.fillText("predicted →", 0, 0);
    pen.restore();
    Object.assign(canvas.dataset, { pad, low, high });
    const mean = fixed.true.reduce((a, b) => a + b, 0) / fixed.true.length;
    const residual = fixed.true.reduce((a, t, i) => a + (t - learned.predicted[i]) ** 2, 0);
    const total = fixed.true.reduce((a, t) => a + (t - mean) ** 2, 0);
    return `Prediction against true value for ${fixed.true.length} held-out samples; on the dashed diagonal the ` +
           `prediction is exact. R² = ${(1 - residual / total).toFixed(3)}.`;
  }

  // One picture per first-layer unit: its weight on each input pixel, orange positive, blue negative
  // (for a convolutional network, per filter of the first convolution: learned.shape is its size).
  function weights(canvas, fixed, learned) {
    const pen = canvas.getContext("2d"), [h, w] = learned.shape || fixed.image_shape;
    const columns = Math.ceil(Math.sqrt(learned.weights.length)), gap = 4;   // a square of tiles
    const tile = Math.floor((canvas.width - gap * (columns - 1)) / columns);
    pen.fillStyle = "#d0d6df";    // the gaps: grey, so that tiles of weak (white) weights keep their edges
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.imageSmoothingEnabled = false;
    const small = document.createElement("canvas");
    small.width = w;
    small.height = h;
    learned.weights.forEach((unit, k) => {
      const image = new ImageData(w, h);
      unit.forEach((v, i) => {
        image.data.set([...mix(WHITE, v >= 0 ? COLOURS[1] : COLOURS[0], Math.abs(v) / 127), 255], 4 * i);
      });
      small.getContext("2d").putImageData(image, 0, 0);
      pen.drawImage(small, (k % columns) * (tile + gap), Math.floor(k / columns) * (tile + gap), tile, tile);
    });
    Object.assign(canvas.dataset, { tile, gap, columns });
    if (learned.shape) {
      return `The first convolution's first ${learned.weights.length} filters, one ${w}×${h} picture each, ` +
             "slid over the whole image (orange: the pixel excites the filter, blue: it inhibits it): the strokes " +
             "the network looks for.";
    }
    return `The first layer's weights into its first ${learned.weights.length} units, one ${w}×${h} picture each ` +
           "(orange: the pixel excites the unit, blue: it inhibits it): the patterns the network looks for.";
  }

  const KINDS = { regions, regression, weights };

  return {
    draw(canvas, fixed, learned, epoch) {
      canvas.dataset.kind = fixed.kind;
      const caption = KINDS[fixed.kind](canvas, fixed, learned);
      canvas.dataset.epoch = epoch;
      canvas.dataset.draws = Number(canvas.dataset.draws || 0) + 1;
      return `Epoch ${epoch}. ${caption}`;
    },
    clear(canvas) {
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      for (const key of Object.keys(canvas.dataset)) delete canvas.dataset[key];
    },
  };
})();
