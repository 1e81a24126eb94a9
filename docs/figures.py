"""Every measured figure the README and the site show, read from the results files.

Nobody types a measured figure: a page writes ``{{ speed.table }}`` and the site's build puts in
what the files under ``benchmarks/results/`` hold (``docs/hooks.py``); the README keeps each
figure between ``<!-- fig:NAME -->`` and ``<!-- /fig -->`` and ``python docs/figures.py --readme``
rewrites them from the files (``tests/app/test_figures.py`` fails where they differ, and where a
figure with a unit stands outside such a place).

    python docs/figures.py            # list every figure and its value
    python docs/figures.py --readme   # rewrite the README's figures from the results files
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README_FIGURE = re.compile(r"(<!-- fig:([\w.\-]+) -->)(.*?)(<!-- /fig -->)", re.S)


def _json(name):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(report) -> str:
    """'2-core AMD EPYC, Python 3.11.7, NumPy 2.4.6, torch 2.13.0+cpu ..., 2026-12-07'."""
    machine = report.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in machine.items() if k not in ("processor", "cores"))
    return f"{machine.get('cores', '?')}-core {machine.get('processor', '?')}; {versions}; run {report.get('date', 'undated')}"


def speed_figures(report) -> dict:
    """The training table (every system at every batch size), the inference table, the headline."""
    rows = report["training"]
    reference = report.get("reference") or "barenet"
    lines = [f"| batch | system | epoch | first → last | {reference} ÷ system | × matmul limit | peak RSS, epoch 1 / 2 "
             "| test accuracy |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for batch, row in rows.items():
        for system, f in row["systems"].items():
            ratio = "" if system == reference or f.get("reference_over_system") is None \
                else f"{f['reference_over_system']:.2f}"
            memory = "" if f.get("peak_rss_mib") is None else f"{f['peak_rss_mib']:.0f} / {f['peak_rss_mib_later']:.0f} MiB"
            lines.append(f"| {batch} | {system} | {f['median_epoch_seconds']:.2f} s | {f['first_epoch_seconds']:.2f} → "
                         f"{f['last_epoch_seconds']:.2f} s | {ratio} | {f['multiple_of_matmul_limit']:.2f} | {memory} | "
                         f"{f['test_accuracy']:.1%} |")
    inference = report.get("inference") or {}
    table = ["| system | one image (latency) | batch of 1,000 (images/s) |", "|---|---:|---:|"]
    table += [f"| {name} | {v['batch_1']['latency_ms']:.3f} ms | {v['batch_1000']['images_per_second']:,.0f} |"
              for name, v in inference.items()]
    middle = rows.get("128") or next(iter(rows.values()))
    torch, ours = middle["systems"].get("pytorch"), middle["systems"].get(reference)
    headline = f"{torch['median_epoch_seconds'] / ours['median_epoch_seconds']:.1f}×" if torch and ours else "n/a"
    blas = report.get("blas", {})
    sweep = "(this run had no width sweep: `barenet bench --widths ...`)"
    if "sweep" in report:
        from barenet.app.bench.report import format_sweep
        sweep = (format_sweep(report).split("\n", 1)[1]
                 + "\n\n![Each system's epoch against the parameter count](../../images/results/width_sweep.png)")
    return {"speed.sweep": sweep, "speed.table": "\n".join(lines), "speed.inference": "\n".join(table), "speed.machine": _machine(report),
            "speed.data": report.get("data", "?"), "speed.epochs": str(report.get("epochs")),
            "speed.threads": str(report.get("threads")), "speed.vs_pytorch_b128": headline,
            "speed.reference": reference,
            "speed.blas": f"{blas.get('library', '?')} {blas.get('version', '')} ({blas.get('kernel', '?')} kernels)"}


def _recipe_figure(folder: Path):
    text = (folder / "report.txt").read_text()
    for key in ("test accuracy", "test mse"):
        match = re.search(rf"^{key}: ([\d.]+)", text, re.M)
        if match:
            return key.split()[1], float(match.group(1))
    return None, None


def _shown(kind, value):
    return f"{value:.2%}" if kind == "accuracy" else f"MSE {value:.4f}"


def recipe_figures() -> dict:
    """Each recipe's test figure (seed 0) and how far other seeds move it, from recipes.json where
    a run was recorded there, else from the run folder's report.txt."""
    figures, recorded = {}, (_json("recipes.json") or {}).get("recipes", {})
    folder = RESULTS / "recipes"
    for recipe in sorted(p for p in folder.iterdir() if (p / "report.txt").is_file()) if folder.is_dir() else []:
        if recipe.name not in recorded and "-seed" not in recipe.name:
            kind, value = _recipe_figure(recipe)
            if kind is not None:
                recorded.setdefault(recipe.name, {})["0"] = {"kind": kind, "figure": value}
    seeds = sorted({seed for runs in recorded.values() for seed in runs}, key=int)
    lines = ["| recipe | " + " | ".join(f"seed {s}" for s in seeds) + " | time (seed 0) |",
             "|---|" + "---:|" * (len(seeds) + 1)]
    for name, runs in sorted(recorded.items()):
        if "0" in runs:
            figures[f"recipe.{name}"] = _shown(runs["0"]["kind"], runs["0"]["figure"])
        cells = [_shown(runs[s]["kind"], runs[s]["figure"]) if s in runs else "" for s in seeds]
        seconds = runs.get("0", {}).get("seconds")
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {'' if seconds is None else f'{seconds / 60:.1f} min'} |")
    figures["recipe.table"] = "\n".join(lines)
    peers = _json("peer_baselines.json") or {}
    figures["recipe.peers"] = "\n".join(["| data | peer | test accuracy |", "|---|---|---:|"] + [
        f"| {data} | {peer} | {value:.2%} |" for data, row in peers.items() if isinstance(row, dict)
        for peer, value in row.items()])
    return figures


