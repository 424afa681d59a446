"""The subpixel rewrite of UpSampling2D(nearest) -> Conv2D(3x3) is exact, borders included, and
leaves every other pattern alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("tf_keras")

from edgephoto.convert.keras_passes import subpixel_kernel, subpixel_upsample_conv  # noqa: E402


def _model(scale: int = 4, interpolation: str = "nearest", kernel: int = 3, act: str = "linear") -> Any:
    rng = np.random.default_rng(0)
    x = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="feat")(x)
    h = keras.layers.UpSampling2D(scale, interpolation=interpolation, name="up")(h)
    y = keras.layers.Conv2D(3, kernel, padding="same", activation=act, name="tail")(h)
    net = keras.Model(x, y)
    net.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in net.weights])
    return net


def _reference(features: np.ndarray, kernel: np.ndarray, bias: np.ndarray, s: int) -> np.ndarray:
    """conv3x3 'same' on the nearest-upsampled image, in float64 numpy."""
    up = np.repeat(np.repeat(features.astype(np.float64), s, 1), s, 2)
    pad = np.pad(up, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = up.shape[1:3]
    return sum(pad[:, i : i + h, j : j + w] @ kernel[i, j] for i in range(3) for j in range(3)) + bias


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rewrite_is_exact_including_borders(scale: int) -> None:
    net = _model(scale)
    new, notes = subpixel_upsample_conv(net)
    assert len(notes) == 1 and "depth_to_space" in notes[0]
    assert "up" in [layer.name for layer in new.layers]
    assert not any(type(layer) is keras.layers.UpSampling2D for layer in new.layers)
    x = np.random.default_rng(1).uniform(0, 1, (2, 7, 5, 3)).astype(np.float32)  # odd, non-square
    a, b = net(x).numpy(), new(x).numpy()
    assert a.shape == b.shape == (2, 7 * scale, 5 * scale, 3)
    feats = keras.Model(net.input, net.get_layer("feat").output)(x).numpy()
    k, bias = (w.astype(np.float64) for w in net.get_layer("tail").get_weights())
    ref = _reference(feats, k, bias, scale)
    scale_ref = np.abs(ref).max()
    assert np.abs(b - ref).max() <= 1e-5 * scale_ref  # float32 rounding only
    border = np.ones(a.shape[1:3], bool)
    border[1:-1, 1:-1] = False
    assert np.abs(a - b)[:, border].max() <= 1e-5 * scale_ref


def test_kernel_math_is_exact_in_float64() -> None:
    rng = np.random.default_rng(2)
    kernel, bias = rng.normal(size=(3, 3, 4, 3)), rng.normal(size=3)
    feats = rng.normal(size=(1, 6, 6, 4))
    lr_k, lr_b = subpixel_kernel(kernel, bias, 4)
    pad = np.pad(feats, ((0, 0), (1, 1), (1, 1), (0, 0)))
    lr = sum(pad[:, i : i + 6, j : j + 6] @ lr_k[i, j] for i in range(3) for j in range(3)) + lr_b
    # depth_to_space: out[y*s+py, x*s+px, c] = lr[y, x, (py*s+px)*C + c]
    out = lr.reshape(1, 6, 6, 4, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(1, 24, 24, 3)
    np.testing.assert_allclose(out, _reference(feats, kernel, bias, 4), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"interpolation": "bilinear"}, {"kernel": 5}])
def test_other_patterns_are_left_alone(kwargs: dict[str, Any]) -> None:
    net = _model(**kwargs)
    new, notes = subpixel_upsample_conv(net)
    assert new is net and notes == []


def test_upsample_with_two_consumers_is_left_alone() -> None:
    x = keras.Input((None, None, 3))
    h = keras.layers.UpSampling2D(2)(x)
    y = keras.layers.Add()([keras.layers.Conv2D(3, 3, padding="same")(h), h])
    net = keras.Model(x, y)
    assert subpixel_upsample_conv(net) == (net, [])
