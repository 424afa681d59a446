"""Malformed users' models never crash: every mutant converts or exits 4/5 with one line.

Per source format, a tiny model built here is mutated deterministically (truncations, byte
flips, JSON field deletions) and converted in-process to the cheapest target (onnx).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_runner import run

MUTANTS = 50
ALLOWED = {0, 4, 5}


def byte_mutants(data: bytes, seed: int) -> list[bytes]:
    """Truncations, byte flips and a few whole-file oddities, the same on every run."""
    rng = np.random.default_rng(seed)
    out = [b"", data[:1], data[:16], b"\0" * len(data), data + data[: len(data) // 3]]
    for cut in np.linspace(0.05, 0.98, 20):
        out.append(data[: int(len(data) * cut)])
    while len(out) < MUTANTS:
        mutant = bytearray(data)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 9))):
            mutant[pos] ^= int(rng.integers(1, 256))
        out.append(bytes(mutant))
    return out[:MUTANTS]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


def json_mutants(text: str, seed: int) -> list[str]:
    """Field deletions, values swapped for the wrong type, and truncations of model.json."""
    rng = np.random.default_rng(seed)
    model = json.loads(text)
    paths = _paths(model)
    out = [text[: int(len(text) * f)] for f in (0.0, 0.1, 0.5, 0.9, 0.99)] + ["[]", "null", "{}"]
    while len(out) < MUTANTS:
        mutant = json.loads(text)
        path = paths[int(rng.integers(len(paths)))]
        parent = mutant
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.6:
            del parent[path[-1]]
        else:
            parent[path[-1]] = [None, "x", -1, 1e9, {}, []][int(rng.integers(6))]
        out.append(json.dumps(mutant))
    return out[:MUTANTS]


def check(code: int, err: str, out_dir: Path, label: str) -> None:
    assert code in ALLOWED, f"{label}: exit {code}: {err}"
    assert "Traceback" not in err, f"{label}: {err}"
    if code:
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, f"{label}: {err!r}"
        assert not any(out_dir.rglob("*")), f"{label}: left {list(out_dir.rglob('*'))}"


def fuzz(write: Callable[[Path, bytes], Path], data: bytes, argv: list[str], tmp_path: Path,
         capsys: pytest.CaptureFixture[str], seed: int, target: str = "onnx",
         pick: slice = slice(None)) -> dict[int, int]:
    """`target`: the cheapest for the format (no converter child process); `pick`: which of
    the MUTANTS mutants to run (a format's minor parts and files without checksums get fewer)."""
    codes: dict[int, int] = {}
    for index, mutant in enumerate(byte_mutants(data, seed)[pick]):
        work = tmp_path / f"m{index}"
        work.mkdir(parents=True)
        model = write(work, mutant)
        out_dir = work / "out"
        code, _, err = run(["convert", str(model), *argv, "--no-sanity", "--target", target, "--out", str(out_dir)],
                           capsys)
        check(code, err, out_dir, f"mutant {index}")
        codes[code] = codes.get(code, 0) + 1
        shutil.rmtree(work)
    print(f"exit codes: {codes}")
    return codes


def test_onnx_mutants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_user_models import tiny_upscaler_onnx

    data = tiny_upscaler_onnx(tmp_path / "seed.onnx").read_bytes()

    def write(work: Path, mutant: bytes) -> Path:
        (work / "up.onnx").write_bytes(mutant)
        return work / "up.onnx"

    codes = fuzz(write, data, ["--task", "upscale"], tmp_path, capsys, seed=1)
    assert codes.get(0) and (codes.get(4) or codes.get(5)), codes


def tiny_frozen_pb() -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(2)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, None, name="image")  # unknown rank, as FSRCNN
        w = tf.constant(rng.normal(0, 0.3, (3, 3, 1, 4)).astype(np.float32))
        y = tf.nn.depth_to_space(tf.nn.conv2d(x, w, 1, "SAME"), 2)
        tf.identity(y, name="out")
    return graph.as_graph_def().SerializeToString()


def test_frozen_pb_mutants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def write(work: Path, mutant: bytes) -> Path:
        (work / "sr.pb").write_bytes(mutant)
        return work / "sr.pb"

    codes = fuzz(write, tiny_frozen_pb(), ["--task", "upscale", "--input-shape", "1,16,16,1"],
                 tmp_path, capsys, seed=2, target="tflite")
    assert codes.get(4), codes


