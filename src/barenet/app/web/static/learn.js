// barenet serve's "watch it learn" view: start, pause and stop a training job on the server,
// follow its epochs (server-sent events), and draw from what it sends: the loss and accuracy
// curves, and what the network has learned (learned.js). The draw view is draw.js, the same
// page as the static export's.
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
                         y: label === "loss" ? { type: "logarithmic", title: { display: true, text: "loss (log scale)" },
                                                                 ticks: { callback: oneTwoFive } }
                                             : { title: { display: true, text: label } } } },
  });
}

// Log-axis labels at 1, 2 and 5 times a power of ten only: 0.7 next to 1.0 would overlap it.
function oneTwoFive(value) {
  const leading = value / 10 ** Math.floor(Math.log10(value) + 1e-9);
  return [1, 2, 5].some((k) => Math.abs(leading - k) < 1e-6) ? Number(value.toPrecision(1)) : "";
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
    conv: form.get("conv") || null,          // convolutions before the hidden layers, for images
    hidden: form.get("hidden").split(",").map((w) => parseInt(w, 10)).filter((w) => w > 0),
    activation: form.get("activation"), optimizer: form.get("optimizer"),
    lr: parseFloat(form.get("lr")), epochs: parseInt(form.get("epochs"), 10),
    batch_size: parseInt(form.get("batch_size"), 10), dropout: parseFloat(form.get("dropout")),
    augment: form.get("augment") === "on",
  };
  showFieldErrors([]);
  $("train-status").textContent = "starting…";   // at once: the last job's "finished" must not linger
  try {
    const started = await api("/api/train", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(settings),
    });
    job = { id: started.job, dataset: settings.dataset };
    $("accuracy-chart").closest(".chart").hidden = settings.dataset === "regression";  // no accuracy there
    resetCharts();
    learnedView.clear($("learned"));
    $("learned-caption").textContent = "Loading the data…";
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
  let fixed = null;   // what the model learns from: the "data" event, before the first epoch
  events.addEventListener("data", (message) => { fixed = JSON.parse(message.data); });
  events.addEventListener("epoch", (message) => {
    const event = JSON.parse(message.data);
    addEpoch(event.epoch, event.logs);
    if (fixed && event.learned) $("learned-caption").textContent = learnedView.draw($("learned"), fixed, event.learned, event.epoch);
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
    await reloadModel(job.id);
    showView("draw");
  } catch (error) {
    $("train-status").textContent = error.message;
  }
});

// The server now serves the trained model: load its model.js again (draw.js hears of it).
function reloadModel(id) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `model.js?job=${encodeURIComponent(id)}`;
    script.onload = () => { script.remove(); resolve(); };
    script.onerror = () => { script.remove(); reject(new Error("could not load the trained model")); };
    document.body.appendChild(script);
  });
}

// -- start --------------------------------------------------------------------------------------
resetCharts();
