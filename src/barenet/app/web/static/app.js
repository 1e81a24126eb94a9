// barenet's page. Drawing: the canvas's raw pixels go to the server (POST /api/predict), which
// prepares them like MNIST's digits with the same Python code as `barenet predict` and returns
// the probabilities and the 28×28 image it used. No image processing happens here.
"use strict";

const $ = (id) => document.getElementById(id);

// -- tabs ---------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}
function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === name);
  for (const view of document.querySelectorAll(".view")) view.classList.toggle("active", view.id === "view-" + name);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: "the server sent no JSON" }));
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.details = body.details || [];   // [{where: "lr", problem: "..."}] for a form that does not fit
    throw error;
  }
  return body;
}

// -- drawing ------------------------------------------------------------------------------------
const canvas = $("canvas");
const pen = canvas.getContext("2d");
const strokes = [];          // each stroke: a list of [x, y] in canvas pixels
let current = null;
let classes = [...Array(10).keys()].map(String);

function penWidth() { return canvas.width / 14; }   // about MNIST's stroke width relative to the digit

function redraw() {
  pen.fillStyle = "white";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  pen.strokeStyle = "black";
  pen.fillStyle = "black";
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.lineWidth = penWidth();
  for (const stroke of strokes) {
    if (stroke.length === 1) {
      pen.beginPath();
      pen.arc(stroke[0][0], stroke[0][1], penWidth() / 2, 0, 2 * Math.PI);
      pen.fill();
      continue;
    }
    pen.beginPath();
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
  redraw();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  event.preventDefault();
  current.push(position(event));
  changed();
  redraw();
  schedulePrediction();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (!current) return;
    current = null;
    predictNow();
  });
}
$("undo").addEventListener("click", () => { strokes.pop(); changed(); redraw(); predictNow(); });
$("clear").addEventListener("click", () => { strokes.length = 0; changed(); redraw(); predictNow(); });

// -- prediction ---------------------------------------------------------------------------------
// One request at a time; an answer is shown only if the drawing has not changed since it was
// sent (after Clear or Undo, a late answer about the old drawing must not reappear).
let timer = null;
let inFlight = false;
let pending = false;
let generation = 0;   // bumped by every change of the drawing

function changed() { generation += 1; }

function schedulePrediction() {
  if (!timer) timer = setTimeout(() => { timer = null; predictNow(); }, 120);
}

async function predictNow() {
  if (!strokes.length) { showPrediction(null); return; }
  if (inFlight) { pending = true; return; }
  inFlight = true;
  const asked = generation;
  try {
    const result = await api("/api/predict", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ png: canvas.toDataURL("image/png") }),
    });
    if (asked === generation) showPrediction(result);
    else pending = true;
  } catch (error) {
    $("confidence").textContent = error.message;
  } finally {
    inFlight = false;
    if (pending) { pending = false; predictNow(); }
  }
}

function buildBars() {
  const bars = $("bars");
  bars.replaceChildren();
  classes.forEach((name) => {
    const item = document.createElement("li");
    item.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    item.querySelector(".label").textContent = name;
    bars.appendChild(item);
  });
}

function showPrediction(result) {
  const items = $("bars").children;
  const seen = $("seen").getContext("2d");
  if (!result) {
    $("guess").textContent = "?";
    $("confidence").textContent = "";
    for (const item of items) { item.classList.remove("top"); item.querySelector(".fill").style.width = "0"; item.querySelector(".value").textContent = ""; }
    seen.fillStyle = "black";
    seen.fillRect(0, 0, 28, 28);
    return;
  }
  const p = result.probabilities;
  $("guess").textContent = classes[result.prediction];
  $("confidence").textContent = result.warning || (100 * p[result.prediction]).toFixed(1) + "% sure";
  $("confidence").classList.toggle("warning", Boolean(result.warning));
  p.forEach((value, k) => {
    const item = items[k];
    item.classList.toggle("top", k === result.prediction);
    item.querySelector(".fill").style.width = (100 * value).toFixed(1) + "%";
    item.querySelector(".value").textContent = (100 * value).toFixed(1) + "%";
  });
  const image = seen.createImageData(28, 28);
  result.input.flat().forEach((grey, i) => {
    image.data.set([grey, grey, grey, 255], 4 * i);
  });
  seen.putImageData(image, 0, 0);
}

// What to ask for, by the data set the model learnt from.
const SUBJECTS = {
  "fashion-mnist": { what: "a piece of clothing", data: "Fashion-MNIST's" },
  default: { what: "a digit", data: "MNIST's" },
};

async function loadModelInfo() {
  const info = await api("/api/model");
  classes = info.classes;
  buildBars();
  $("guess").classList.toggle("long", classes.some((name) => name.length > 2));  // "Ankle boot", not "7"
  const subject = SUBJECTS[info.dataset] || SUBJECTS.default;
  $("hint").textContent = `Draw ${subject.what} with the mouse, a finger or a pen` +
    (info.dataset === "fashion-mnist" ? ` (${classes.join(", ")}).` : ".");
  canvas.setAttribute("aria-label", `drawing area: draw ${subject.what}`);
  document.title = `barenet: draw ${subject.what}`;
  $("seen-data").textContent = subject.data;
  const test = info.test && info.test.accuracy ? `, test accuracy ${(100 * info.test.accuracy).toFixed(2)}%` : "";
  $("model-info").textContent = `Model: ${info.source}${test}.`;
}