def tiny_tflite() -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 12)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="image")])
    def up(x: Any) -> Any:
        return tf.nn.depth_to_space(tf.nn.conv2d(x, w, 1, "SAME"), 2)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([up.get_concrete_function()], up)
    return bytes(converter.convert())


def test_tflite_mutants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def write(work: Path, mutant: bytes) -> Path:
        (work / "sr.tflite").write_bytes(mutant)
        return work / "sr.tflite"

    codes = fuzz(write, tiny_tflite(), ["--task", "upscale"], tmp_path, capsys, seed=3,
                 target="tflite")
    assert codes.get(4), codes


def test_tfjs_json_and_bin_mutants(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_tfjs import layers_weights, tiny_keras, write_tfjs

    keras = tiny_keras()
    topology = {"model_config": json.loads(keras.to_json())}
    seed_json = write_tfjs(tmp_path / "seed", topology, "layers-model", layers_weights(keras), shards=1)
    text, shard = seed_json.read_text(), (seed_json.parent / "group1-shard1of1.bin").read_bytes()
    argv = ["--task", "upscale", "--input-shape", "1,8,8,3"]
    codes: dict[int, int] = {}
    for index, mutant in enumerate(json_mutants(text, seed=4)):
        work = tmp_path / f"j{index}"
        shutil.copytree(seed_json.parent, work)
        (work / "model.json").write_text(mutant)
        code, _, err = run(["convert", str(work / "model.json"), *argv, "--no-sanity", "--target", "tflite",
                            "--out", str(work / "out")], capsys)
        check(code, err, work / "out", f"json mutant {index}")
        codes[code] = codes.get(code, 0) + 1
        shutil.rmtree(work)

    def write(work: Path, mutant: bytes) -> Path:
        (work / "model.json").write_text(text)
        (work / "group1-shard1of1.bin").write_bytes(mutant)
        return work / "model.json"

    # the shard has no checksum: byte flips load as valid weights, each a whole conversion
    for code, count in fuzz(write, shard, argv, tmp_path / "bin", capsys, seed=5, target="tflite",
                            pick=slice(30)).items():
        codes[code] = codes.get(code, 0) + count
    assert codes.get(4), codes


def _functional(*layers: tuple[str, str, list[Any]]) -> dict[str, Any]:
    return {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": c, "name": n, "config": {"name": n} | ({"batch_input_shape": [None, 4]} if i == [] else {}),
         "inbound_nodes": i} for n, c, i in layers],
        "input_layers": [["x", 0, 0]], "output_layers": [["b", 0, 0]]}}


@pytest.mark.parametrize("layers", [
    [("x", "InputLayer", []), ("a", "ReLU", [[["b", 0, 0, {}]]]), ("b", "ReLU", [[["a", 0, 0, {}]]])],
    [("x", "InputLayer", []), ("a", "ReLU", []), ("b", "ReLU", [[["a", 0, 0, {}]]])],
    [("x", "InputLayer", []), ("a", "ReLU", [[["x", 0, 0, {}]]]), ("b", "ReLU", [[["a", 1, 0, {}]]])],
    [("x", "InputLayer", []), ("b", "ReLU", [[["x", 0, 0, {"mask": ["b", 0, 0]}]]])],
], ids=["cycle", "never-called", "node-past-calls", "kwarg-on-itself"])
def test_tfjs_topology_that_tf_keras_would_loop_on_is_refused(layers: list[Any]) -> None:
    """Shapes the fuzz does not reach: each made tf_keras's model_from_json spin forever."""
    from edgephoto.convert.sources.tfjs_topology import check_topology
    from edgephoto.errors import InputFileError

    with pytest.raises(InputFileError, match="no layer call makes"):
        check_topology(Path("model.json"), _functional(*layers))
    check_topology(Path("model.json"), _functional(("x", "InputLayer", []), ("a", "ReLU", [[["x", 0, 0, {}]]]),
                                                   ("b", "ReLU", [[["a", 0, 0, {}]]])))


# --- SavedModel, Keras, PyTorch: formats the CLI reads with --input-shape and --outputs --------


