// The draw page: a canvas for the mouse, a finger or a pen; each drawing is prepared by
// barenet.prepareDigit (or prepareSilhouette, for clothes) and read by barenet.predict, here in
// the browser, and the page shows the probabilities and the 28×28 image the network saw.
// The same file runs in the exported folder and in `barenet serve`.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const pen = canvas.getContext("2d", { willReadFrequently: true });
  const strokes = [];          // each stroke: a list of [x, y] in canvas pixels
  let current = null;
  let classes = [...Array(10).keys()].map(String);
  let prepare = barenet.prepareDigit;

  // What to ask for and how to prepare it, by the data set the model learnt from.
  const SUBJECTS = {
    "fashion-mnist": { what: "a piece of clothing",
      seen: "your drawing prepared like Fashion-MNIST's pictures (cropped, what the outline encloses filled, " +
            "the longer side scaled to 28 pixels, centred), in your browser" },
    default: { what: "a digit",
      seen: "your drawing prepared like MNIST's images (cropped, scaled into 20×20, centred by its centre of " +
            "mass in 28×28), in your browser, by the same steps as barenet predict" },
  };

  function penWidth() { return canvas.width / 14; }   // about MNIST's stroke width relative to the digit

  function redraw() {
    pen.fillStyle = "white";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.strokeStyle = pen.fillStyle = "black";
    pen.lineCap = pen.lineJoin = "round";
    pen.lineWidth = penWidth();
    for (const stroke of strokes) {
      pen.beginPath();
      if (stroke.length === 1) {
        pen.arc(stroke[0][0], stroke[0][1], penWidth() / 2, 0, 2 * Math.PI);
        pen.fill();
        continue;
      }
      pen.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) pen.lineTo(x, y);
      pen.stroke();
    }
  }

  function position(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [position(event)];
    strokes.push(current);
    changed();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    current.push(position(event));
    changed();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => { current = null; });
  }
  $("undo").addEventListener("click", () => { strokes.pop(); changed(); });
  $("clear").addEventListener("click", () => { strokes.length = 0; changed(); });

  // -- prediction: once per frame at most, and only the latest drawing's answer is shown ------
  let generation = 0;
  let frame = null;
  function changed() {
    generation += 1;
    if (!frame) frame = requestAnimationFrame(() => { frame = null; redraw(); predictNow(); });
  }

  // Grey levels of the canvas, as Pillow converts a picture to "L" (what `barenet predict` reads).
  function greyLevels(image) {
    const { data } = image;
    const grey = new Uint8Array(image.width * image.height);
    for (let i = 0; i < grey.length; i++) {
      grey[i] = (data[4 * i] * 19595 + data[4 * i + 1] * 38470 + data[4 * i + 2] * 7471 + 0x8000) >> 16;
    }
    return grey;
  }

  async function predictNow() {
    if (!strokes.length) { showPrediction(null); return; }
    const asked = generation;
    const values = prepare(greyLevels(pen.getImageData(0, 0, canvas.width, canvas.height)), canvas.width, canvas.height);
    try {
      const probabilities = await barenet.predict(values);
      if (asked === generation) showPrediction(values, probabilities);
    } catch (error) {
      $("confidence").textContent = error.message;
    }
  }

  function buildBars() {
    $("bars").replaceChildren(...classes.map((name) => {
      const item = document.createElement("li");
      item.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
      item.querySelector(".label").textContent = name;
      return item;
    }));
  }

  function showPrediction(values, p) {
    const items = $("bars").children;
    const seen = $("seen").getContext("2d");
    if (!values) {
      $("guess").textContent = "?";
      $("confidence").textContent = "";
      for (const item of items) {
        item.classList.remove("top");
        item.querySelector(".fill").style.width = "0";
        item.querySelector(".value").textContent = "";
      }
      seen.fillStyle = "black";
      seen.fillRect(0, 0, 28, 28);
      return;
    }
    const best = p.indexOf(Math.max(...p));
    const blank = !values.some((v) => v > 0.1);   // images.has_ink
    $("guess").textContent = classes[best];
    $("confidence").textContent = blank ? "no ink found: the picture is blank, so this guess means nothing"
                                        : (100 * p[best]).toFixed(1) + "% sure";
    $("confidence").classList.toggle("warning", blank);
    p.forEach((value, k) => {
      items[k].classList.toggle("top", k === best);
      items[k].querySelector(".fill").style.width = (100 * value).toFixed(1) + "%";
      items[k].querySelector(".value").textContent = (100 * value).toFixed(1) + "%";
    });
    const image = seen.createImageData(28, 28);
    values.forEach((v, i) => {
      const grey = Math.round(255 * v);
      image.data.set([grey, grey, grey, 255], 4 * i);
    });
    seen.putImageData(image, 0, 0);
  }

  // The model's description (model.js ran before this file; a served page may load another).
  function useModel(info) {
    classes = info.classes;
    const subject = SUBJECTS[info.dataset] || SUBJECTS.default;
    prepare = info.preparation === "silhouette" ? barenet.prepareSilhouette : barenet.prepareDigit;
    buildBars();
    $("guess").classList.toggle("long", classes.some((name) => name.length > 2));  // "Ankle boot", not "7"
    $("hint").textContent = `Draw ${subject.what} with the mouse, a finger or a pen` +
      (info.dataset === "fashion-mnist" ? ` (${classes.join(", ")}).` : ".");
    canvas.setAttribute("aria-label", `drawing area: draw ${subject.what}`);
    document.title = `barenet: draw ${subject.what}`;
    $("seen-text").textContent = "what the network sees: " + subject.seen;
    const test = info.test && info.test.accuracy ? `, test accuracy ${(100 * info.test.accuracy).toFixed(2)}%` : "";
    const int8 = info.quantize === "int8" ? ", weights stored as int8" : "";
    $("model-info").textContent = `Model: ${info.source || "a barenet model"}${test}${int8}.`;
    strokes.length = 0;
    changed();
  }

  document.addEventListener("barenet:model", (event) => useModel(event.detail));
  redraw();
  showPrediction(null);
  if (barenet.model) useModel(barenet.model);
  else $("model-info").textContent = "No model: model.js did not load.";
})();
