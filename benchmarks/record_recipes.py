"""Run recipes and record their test figures: the source of the recipes page's figures.

    python benchmarks/record_recipes.py mnist-10k digits --seeds 0,1,2

Each recipe runs as ``barenet train --recipe NAME --seed S`` does (``app.runs.train_run``); its run
folder's report, config, histories and learning curves are copied to
``benchmarks/results/recipes/<name>`` (seed 0) or ``<name>-seed<S>``, and its test figure, time and
epochs go into ``benchmarks/results/recipes.json`` beside the machine, the versions and the date.
Every choice a recipe makes was made on a validation split before; this measures each once.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from barenet.app import runs
from barenet.app.recipes import RECIPES
from barenet.core.backend import backend_named
from barenet.files.atomic import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def record(name: str, seed: int) -> dict:
    config = runs.RunConfig.from_dict({**RECIPES[name], "recipe": name, "seed": seed})
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        model, report = runs.train_run(config, Path(folder) / "run", verbose=0, log=lambda line: None)
        seconds = time.perf_counter() - started
        keep = RESULTS / "recipes" / (name if seed == 0 else f"{name}-seed{seed}")
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        for path in Path(folder, "run").rglob("*"):
            if path.suffix in (".txt", ".png") and path.name.startswith(("report", "learning_curves")) \
                    or path.name in ("config.json", "history.json"):
                target = keep / ("-".join(path.relative_to(Path(folder, "run")).parts))
                shutil.copy(path, target)
    test = report["test"]
    kind = "accuracy" if "accuracy" in test else "mse"
    return {"figure": float(test[kind]), "kind": kind, "seconds": seconds, "epochs": config.epochs,
            "backend": backend_named(config.backend).name, **{k: float(v) for k, v in test.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args(argv)
    path = RESULTS / "recipes.json"
    mine = {}  # what this run recorded: merged into the file as it is when written, so that two runs
    for name in args.recipes:  # recording other recipes at the same time keep each other's figures
        for seed in (int(s) for s in args.seeds.split(",")):
            figures = record(name, seed)
            mine.setdefault(name, {})[str(seed)] = figures
            print(f"{name} seed {seed}: {figures['kind']} {figures['figure']:.4f} in {figures['seconds']:.0f} s "
                  f"{json.dumps(figures)}", flush=True)
            results = json.loads(path.read_text()) if path.is_file() else {"recipes": {}}
            for recipe, seeds in mine.items():
                results["recipes"].setdefault(recipe, {}).update(seeds)
            results.update(date=time.strftime("%Y-%m-%d"), machine={
                "processor": platform.processor() or platform.machine(), "cores": __import__("os").cpu_count(),
                "python": platform.python_version(), "numpy": np.__version__})
            with atomic_write(path, "w") as handle:  # a recording stopped mid-write leaves the file as it was
                handle.write(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