def scaling_figures(report) -> dict:
    lines = ["| batch | " + " | ".join(report["batches"][next(iter(report["batches"]))]) + " | Allreduce per step, in "
             "training | alone |", "|---|" + "---:|" * (len(report["batches"][next(iter(report["batches"]))]) + 2)]
    for batch, setups in report["batches"].items():
        cells = [f"{row['speedup']:.2f}× (efficiency {row['efficiency']:.2f})" for row in setups.values()]
        parallel = next((row for name, row in setups.items() if "processes" in name), {})
        lines.append(f"| {batch} | " + " | ".join(cells) + f" | {parallel.get('allreduce_ms_per_step', 0):.2f} ms | "
                     f"{parallel.get('allreduce_alone_ms', 0):.2f} ms |")
    figures = {"scaling.table": "\n".join(lines), "scaling.network": report["network"],
               "scaling.parameters": f"{report['parameters']:,}",
               "scaling.ns_per_sample_parameter": f"{report['seconds_per_sample_parameter'] * 1e9:.3f}"}
    for network, model in report.get("cost_model", {}).items():
        rows = ["| machines | bandwidth | Allreduce per step | batch where K machines break even |", "|---:|---:|---:|---:|"]
        rows += [f"| {r['machines']} | {r['gbit_s']} Gbit/s | {r['allreduce_ms']:.2f} ms | {r['batch_to_pay']:.0f} |"
                 for r in model["rows"]]
        slug = re.sub(r"[^\w.\-]+", "-", network).strip("-")
        figures[f"scaling.cost.{slug}"] = "\n".join(rows)
    return figures


