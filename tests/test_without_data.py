"""The suite on a machine without MNIST and Fashion-MNIST, and with no download allowed: the tests
that read a data set are skipped, each saying which data set it wanted, and nothing fails.

(Every other test already runs without the data: the suite's conftest points BARENET_DATA at an
empty folder and forbids downloads for any test not marked ``@pytest.mark.data``.)"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

TESTS = Path(__file__).resolve().parent


@pytest.mark.slow
def test_the_tests_that_read_a_data_set_are_skipped_by_name_where_it_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BARENET_DATA"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), BARENET_OFFLINE="1", BARENET_TEST_NO_SYSTEM_DATA="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "data", "-rs", "-p", "no:cacheprovider",
                           str(TESTS)], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    skipped = int(re.search(r"(\d+) skipped", summary).group(1))
    assert skipped >= 8 and "passed" not in summary and "failed" not in summary and "error" not in summary, summary
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons and all(re.search(r"(MNIST|Fashion-MNIST) is not on this machine", line) for line in reasons)
