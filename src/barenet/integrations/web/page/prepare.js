// Preparing a drawing for a network, in the browser: barenet.prepareDigit and
// barenet.prepareSilhouette. Each follows, step for step, its Python original in
// barenet/app/images.py (prepare_digit, prepare_silhouette), with the same float32 arithmetic:
// NumPy's float32 operations (Math.fround after each), Pillow's resampling in "F" mode (weights
// and sums in double, each result stored as float32), NumPy's pairwise float32 sums, and
// Python's round (half to even). So the 784 values equal Python's, to the last bit or nearly:
// a test checks them against Python on 300 drawings.
"use strict";
(function (barenet) {
  const f32 = Math.fround;
  const INK = f32(0.1);     // below this an ink level is paper texture (images.py: ink < 0.1)
  const WORK = 4;           // strokes are adjusted at 4× the final resolution
  const MNIST_STROKE = 2.85;
  const MNIST_CENTRE = 14.0;
  const SILHOUETTE_FILL = f32(0.7);  // the level of what an outline encloses (images.SILHOUETTE_FILL)

  // A picture: {data: Float32Array, width, height}, row after row.
  const picture = (width, height) => ({ data: new Float32Array(width * height), width, height });

  function roundHalfEven(x) {   // Python's round()
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  // NumPy's float32 sum of n values (pairwise, blocks of 8 partial sums): at(i) gives value i.
  function pairwiseSum(at, start, n, round) {
    if (n < 8) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum = round(sum + at(start + i));
      return sum;
    }
    if (n <= 128) {
      const r = [];
      for (let j = 0; j < 8; j++) r.push(at(start + j));
      let i = 8;
      for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + at(start + i + j));
      let sum = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
      for (; i < n; i++) sum = round(sum + at(start + i));
      return sum;
    }
    let half = Math.floor(n / 2);
    half -= half % 8;
    return round(pairwiseSum(at, start, half, round) + pairwiseSum(at, start + half, n - half, round));
  }
  const identity = (x) => x;

  // Grey levels 0-255 -> an ink map, white ink on black, background removed (images._ink_map).
  function inkMap(gray, width, height) {
    const grey = picture(width, height);
    for (let i = 0; i < gray.length; i++) grey.data[i] = f32(f32(gray[i]) / 255);
    const border = [];
    for (let x = 0; x < width; x++) border.push(grey.data[x]);
    for (let x = 0; x < width; x++) border.push(grey.data[(height - 1) * width + x]);
    for (let y = 0; y < height; y++) border.push(grey.data[y * width]);
    for (let y = 0; y < height; y++) border.push(grey.data[y * width + width - 1]);
    border.sort((a, b) => a - b);
    const middle = border.length / 2;   // an even count: NumPy's median is the float32 mean of the middle two
    let background = f32(f32(border[middle - 1] + border[middle]) / 2);
    const invert = background > 0.5;
    if (invert) background = 1.0 - background;
    const level = f32(background);
    let peak = 0;
    for (let i = 0; i < grey.data.length; i++) {
      const ink = Math.max(f32((invert ? f32(1 - grey.data[i]) : grey.data[i]) - level), 0);
      grey.data[i] = ink;
      peak = Math.max(peak, ink);
    }
    if (peak < 0.05) return null;
    for (let i = 0; i < grey.data.length; i++) {
      const ink = f32(grey.data[i] / peak);
      grey.data[i] = ink < INK ? 0 : ink;
    }
    return grey;
  }

  // The smallest rectangle holding all the ink (images._crop).
  function crop(image) {
    const { data, width, height } = image;
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (data[y * width + x] > INK) {
          top = Math.min(top, y); bottom = Math.max(bottom, y);
          left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    if (bottom < 0) return image;
    const out = picture(right - left + 1, bottom - top + 1);
    for (let y = top; y <= bottom; y++) out.data.set(data.subarray(y * width + left, y * width + right + 1), (y - top) * out.width);
    return out;
  }

  // Pillow's resampling weights for one axis (Resample.c, precompute_coeffs).
  const FILTERS = {
    box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
    bilinear: { support: 1.0, weight: (x) => Math.max(1.0 - Math.abs(x), 0.0) },
  };
  function coefficients(inSize, outSize, filter) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1.0);
    const support = filter.support * filterScale;
    const inverse = 1.0 / filterScale;
    const taps = [];
    for (let out = 0; out < outSize; out++) {
      const centre = (out + 0.5) * scale;
      const first = Math.max(Math.trunc(centre - support + 0.5), 0);
      const end = Math.min(Math.trunc(centre + support + 0.5), inSize);
      const weights = [];
      let total = 0.0;
      for (let x = first; x < end; x++) {
        const w = filter.weight((x - centre + 0.5) * inverse);
        weights.push(w);
        total += w;
      }
      taps.push({ first, weights: total !== 0.0 ? weights.map((w) => w / total) : weights });
    }
    return taps;
  }

  // One pass along rows (step 1) or columns (step = width): double sums stored as float32.
  function resamplePass(image, width, height, horizontal, filter) {
    const out = picture(width, height);
    const taps = coefficients(horizontal ? image.width : image.height, horizontal ? width : height, filter);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const { first, weights } = taps[horizontal ? x : y];
        let sum = 0.0;
        for (let k = 0; k < weights.length; k++) {
          sum += (horizontal ? image.data[y * image.width + first + k] : image.data[(first + k) * image.width + x]) * weights[k];
        }
        out.data[y * width + x] = sum;
      }
    }
    return out;
  }

  // images._resize: area averaging (Pillow's BOX) when shrinking, bilinear otherwise, clipped to [0, 1].
  function resize(image, height, width) {
    const filter = height < image.height || width < image.width ? FILTERS.box : FILTERS.bilinear;
    let out = image;
    if (width !== out.width) out = resamplePass(out, width, out.height, true, filter);
    if (height !== out.height) out = resamplePass(out, width, height, false, filter);
    const clipped = picture(width, height);
    for (let i = 0; i < clipped.data.length; i++) clipped.data[i] = Math.min(Math.max(out.data[i], 0), 1);
    return clipped;
  }

  // Scale so that the longer side is `side` pixels, keeping the aspect ratio.
  function fit(image, side) {
    const scale = side / Math.max(image.height, image.width);
    return resize(image, Math.max(1, roundHalfEven(image.height * scale)), Math.max(1, roundHalfEven(image.width * scale)));
  }

  // Mean stroke width of the mask image > 0.5: 2·area/perimeter (images.stroke_width).
  function strokeWidth(image) {
    const { data, width, height } = image;
    const inked = (x, y) => x >= 0 && y >= 0 && x < width && y < height && data[y * width + x] > 0.5;
    let area = 0, edge = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!inked(x, y)) continue;
        area += 1;
        if (!(inked(x - 1, y) && inked(x + 1, y) && inked(x, y - 1) && inked(x, y + 1))) edge += 1;
      }
    }
    return area === 0 ? 0.0 : 2.0 * area / Math.max(edge, 1);
  }

  // Grey dilation (Math.max) or erosion (Math.min) by a disk, zeros outside (images._disk_filter).
  function diskFilter(image, radius, reduce) {
    const { data, width, height } = image;
    const out = picture(width, height);
    out.data.set(data);
    for (let dy = -radius; dy <= radius; dy++) {
      for (let dx = -radius; dx <= radius; dx++) {
        if (dx * dx + dy * dy > radius * radius) continue;
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const inside = x + dx >= 0 && x + dx < width && y + dy >= 0 && y + dy < height;
            out.data[y * width + x] = reduce(out.data[y * width + x], inside ? data[(y + dy) * width + x + dx] : 0);
          }
        }
      }
    }
    return out;
  }

  function adjustStrokes(work) {
    const width = strokeWidth(work);
    const target = MNIST_STROKE * WORK;
    if (width > 0 && width < 0.75 * target) return diskFilter(work, Math.max(1, roundHalfEven((target - width) / 2)), Math.max);
    if (width > 1.4 * target) {
      const thinner = diskFilter(work, Math.max(1, roundHalfEven((width - target) / 2)), Math.min);
      return thinner.data.some((v) => v > 0.5) ? thinner : work;
    }
    return work;
  }

  // Put an image in the middle of a 28×28 field.
  function centred(image) {
    const out = picture(28, 28);
    const top = Math.floor((28 - image.height) / 2), left = Math.floor((28 - image.width) / 2);
    for (let y = 0; y < image.height; y++) out.data.set(image.data.subarray(y * image.width, (y + 1) * image.width), (top + y) * 28 + left);
    return out;
  }

  // Move the centre of mass to MNIST's (14, 14) by whole pixels, with NumPy's sums.
  function centreOfMass(out) {
    const d = out.data;
    const total = pairwiseSum((i) => d[i], 0, 784, f32);
    const rows = [], columns = new Float32Array(28);
    for (let y = 0; y < 28; y++) {
      rows.push(pairwiseSum((i) => d[i], y * 28, 28, f32) * y);
      for (let x = 0; x < 28; x++) columns[x] = f32(columns[x] + d[y * 28 + x]);
    }
    const cy = pairwiseSum((i) => rows[i], 0, 28, identity) / total;
    const cx = pairwiseSum((i) => columns[i] * i, 0, 28, identity) / total;
    const dy = roundHalfEven(MNIST_CENTRE - cy), dx = roundHalfEven(MNIST_CENTRE - cx);
    const shifted = new Float32Array(784);
    for (let y = Math.max(0, dy); y < Math.min(28, 28 + dy); y++) {
      for (let x = Math.max(0, dx); x < Math.min(28, 28 + dx); x++) shifted[y * 28 + x] = d[(y - dy) * 28 + x - dx];
    }
    return shifted;
  }

  function checked(gray, width, height) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`width and height must be positive whole numbers, got ${width} and ${height}`);
    }
    if (!gray || gray.length !== width * height) {
      throw new RangeError(`gray must hold width × height = ${width * height} grey levels, got ${gray ? gray.length : gray}`);
    }
    for (let i = 0; i < gray.length; i++) {
      if (!(gray[i] >= 0 && gray[i] <= 255)) throw new RangeError(`gray levels must be numbers from 0 to 255, got ${gray[i]} at ${i}`);
    }
    return inkMap(gray, width, height);
  }

  // prepare_digit: crop to the ink, strokes to MNIST's width at 80 pixels, 20×20 with
  // anti-aliasing, centre of mass at (14, 14). A blank picture gives 784 zeros.
  barenet.prepareDigit = function prepareDigit(gray, width, height) {
    const ink = checked(gray, width, height);
    if (!ink) return new Float32Array(784);
    const work = crop(adjustStrokes(fit(crop(ink), 20 * WORK)));
    return centreOfMass(centred(fit(work, 20)));
  };

  // Fill what an outline encloses: the pixels of no ink that the border cannot reach
  // through other pixels of no ink (4-connected).
  function fillOutline(image) {
    const { data, width, height } = image;
    const reached = new Uint8Array(width * height);
    const stack = [];
    const visit = (x, y) => {
      const i = y * width + x;
      if (!reached[i] && !(data[i] > INK)) { reached[i] = 1; stack.push(i); }
    };
    for (let x = 0; x < width; x++) { visit(x, 0); visit(x, height - 1); }
    for (let y = 0; y < height; y++) { visit(0, y); visit(width - 1, y); }
    while (stack.length) {
      const i = stack.pop(), x = i % width, y = (i - x) / width;
      if (x > 0) visit(x - 1, y);
      if (x < width - 1) visit(x + 1, y);
      if (y > 0) visit(x, y - 1);
      if (y < height - 1) visit(x, y + 1);
    }
    const out = picture(width, height);
    for (let i = 0; i < data.length; i++) out.data[i] = reached[i] || data[i] > INK ? data[i] : SILHOUETTE_FILL;
    return out;
  }

  // prepare_silhouette, for Fashion-MNIST: crop to the ink, fill what the outline encloses,
  // the longer side 28 pixels, the box centred in 28×28.
  barenet.prepareSilhouette = function prepareSilhouette(gray, width, height) {
    const ink = checked(gray, width, height);
    if (!ink) return new Float32Array(784);
    return centred(fit(fillOutline(fit(crop(ink), 28 * WORK)), 28)).data;
  };
})(globalThis.barenet = globalThis.barenet || {});
