"""ios_demo has no Swift compiler here: every Swift file must parse with tree-sitter-swift (no
ERROR or MISSING node), and the tensor names, sizes and image colour spaces the Swift code feeds
(ios_demo's ModelCatalog, the only place they live) must be the ones the converter writes: the
coreml artifact's manifest.json and its .mlpackage spec (image input, colour space, size or size
range, output name). Artifacts: $IOS_ARTIFACTS (scripts/ios_check.sh converts them), else
converted in this session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ts = pytest.importorskip("tree_sitter", reason="tree-sitter==0.26.1: installed by scripts/ios_check.sh")
swift = pytest.importorskip("tree_sitter_swift", reason="tree-sitter-swift==0.7.4: installed by scripts/ios_check.sh")

IOS = Path(__file__).resolve().parents[2] / "ios_demo"
CATALOG = IOS / "EdgePhotoCore/Sources/EdgePhotoCore/ModelCatalog.swift"
SWIFT_FILES = sorted(IOS.rglob("*.swift"))
PARSER = ts.Parser(ts.Language(swift.language()))


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node as 'line:col kind text'."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if node.is_error or node.is_missing:
            kind = f"missing {node.type}" if node.is_missing else "error"
            found.append(f"{node.start_point.row + 1}:{node.start_point.column + 1} {kind} {node.text[:40]!r}")
        if node.has_error:
            for child in node.children:
                walk(child)

    walk(PARSER.parse(source).root_node)
    return found


def test_there_is_swift_to_check() -> None:
    names = {p.name for p in SWIFT_FILES}
    assert {"Package.swift", "ModelCatalog.swift", "CoreMLRunner.swift", "ContentView.swift"} <= names


@pytest.mark.parametrize("path", SWIFT_FILES, ids=[str(p.relative_to(IOS)) for p in SWIFT_FILES])
def test_swift_file_parses(path: Path) -> None:
    assert syntax_errors(path.read_bytes()) == []


@pytest.mark.parametrize("broken", [b"func f( { }\n", b"struct A { let x: Int\n", b"let x = [1, 2\n"])
def test_the_syntax_check_can_fail(broken: bytes) -> None:
    assert syntax_errors(broken)


def _literal(node: Any) -> Any:
    text = node.text.decode()
    if node.type == "line_string_literal":
        return text.strip('"')
    if node.type == "integer_literal":
        return int(text)
    if text == "nil":
        return None
    if node.type == "prefix_expression":  # .rgb -> the ImageColor raw value
        return {".rgb": "RGB", ".grayscale": "GRAYSCALE"}[text]
    raise AssertionError(f"unexpected catalog value {text!r} ({node.type})")


def catalog() -> dict[str, dict[str, Any]]:
    """Every ModelEntry(...) call of ModelCatalog.swift as {label: value}, keyed by model."""
    entries: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if node.type == "call_expression" and node.children[0].text == b"ModelEntry":
            args = {}
            for arg in node.children[1].children[0].children:
                if arg.type == "value_argument":
                    args[arg.child_by_field_name("name").text.decode()] = _literal(arg.child_by_field_name("value"))
            entries[args["model"]] = args
        for child in node.children:
            walk(child)

    walk(PARSER.parse(CATALOG.read_bytes()).root_node)
    return entries


MODELS = sorted(catalog())


def test_catalog_lists_the_demo_models() -> None:
    assert MODELS == ["fastdepth", "fsrcnn-x2", "selfie"]


@pytest.fixture(scope="module")
def coreml_artifact(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Path]]:
    given = os.environ.get("IOS_ARTIFACTS")
    if given:
        yield lambda model: Path(given) / model / "coreml-fp32"
        return
    pytest.importorskip("coremltools")
    build = request.getfixturevalue("zoo_artifacts")

    def convert(model: str) -> Path:
        result = build(model, ("coreml",))["coreml"]
        assert result.ok, result.error
        return Path(result.path)

    yield convert


def _spec(directory: Path, model: str) -> Any:
    import coremltools as ct

    return ct.utils.load_spec(str(directory / f"{model}.mlpackage"))


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_catalog_matches_the_coreml_artifact(model: str, coreml_artifact: Callable[[str], Path]) -> None:
    entry = catalog()[model]
    directory = coreml_artifact(model)
    manifest = json.loads((directory / "manifest.json").read_text())
    (tensor_in,), (tensor_out,) = manifest["inputs"], manifest["outputs"]
    assert (manifest["model"], manifest["task"], manifest["target"]) == (model, entry["task"], "coreml")
    assert (tensor_in["name"], tensor_out["name"]) == (entry["input"], entry["output"])
    assert tensor_in["layout"] == tensor_out["layout"] == "NHWC"  # CoreMLRunner reads (1, H, W, C)
    assert tuple(tensor_in["shape"][1:3]) == (entry["inputHeight"], entry["inputWidth"])
    assert tensor_out["shape"][3] == entry["outputChannels"]
    assert manifest.get("scale", 1) == entry["scale"]
    color = (tensor_in.get("normalization") or {}).get("color", "RGB")
    assert ("GRAYSCALE" if color == "Y" else "RGB") == entry["color"]
    assert any(f["path"].startswith(f"{model}.mlpackage/") for f in manifest["files"])

    spec = _spec(directory, model)
    inputs = {f.name: f for f in spec.description.input}
    outputs = {f.name: f for f in spec.description.output}
    assert list(inputs) == [entry["input"]], "CoreMLRunner feeds exactly one image input"
    feature = inputs[entry["input"]]
    assert feature.type.WhichOneof("Type") == "imageType"
    image = feature.type.imageType
    assert {10: "GRAYSCALE", 20: "RGB", 30: "BGR"}[image.colorSpace] == entry["color"]
    if entry["inputHeight"] is None:  # open H/W: a size range the app's photos fit in
        ranges = image.imageSizeRange
        assert ranges.heightRange.upperBound >= 2048 and ranges.widthRange.upperBound >= 2048
    else:
        assert (image.height, image.width) == (entry["inputHeight"], entry["inputWidth"])
    assert entry["output"] in outputs
    out = outputs[entry["output"]].type
    assert out.WhichOneof("Type") == "multiArrayType"
    if out.multiArrayType.shape:
        assert list(out.multiArrayType.shape)[-1] == entry["outputChannels"]


def test_tensor_names_live_only_in_the_catalog() -> None:
    """The code that talks to Core ML takes names from ModelCatalog, never from its own literals."""
    names = {e[k] for e in catalog().values() for k in ("input", "output")}
    engine_code = [p for p in SWIFT_FILES if "import CoreML" in p.read_text()]
    assert len(engine_code) >= 2  # the runner and the app's artifact loader
    for path in engine_code:
        text = path.read_text()
        assert not [n for n in names if f'"{n}"' in text], f"{path.name} spells a tensor name: use ModelCatalog"
