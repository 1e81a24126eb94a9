"""Named, reproducible training configurations: ``barenet train --recipe NAME``.

Each recipe is a set of ``barenet.runs.RunConfig`` settings, chosen on a validation split (never
on the test set). The README's Recipes table gives the test figure each reached in a recorded
run, and how to run it from Python.
"""

RECIPES = {
    "digits": dict(dataset="digits", hidden=[256, 128], dropout=0.2, epochs=60, batch_size=32, lr=2e-3,
                   schedule="cosine", label_smoothing=0.05),
    "clusters": dict(dataset="clusters", hidden=[32, 32], epochs=40, batch_size=64, lr=3e-3, schedule="cosine"),
    "regression": dict(dataset="regression", hidden=[256, 256], epochs=80, batch_size=128, lr=1e-3,
                       schedule="cosine"),
    "fashion-mnist": dict(dataset="fashion-mnist", hidden=[1024, 512], dropout=0.3, epochs=30, batch_size=128,
                          lr=1e-3, schedule="cosine", warmup=1, label_smoothing=0.1),
    "mnist-10k": dict(dataset="mnist", hidden=[1024, 512], dropout=0.2, augment=True, epochs=60, batch_size=128,
                      lr=1e-3, schedule="cosine", warmup=1, label_smoothing=0.1, ensemble=3),
}