// -- watching a model learn ---------------------------------------------------------------------
let job = null;
let events = null;
const charts = {};

function makeChart(id, label) {
  return new Chart($(id), {
    type: "line",
    data: { labels: [], datasets: [
      // straight lines between the epochs' points: nothing is drawn that was not measured
      { label: `training ${label} (running mean)`, data: [], borderColor: "#2f6fde", tension: 0, pointRadius: 3 },
      { label: `validation ${label}`, data: [], borderColor: "#e8590c", tension: 0, pointRadius: 3 },
    ] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               scales: { x: { title: { display: true, text: "epoch (0: before training)" } },
                         // a log scale keeps epoch 0's loss of 2.3 from flattening the later epochs
                         y: label === "loss" ? { type: "logarithmic", title: { display: true, text: "loss (log scale)" } }
                                             : { title: { display: true, text: label } } } },
  });
}

function resetCharts() {
  for (const chart of Object.values(charts)) chart.destroy();
  charts.loss = makeChart("loss-chart", "loss");
  charts.accuracy = makeChart("accuracy-chart", "accuracy");
}

function addEpoch(epoch, logs) {
  for (const [name, chart] of Object.entries(charts)) {
    chart.data.labels.push(epoch);
    chart.data.datasets[0].data.push(logs[name] ?? null);
    chart.data.datasets[1].data.push(logs["val_" + name] ?? null);
    chart.update();
  }
}

function setButtons(status) {
  const active = ["starting", "loading data", "running", "paused", "stopping"].includes(status);
  $("start").disabled = active;
  $("pause").disabled = !["running", "paused"].includes(status);
  $("pause").textContent = status === "paused" ? "Resume" : "Pause";
  $("stop").disabled = !active;
  const imageData = ["mnist", "mnist-10k", "fashion-mnist"].includes(job && job.dataset);
  $("use").disabled = !(imageData && ["finished", "stopped"].includes(status));
}

$("train-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const settings = {
    dataset: form.get("dataset"),
    hidden: form.get("hidden").split(",").map((w) => parseInt(w, 10)).filter((w) => w > 0),
    activation: form.get("activation"), optimizer: form.get("optimizer"),
    lr: parseFloat(form.get("lr")), epochs: parseInt(form.get("epochs"), 10),
    batch_size: parseInt(form.get("batch_size"), 10), dropout: parseFloat(form.get("dropout")),
    augment: form.get("augment") === "on",
  };
  showFieldErrors([]);
  try {
    const started = await api("/api/train", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(settings),
    });
    job = { id: started.job, dataset: settings.dataset };
    resetCharts();
    follow(job.id);
  } catch (error) {
    const problems = (error.details || []).map((d) => `${d.where}: ${d.problem}`);
    $("train-status").textContent = "Could not start: " + (problems.length ? problems.join("; ") : error.message);
    showFieldErrors(error.details || []);
  }
});

// Each problem the server found, next to the field it is about.
function showFieldErrors(details) {
  for (const old of document.querySelectorAll(".field-error")) old.remove();
  for (const input of $("train-form").querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const { where, problem } of details) {
    const input = $("train-form").querySelector(`[name="${where.split(".")[0]}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const note = document.createElement("span");
    note.className = "field-error";
    note.textContent = problem;
    input.closest("label").appendChild(note);
  }
}

function follow(id) {
  if (events) events.close();
  events = new EventSource(`/api/train/${id}/events`);
  events.addEventListener("epoch", (message) => {
    const event = JSON.parse(message.data);
    addEpoch(event.epoch, event.logs);
    const acc = event.logs.val_accuracy ?? event.logs.accuracy;
    $("train-status").textContent = `epoch ${event.epoch}: loss ${event.logs.loss.toFixed(4)}` +
      (acc != null ? `, ${event.logs.val_accuracy != null ? "validation " : ""}accuracy ${(100 * acc).toFixed(2)}%` : "");
  });
  events.addEventListener("status", (message) => {
    const event = JSON.parse(message.data);
    setButtons(event.status);
    if (event.status === "failed") $("train-status").textContent = "Failed: " + event.error;
    else if (event.status === "finished" || event.status === "stopped") {
      const test = event.test && event.test.accuracy != null ? ` Test accuracy ${(100 * event.test.accuracy).toFixed(2)}%.` : "";
      $("train-status").textContent = `Training ${event.status}.${test}`;
    } else $("train-status").textContent = event.status + "…";  // after Resume: "running…" until the next epoch
  });
  events.onerror = () => { events.close(); };
}

$("pause").addEventListener("click", async () => {
  const action = $("pause").textContent === "Pause" ? "pause" : "resume";
  await api(`/api/train/${job.id}/${action}`, { method: "POST" });
});
$("stop").addEventListener("click", async () => { await api(`/api/train/${job.id}/stop`, { method: "POST" }); });
$("use").addEventListener("click", async () => {
  try {
    await api(`/api/train/${job.id}/use`, { method: "POST" });
    await loadModelInfo();
    strokes.length = 0;
    changed();
    redraw();
    showPrediction(null);
    showView("draw");
  } catch (error) {
    $("train-status").textContent = error.message;
  }
});

// -- start --------------------------------------------------------------------------------------
redraw();
buildBars();
showPrediction(null);
resetCharts();
loadModelInfo().catch((error) => { $("model-info").textContent = "Could not reach the server: " + error.message; });
