"""What ``barenet bench`` reports: the tables, the plot, the flags, and the machine's description."""
from __future__ import annotations

import platform

import numpy as np

from .systems import REQUIRES


def processor():
    """Return the processor's model name (/proc/cpuinfo; else what ``platform`` says)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(names):
    """Return {module: version} of the peers among ``names``, and Keras's backend where Keras runs."""
    versions = {}
    for name in names:
        module = REQUIRES.get(name)
        if module:
            versions[module] = getattr(__import__(module), "__version__", "?")
    if "keras" in names:
        import keras
        versions["keras_backend"] = keras.backend.backend()
    return versions


def format_table(report: dict) -> str:
    """Return the training results as a Markdown table: a row per batch size and system, and the matmul limit's."""
    reference = report.get("reference") or "barenet"
    lines = [f"| batch | system | epoch (s), median | first → last (s) | growth | {reference} ÷ system "
             f"| × matmul limit | peak RSS, epoch 1 / 2 (MiB) | test accuracy |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for batch, entry in report["training"].items():
        for name, row in entry["systems"].items():
            memory = "–" if row.get("peak_rss_mib") is None else \
                f"{row['peak_rss_mib']:.0f} / {row['peak_rss_mib_later']:.0f}"
            ratio = f"{row['reference_over_system']:.2f}" if row.get("reference_over_system") else "–"
            flag = " ⚠ grows" if row["grows"] else ""
            lines.append(f"| {batch} | {name} | {row['median_epoch_seconds']:.2f} | {row['first_epoch_seconds']:.2f} → "
                         f"{row['last_epoch_seconds']:.2f} | {row['growth']:+.0%}{flag} | {ratio} | "
                         f"{row['multiple_of_matmul_limit']:.2f} | {memory} | {row['test_accuracy']:.4f} |")
        limits = entry["matmul_limit_epoch_seconds"]
        lines.append(f"| {batch} | *matmul limit* | {entry['matmul_limit_seconds']:.2f} | {limits[0]:.2f} → "
                     f"{limits[-1]:.2f} | {entry['machine_drift']:+.0%} | | 1.00 | | |")
    return "\n".join(lines)


def format_inference(inference: dict) -> str:
    """Return the inference results as a Markdown table: a row per system."""
    lines = ["| system | batch 1 (images/s) | batch 1 latency (ms) | batch 1,000 (images/s) |", "|---|---:|---:|---:|"]
    for name, row in inference.items():
        lines.append(f"| {name} | {row['batch_1']['images_per_second']:,.0f} | {row['batch_1']['latency_ms']:.3f} | "
                     f"{row['batch_1000']['images_per_second']:,.0f} |")
    return "\n".join(lines)


def plot(report, path):
    """Plot each system's median epoch as a multiple of the matmul limit, per batch size, to ``path``.

    Bars on a log scale: the systems span a factor of 20.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = list(report["training"])
    names = list(report["training"][batches[0]]["systems"])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [report["training"][b]["systems"][name]["multiple_of_matmul_limit"] for b in batches]
        bars = ax.bar(np.arange(len(batches)) + i * width, values, width, label=name)
        ax.bar_label(bars, [f"{v:.1f}" for v in values], fontsize=7, padding=1)
    ax.axhline(1.0, color="0.4", linewidth=1)
    ax.set_yscale("log")
    ax.set_ylim(0.8, 4 * max(row["multiple_of_matmul_limit"] for b in batches
                             for row in report["training"][b]["systems"].values()))
    ax.set_xticks(np.arange(len(batches)) + width * (len(names) - 1) / 2, [f"batch {b}" for b in batches])
    ax.set_ylabel(f"epoch time ÷ matmul limit (median of {report['epochs']})")
    ax.set_title(f"784-256-128-10 MLP, Adam, {report['data'].split(' (')[0]}, {report['threads']} threads "
                 f"(1 = the matrix products alone)", fontsize=10)
    ax.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def flagged(report) -> list:
    """Return a line for each system and batch size (and width of the sweep) whose epochs grew.

    Grew: by more than ``GROWTH_LIMIT`` beyond the machine's own drift (``measure.growth``).
    """
    runs = [(f"batch {batch}", entry) for batch, entry in report["training"].items()]
    runs += [(f"width {width}", entry) for width, entry in report.get("sweep", {}).get("widths", {}).items()]
    return [f"{name} at {where} ({row['growth']:+.0%}, the machine {entry['machine_drift']:+.0%})"
            for where, entry in runs for name, row in entry["systems"].items() if row["grows"]]


def format_sweep(report: dict) -> str:
    """Return the width sweep as Markdown tables: training, then inference, at each width.

    Each system's epoch as a multiple of the matmul limit and of PyTorch's; its inference latency
    and throughput, and its time at batch 1,000 as a multiple of PyTorch's.
    """
    sweep = report["sweep"]
    lines = [f"width sweep: 784-w-w-10 at batch {sweep['batch_size']} on {sweep['train_size']:,} images",
             "| width | parameters | system | epoch (s), median | growth | × matmul limit | × PyTorch |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for width, entry in sweep["widths"].items():
        for name, row in entry["systems"].items():
            torch = "–" if row.get("multiple_of_pytorch") is None else f"{row['multiple_of_pytorch']:.2f}"
            flag = " ⚠ grows" if row["grows"] else ""
            lines.append(f"| {width} | {entry['parameters']:,} | {name} | {row['median_epoch_seconds']:.2f} | "
                         f"{row['growth']:+.0%}{flag} | {row['multiple_of_matmul_limit']:.2f} | {torch} |")
        lines.append(f"| {width} | {entry['parameters']:,} | *matmul limit* | {entry['matmul_limit_seconds']:.2f} | "
                     f"{entry['machine_drift']:+.0%} | 1.00 | |")
    lines += ["", "inference across the widths:",
              "| width | system | batch 1 latency (ms) | batch 1,000 (images/s) | batch 1,000 × PyTorch's time |",
              "|---:|---|---:|---:|---:|"]
    for width, entry in sweep["widths"].items():
        torch = entry["inference"].get("pytorch")
        for name, row in entry["inference"].items():
            ratio = "–" if torch is None else \
                f"{torch['batch_1000']['images_per_second'] / row['batch_1000']['images_per_second']:.2f}"
            lines.append(f"| {width} | {name} | {row['batch_1']['latency_ms']:.3f} | "
                         f"{row['batch_1000']['images_per_second']:,.0f} | {ratio} |")
    return "\n".join(lines)


def plot_sweep(report, path):
    """Plot the width sweep to ``path``, against the network's parameter count.

    Each system's epoch as a multiple of the matmul limit (left) and of PyTorch's epoch (right).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = report["sweep"]
    widths = list(sweep["widths"])
    counts = [sweep["widths"][w]["parameters"] for w in widths]
    names = list(sweep["widths"][widths[0]]["systems"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, key, label in ((axes[0], "multiple_of_matmul_limit", "epoch time ÷ matmul limit"),
                           (axes[1], "multiple_of_pytorch", "epoch time ÷ PyTorch's")):
        for name in names:
            values = [sweep["widths"][w]["systems"][name].get(key) for w in widths]
            if None not in values:
                ax.plot(counts, values, marker="o", label=name)
        ax.axhline(1.0, color="0.4", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts, [f"{c / 1e6:.2g}M\nw={w}" for c, w in zip(counts, widths)])
        ax.minorticks_off()
        low, high = ax.get_ylim()  # a log axis of less than a decade: its values written out
        ticks = [t for t in (0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20) if low <= t <= high]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlabel("parameters (784-w-w-10)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Width sweep: Adam, batch {sweep['batch_size']}, {sweep['train_size']:,} images, "
                 f"{report['threads']} threads (median of {report['epochs']} epochs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
