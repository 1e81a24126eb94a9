"""Run the speed benchmark from a source checkout: ``python benchmarks/bench.py --help``.

The implementation lives in ``barenet.app.bench`` so that ``barenet bench`` works from any install.
"""
import sys

from barenet.app.bench import main

if __name__ == "__main__":
    sys.exit(main())
