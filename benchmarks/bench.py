"""Run the speed benchmark from a source checkout: ``python benchmarks/bench.py --help``.

The implementation lives in ``barenet.bench`` so that ``barenet bench`` works from any install.
"""
import sys

from barenet.bench import main

if __name__ == "__main__":
    sys.exit(main())
