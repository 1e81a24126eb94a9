"""The exported ONNX files open in runtimes other than the newest Python onnxruntime: the
JavaScript one (onnxruntime-web, its WebAssembly build run by Node, as a web page would) and an
older Python onnxruntime (1.19, which reads IR versions up to 10). Both give barenet's
probabilities on a test set to 1e-5.

CI installs both (`.ci/run`: `npm install --prefix .ci/node onnxruntime-web@1.31.1` and
`pip install --target .ci/onnxruntime-1.19 onnxruntime==1.19.2`); elsewhere these tests are
skipped, saying what to install."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import barenet as bn

onnx = pytest.importorskip("onnx")
from barenet.integrations.onnx import OPSET, to_onnx  # noqa: E402

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = Path(os.environ.get("BARENET_TEST_NODE_PREFIX", ROOT / ".ci" / "node"))
OLD_RUNTIME = Path(os.environ.get("BARENET_TEST_OLD_ONNXRUNTIME", ROOT / ".ci" / "onnxruntime-1.19"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A digits classifier (Standardizer, GELU, LeakyReLU, dropout), its file and its test set."""
    pytest.importorskip("sklearn")
    X, y = bn.datasets.load_digits()
    X_train, X_test, y_train, _ = bn.train_test_split(X, y, test_size=0.3, seed=0)
    model = bn.Sequential(bn.Standardizer().fit(X_train), bn.Dense(64, 64), bn.GELU(), bn.Dropout(0.1),
                          bn.Dense(64, 32), bn.LeakyReLU(0.1), bn.Dense(32, 10), seed=0)
    model.fit(X_train, y_train, loss="cross_entropy", epochs=5, verbose=0)
    path = tmp_path_factory.mktemp("onnx") / "digits.onnx"
    to_onnx(model, path)
    return path, model, X_test.astype(np.float32)


def test_the_file_declares_the_ir_version_of_its_opset(exported):
    proto = onnx.load(str(exported[0]))
    assert [o.version for o in proto.opset_import] == [OPSET]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(proto.opset_import) == 8


def test_onnxruntime_web_under_node_gives_barenets_probabilities(exported, tmp_path):
    node = shutil.which("node")
    if node is None or not (NODE_PREFIX / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip(f"needs Node and onnxruntime-web in {NODE_PREFIX} "
                    f"(npm install --prefix {NODE_PREFIX} --ignore-scripts onnxruntime-web@1.31.1)")
    path, model, X = exported
    (tmp_path / "node_modules").symlink_to(NODE_PREFIX / "node_modules")  # where the script's import looks
    script = tmp_path / "run.mjs"
    shutil.copy(Path(__file__).with_name("ort_web_run.mjs"), script)
    X.astype("<f4").tofile(tmp_path / "x.bin")
    done = subprocess.run([node, str(script), str(path), str(tmp_path / "x.bin"), str(len(X)), str(X.shape[1])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    probabilities = np.array(got["probabilities"]).reshape(len(X), 10)
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)


OLD = """
import sys
import numpy as np
import onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
X = np.load(sys.argv[2])
np.save(sys.argv[3], session.run(["probabilities"], {"input": X})[0])
print(onnxruntime.__version__)
"""


def test_an_older_python_onnxruntime_gives_barenets_probabilities(exported, tmp_path):
    if not (OLD_RUNTIME / "onnxruntime").is_dir():
        pytest.skip(f"needs onnxruntime 1.19 in {OLD_RUNTIME} "
                    f"(pip install --target {OLD_RUNTIME} --no-deps onnxruntime==1.19.2)")
    path, model, X = exported
    np.save(tmp_path / "x.npy", X)
    done = subprocess.run([sys.executable, "-c", OLD, str(path), str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(OLD_RUNTIME)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1.19.2"
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model.predict_proba(X), atol=1e-5)
