"""Exact rewrites of Keras models before they become SavedModels.

`subpixel_upsample_conv`: UpSampling2D(nearest, s) -> Conv2D(3x3, same) equals a 3x3 conv at
input resolution with s*s*C outputs followed by depth_to_space(s). Same weights, s*s fewer
conv MACs, and no resize op (XNNPACK cannot delegate nearest resize; it cost ~23% of ESRGAN
slim x4 in TFLite).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgephoto.convert.tf_common import import_tf, import_tf_keras


def _as_pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else (int(value[0]), int(value[1]))


def _single_use(layer: Any) -> bool:
    return len(layer._inbound_nodes) == 1 and len(layer._outbound_nodes) == 1


def _matches(up: Any, conv: Any, keras: Any) -> bool:
    """The rewrite is exact only for this exact shape of pattern."""
    if type(up) is not keras.layers.UpSampling2D or type(conv) is not keras.layers.Conv2D:
        return False
    sy, sx = _as_pair(up.size)
    return (
        up.interpolation == "nearest"
        and sy == sx >= 2
        and up.data_format == "channels_last"
        and conv.data_format == "channels_last"
        and _as_pair(conv.kernel_size) == (3, 3)
        and _as_pair(conv.strides) == (1, 1)
        and _as_pair(conv.dilation_rate) == (1, 1)
        and conv.padding == "same"
        and getattr(conv, "groups", 1) == 1
        and _single_use(up)
        and len(conv._inbound_nodes) == 1
    )


def subpixel_kernel(kernel: np.ndarray, bias: np.ndarray | None, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(3,3,Cin,C) kernel on the s-times nearest-upsampled image -> (3,3,Cin,s*s*C) kernel on
    the low-resolution image, channels ordered as depth_to_space reads them: (py*s+px)*C + c.

    Output phase p, tap d in {-1,0,1} reads upsampled pixel y*s+p+d = LR pixel
    y + floor((p+d)/s); zero padding of the upsampled image is zero padding of the LR image.
    """
    kh, kw, cin, cout = kernel.shape
    out = np.zeros((3, 3, cin, scale * scale * cout), dtype=np.float64)
    for py in range(scale):
        for px in range(scale):
            base = (py * scale + px) * cout
            for dy in (-1, 0, 1):
                oy = (py + dy) // scale
                for dx in (-1, 0, 1):
                    ox = (px + dx) // scale
                    out[oy + 1, ox + 1, :, base : base + cout] += kernel[dy + 1, dx + 1]
    b = np.zeros(cout) if bias is None else bias
    return out.astype(kernel.dtype), np.tile(b, scale * scale).astype(kernel.dtype)


def _subpixel_layer(conv: Any, scale: int, keras: Any, tf: Any) -> Any:
    """A layer named like `conv`: the LR conv (with conv's activation) then depth_to_space."""
    kernel, *rest = conv.get_weights()
    new_kernel, new_bias = subpixel_kernel(kernel, rest[0] if rest else None, scale)
    lr_conv = keras.layers.Conv2D(
        new_kernel.shape[-1], 3, padding="same", activation=conv.activation,
        name=f"{conv.name}_lr", dtype=conv.dtype,
    )
    lr_conv.build((None, None, None, kernel.shape[2]))
    lr_conv.set_weights([new_kernel, new_bias])

    class SubpixelConv2D(keras.layers.Layer):  # type: ignore[misc,name-defined]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.lr_conv = lr_conv

        def call(self, inputs: Any) -> Any:
            return tf.nn.depth_to_space(self.lr_conv(inputs), scale)

    return SubpixelConv2D(name=conv.name, dtype=conv.dtype)


def subpixel_upsample_conv(model: Any) -> tuple[Any, list[str]]:
    """(model with every matching UpSampling2D -> Conv2D pair rewritten, one note per rewrite).

    Returns the input model unchanged (and no notes) when nothing matches. The other layers are
    reused as they are, so their weights are shared, not copied.
    """
    keras = import_tf_keras()
    tf = import_tf()
    if not isinstance(model, keras.Model) or not getattr(model, "_is_graph_network", False):
        return model, []
    pairs: dict[str, tuple[Any, int]] = {}  # conv name -> (upsample layer, scale)
    for up in model.layers:
        if type(up) is not keras.layers.UpSampling2D or len(up._outbound_nodes) != 1:
            continue
        conv = up._outbound_nodes[0].outbound_layer
        if _matches(up, conv, keras):
            pairs[conv.name] = (up, _as_pair(up.size)[0])
    if not pairs:
        return model, []
    ups = {up.name for up, _ in pairs.values()}
    notes = []

    def clone(layer: Any) -> Any:
        if layer.name in ups:
            return keras.layers.Activation("linear", name=layer.name)
        if layer.name in pairs:
            up, scale = pairs[layer.name]
            notes.append(
                f"keras pass: {up.name}(nearest x{scale}) -> {layer.name}(3x3) rewritten as a "
                f"3x3 conv with {scale * scale * layer.filters} outputs + depth_to_space({scale})"
            )
            return _subpixel_layer(layer, scale, keras, tf)
        return layer

    rewritten = keras.models.clone_model(model, clone_function=clone)
    return rewritten, notes