def threads_figures(report) -> dict:
    situations = list(next(iter(report["seconds_per_epoch"].values())))
    lines = ["| system (threads) | " + " | ".join(situations) + " |", "|---|" + "---:|" * len(situations)]
    for key, by in report["seconds_per_epoch"].items():
        alone = by[situations[0]]
        lines.append(f"| {key} | " + " | ".join(f"{by[s]:.3f} s ({by[s] / alone:.1f}×)" for s in situations) + " |")
    figures = {"threads.table": "\n".join(lines), "threads.machine": _machine(report),
               "threads.epochs": str(report.get("epochs"))}
    mpi = report.get("mpi_train_seconds")
    if isinstance(mpi, dict) and "error" not in mpi:
        figures["threads.mpi"] = "\n".join(["| command | seconds |", "|---|---:|"] +
                                            [f"| {label} | {seconds:.1f} s |" for label, seconds in mpi.items()])
    else:
        figures["threads.mpi"] = "(not measured: mpiexec or MNIST was missing on that machine)"
    return figures


def sklearn_figures(report) -> dict:
    """barenet.sklearn beside scikit-learn: each combination's mean test score and median fit time."""
    lines = ["| data set | combination | barenet | scikit-learn | fit, barenet | fit, scikit-learn | scikit-learn ÷ barenet |",
             "|---|---|---:|---:|---:|---:|---:|"]
    ratios = []
    for row in report["rows"]:
        mine, theirs = row["barenet"], row["scikit-learn"]
        ratios.append(theirs["median_fit_s"] / mine["median_fit_s"])
        lines.append(f"| {row['dataset']} | {row['case']} | {mine['mean']:.4f} | {theirs['mean']:.4f} | "
                     f"{mine['median_fit_s']:.2f} s | {theirs['median_fit_s']:.2f} s | {ratios[-1]:.2f} |")
    largest = max(abs(row["barenet"]["mean"] - row["scikit-learn"]["mean"]) for row in report["rows"])
    return {"sklearn.table": "\n".join(lines), "sklearn.machine": _machine(report), "sklearn.seeds": str(report["seeds"]),
            "sklearn.rows": str(len(report["rows"])), "sklearn.largest_score_difference": f"{largest:.2g}",
            "sklearn.median_ratio": f"{statistics.median(ratios):.2f}",
            "sklearn.one_epoch": f"{max(report['one_epoch_weight_difference'].values()):.1e}"}