@pytest.fixture(scope="session")
def seed_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A x2 sub-pixel upscaler SavedModel whose serving_default takes `input`, gives `out`."""
    import tensorflow as tf

    rng = np.random.default_rng(6)
    module = tf.Module()
    module.w = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, 12)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="input")])
    def serve(x: Any) -> dict[str, Any]:
        return {"out": tf.nn.depth_to_space(tf.nn.conv2d(x, module.w, 1, "SAME"), 2)}

    module.serve = serve
    root = tmp_path_factory.mktemp("seed") / "sr_savedmodel"
    tf.saved_model.save(module, str(root), signatures={"serving_default": serve.get_concrete_function()})
    return root


def test_savedmodel_mutants(seed_savedmodel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The graph gets all 50 mutants; the checkpoint index and data a third each (17)."""
    argv = ["--task", "upscale", "--input-shape", "1,16,16,3", "--outputs", "out"]
    codes: dict[int, int] = {}
    for seed, part in enumerate(("saved_model.pb", "variables/variables.index",
                                 "variables/variables.data-00000-of-00001")):
        def write(work: Path, mutant: bytes, part: str = part) -> Path:
            shutil.copytree(seed_savedmodel, work / "sr_savedmodel")
            (work / "sr_savedmodel" / part).write_bytes(mutant)
            return work / "sr_savedmodel"

        data = (seed_savedmodel / part).read_bytes()
        pick = slice(None) if part == "saved_model.pb" else slice(None, None, 3)
        for code, count in fuzz(write, data, argv, tmp_path / str(seed), capsys, seed=6 + seed,
                                pick=pick).items():
            codes[code] = codes.get(code, 0) + count
    assert codes.get(4), codes


def _tiny_keras_model() -> Any:
    import tf_keras

    rng = np.random.default_rng(7)
    x = tf_keras.Input((16, 16, 3), batch_size=1, name="input")
    y = tf_keras.layers.Conv2D(12, 3, padding="same", name="conv")(x)
    y = tf_keras.layers.UpSampling2D(2, name="up")(tf_keras.layers.Conv2D(3, 1, name="mix")(y))
    model = tf_keras.Model(x, y, name="tiny")
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.weights])
    return model


@pytest.fixture(scope="session")
def seed_keras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The same tiny upscaler as a .keras zip and as a legacy .h5 file."""
    root, model = tmp_path_factory.mktemp("seed"), _tiny_keras_model()
    files = {}
    for suffix in (".keras", ".h5"):
        model.save(str(root / f"up{suffix}"))
        files[suffix] = (root / f"up{suffix}").read_bytes()
    return files


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_mutants(suffix: str, seed_keras: dict[str, bytes], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    def write(work: Path, mutant: bytes) -> Path:
        (work / f"up{suffix}").write_bytes(mutant)
        return work / f"up{suffix}"

    # .h5 files carry no checksum: most byte flips load as a valid model and each costs a whole
    # conversion (~12 s), so .h5 adds 30 mutants (5 flips) to the 50 of the .keras zip
    argv = ["--task", "upscale", "--input-shape", "1,16,16,3", "--outputs", "up"]
    codes = fuzz(write, seed_keras[suffix], argv, tmp_path, capsys, seed=7,
                 pick=slice(None) if suffix == ".keras" else slice(30))
    assert codes.get(4), codes


@pytest.fixture(scope="session")
def seed_torch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A x2 sub-pixel upscaler as TorchScript (.pt) and as a torch.save'd module (.pth)."""
    import torch

    torch.manual_seed(8)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2)).eval()
    root = tmp_path_factory.mktemp("seed")
    torch.jit.save(torch.jit.trace(net, torch.rand(1, 3, 16, 16)), str(root / "up.pt"))
    torch.save(net, str(root / "up.pth"))
    return {suffix: (root / f"up{suffix}").read_bytes() for suffix in (".pt", ".pth")}


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_torch_mutants(suffix: str, seed_torch: dict[str, bytes], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    def write(work: Path, mutant: bytes) -> Path:
        (work / f"up{suffix}").write_bytes(mutant)
        return work / f"up{suffix}"

    argv = ["--task", "upscale", "--input-shape", "1,3,16,16", "--outputs", "out"]
    codes = fuzz(write, seed_torch[suffix], argv, tmp_path, capsys, seed=8)
    assert codes.get(4), codes
