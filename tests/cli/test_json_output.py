"""`--json` prints exactly one JSON document on stdout for every command, whatever the engines and
quantizers log (NNCF's INFO lines and progress bar, TensorFlow, onnx2tf): each command runs in
its own process, so output written to file descriptor 1 by any library is caught too."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MODEL = "fsrcnn-small-x2"  # ships inside the package: no download, converts in seconds


def _edgephoto(args: list[str], cache: Path) -> tuple[int, Any, str]:
    env = {**os.environ, "EDGEPHOTO_CACHE": str(cache)}
    env.pop("EDGEPHOTO_WEIGHTS_PATH", None)
    done = subprocess.run([sys.executable, "-m", "edgephoto.cli.main", *args, "--json"],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    try:
        document = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"`edgephoto {' '.join(args)} --json` stdout is not one JSON document:\n"
                    f"{done.stdout[:800]}\n--- stderr ---\n{done.stderr[-800:]}")
    return done.returncode, document, done.stderr


@pytest.mark.real
@pytest.mark.slow
def test_every_command_prints_one_json_document(tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "artifacts"
    code, listing, err = _edgephoto(["zoo", "list"], cache)
    assert code == 0 and MODEL in {m["name"] for m in listing}, err
    code, info, err = _edgephoto(["zoo", "info", MODEL], cache)
    assert code == 0 and info["name"] == MODEL, err
    code, fetched, err = _edgephoto(["zoo", "fetch", MODEL], cache)
    assert code == 0, err
    code, doctor, err = _edgephoto(["doctor"], cache)
    assert code == 0 and doctor, err
    # NNCF writes INFO lines and a progress bar to stdout unless kept off it.
    code, built, err = _edgephoto(["convert", "--model", MODEL, "--target", "openvino", "--quantize",
                                   "fp32,int8", "--max-drop", "50", "--out", str(out)], cache)
    assert code == 0, err
    assert [a["precision"] for a in built] == ["fp32", "int8"] and all(a["ok"] for a in built)
    fp32 = Path(built[0]["path"])
    code, quantized, err = _edgephoto(["quantize", str(fp32), "-p", "fp16"], cache)
    assert code == 0, err
    code, bench, err = _edgephoto(["bench", str(fp32), "--runs", "3", "--warmup", "1"], cache)
    assert code == 0 and bench, err
    code, summaries, err = _edgephoto(["run", "--steps", "exif,tone", "--out", str(tmp_path / "o")], cache)
    assert code == 0 and summaries[0]["ok"], err
    # artifacts are staged in mkdtemp directories (0700): installed, they follow the umask
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(fp32.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((fp32 / "manifest.json").stat().st_mode) == 0o666 & ~mask


@pytest.mark.real
def test_an_error_under_json_is_one_line_on_stderr_and_nothing_on_stdout(tmp_path: Path) -> None:
    env = {**os.environ, "EDGEPHOTO_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "edgephoto.cli.main", "zoo", "info", "fsrcnn-x9", "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "fsrcnn-x" in done.stderr
