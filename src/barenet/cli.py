"""The ``barenet`` command line."""
from __future__ import annotations

import argparse
import sys


def _train(args) -> int:
    import barenet as bn

    X, y = bn.datasets.make_clusters(3000, seed=args.seed)
    X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.25, stratify=y, seed=args.seed)
    model = bn.Sequential(bn.Dense(2, 64), bn.ReLU(), bn.Dense(64, 3), seed=args.seed)
    model.fit(X_train, y_train, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=args.epochs,
              batch_size=64, validation_split=0.1, verbose=1)
    print(f"test accuracy: {model.evaluate(X_test, y_test)['accuracy']:.4f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="barenet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on the three-cluster problem")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