def conv_figures(report) -> dict:
    """The convolutional network's speed (benchmarks/conv_speed.py): milliseconds per step of each
    system at each batch size, as multiples of PyTorch's and of the im2col floor; memory; the profile."""
    sizes = [str(b) for b in report["batch_sizes"]]
    ms = report["ms_per_step"]
    lines = ["| system | " + " | ".join(f"batch {b}" for b in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for system, row in ms.items():
        lines.append(f"| {system} | " + " | ".join(
            f"{row[b]:.1f} ms ({row[b] / ms['pytorch'][b]:.2f}× PyTorch, {row[b] / ms['im2col floor'][b]:.2f}× floor)"
            for b in sizes) + " |")
    memory = ["| backend | peak a step allocates | held after each of three epochs |", "|---|---:|---:|"]
    memory += [f"| {system} | {m['peak_bytes_per_step'] / 2**20:.0f} MiB | "
               + ", ".join(f"{h / 1024:.1f} KiB" for h in m["held_after_each_epoch"]) + " |"
               for system, m in report["memory"].items()]
    profile = []
    for system, parts in report["profile"].items():
        total = sum(parts.values())
        profile += [f"**{system}**", "", "| part | ms | share |", "|---|---:|---:|"]
        profile += [f"| {name} | {value:.2f} | {value / total:.0%} |" for name, value in parts.items() if value >= 0.05]
        profile += [f"| **a whole step** | **{total:.1f}** | |", ""]
    return {"conv.table": "\n".join(lines), "conv.memory": "\n".join(memory), "conv.profile": "\n".join(profile),
            "conv.machine": _machine(report), "conv.threads": str(report["threads"]),
            "conv.steps": str(report["steps"]), "conv.rounds": str(report["rounds"] - 1),
            "conv.profile_batch": str(report["profile_batch_size"])}


def draw_figures(report) -> dict:
    """The draw page's models: drawings read, file size and answer time (benchmarks/draw_model.py)."""
    lines = ["| model | drawings read (of 300) | file | answer of barenet serve (PNG to /api/predict) | network alone, "
             "in Python | static export, in Chromium |", "|---|---:|---:|---:|---:|---:|"]
    found = {"draw.machine": _machine(report)}
    for name, m in report["models"].items():
        lines.append(f"| {name}: {m['description']} | {m['accuracy']:.1%} ({m['read']}) | {m['file_bytes'] / 1e3:,.0f} kB "
                     f"| {m['answer_ms']:.1f} ms | {m['network_ms']:.2f} ms | "
                     + ("not measured |" if m.get("browser_ms") is None else f"{m['browser_ms']:.1f} ms |"))
        found.update({f"draw.{name}.accuracy": f"{m['accuracy']:.1%}", f"draw.{name}.kb": f"{m['file_bytes'] / 1e3:,.0f} kB",
                      f"draw.{name}.answer": f"{m['answer_ms']:.1f} ms"})
    found["draw.table"] = "\n".join(lines)
    return found


def profile_figures(report) -> dict:
    """Where a numba training step's time goes, as multiples of its matmul limit, at every width
    (benchmarks/step_profile.py --record)."""
    lines = ["| network | batch | step | Dense | update | norm | rest |", "|---|---:|---:|---:|---:|---:|---:|"]
    for case in report["cases"]:
        g = case["grouped"]
        limit = g["matmul limit"]
        rest = g["activations"] + g["loss"] + g["gather"]
        lines.append(f"| {case['network']} | {case['batch_size']} | **{g['whole step'] / limit:.2f}**<br>"
                     f"{g['whole step'] / 1e3:.2f} ms | {g['dense layers'] / limit:.2f} | {g['update'] / limit:.2f} | "
                     f"{g['grad norm'] / limit:.2f} | {rest / limit:.2f} |")
    return {"profile.table": "\n".join(lines), "profile.machine": _machine(report), "profile.steps": str(report["steps"])}


def figures() -> dict:
    """{name: the figure as text (a table as Markdown)} from every results file present."""
    found = {}
    speed = _json("results.json")
    if speed:
        found.update(speed_figures(speed))
    found.update(recipe_figures())
    conv = _json("conv_speed.json")
    if conv:
        found.update(conv_figures(conv))
    threads = _json("threads.json")
    if threads:
        found.update(threads_figures(threads))
    parity = _json("sklearn_parity.json")
    if parity and "rows" in parity:
        found.update(sklearn_figures(parity))
    profile = _json("step_profile.json")
    if profile:
        found.update(profile_figures(profile))
    drawn = _json("draw_model.json")
    if drawn:
        found.update(draw_figures(drawn))
    scaling = _json("mpi_scaling.json")
    if scaling:
        found.update(scaling_figures(scaling))
    return found


def plots() -> dict:
    """{file name: a function that draws the plot as PNG bytes} for every plot a results file
    holds the data of: the site's build draws them (``docs/hooks.py``) into ``images/results/``."""
    speed = _json("results.json")
    if not speed:
        return {}
    from barenet.app.bench.report import plot, plot_sweep

    def drawn(draw):
        def png():
            import io
            buffer = io.BytesIO()
            draw(speed, buffer)
            return buffer.getvalue()
        return png
    found = {"epoch_times.png": drawn(plot)}
    if "sweep" in speed:
        found["width_sweep.png"] = drawn(plot_sweep)
    return found


def refresh_readme(text: str, values: dict) -> str:
    def put(match):
        name = match.group(2)
        if name not in values:
            raise KeyError(f"the README shows {name!r}, which no results file gives")
        return f"{match.group(1)}{values[name]}{match.group(4)}"
    return README_FIGURE.sub(put, text)


if __name__ == "__main__":
    values = figures()
    if sys.argv[1:] == ["--readme"]:
        readme = ROOT / "README.md"
        readme.write_text(refresh_readme(readme.read_text(), values))
    else:
        for name, value in values.items():
            print(f"{name}: {value}")
