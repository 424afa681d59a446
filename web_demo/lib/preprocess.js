// Model facts and pre-processing, ported from edgephoto/runtime/tasks/common.py and zoo/spec.py:
// the manifest `edgephoto convert` writes says layout, dtype, normalisation and tile policy;
// photos are fitted to the model input through the same Pillow filters (resample.js).

import { nearestRGB8, reduceRGB8, resizePlane, resizeRGB8Reducing } from "./resample.js";

const f = Math.fround;

function tensorFacts(entry) {
  const norm = entry.normalization;
  const quant = entry.quantization;
  return {
    name: String(entry.name),
    shape: entry.shape.map((d) => (d === null || (typeof d === "number" && d < 0) || typeof d === "string" ? null : d)),
    dtype: entry.dtype || "float32",
    layout: entry.layout || "NHWC",
    normalization: norm ? { mean: norm.mean, std: norm.std, color: norm.color || "RGB" } : null,
    quantization: quant ? [Number(quant.scale), Number(quant.zero_point)] : null,
  };
}

export function hwOf(t) {
  if (t.shape.length !== 4) return [null, null];
  return t.layout === "NHWC" ? [t.shape[1], t.shape[2]] : [t.shape[2], t.shape[3]];
}

export function channelsOf(t) {
  if (t.shape.length !== 4) return null;
  return t.layout === "NHWC" ? t.shape[3] : t.shape[1];
}

/** ModelFacts.load: the manifest facts a task reads. */
export function modelFacts(manifest) {
  const tile = manifest.tile || {};
  return {
    task: manifest.task || "",
    model: manifest.model || "",
    inputs: manifest.inputs.map(tensorFacts),
    outputs: manifest.outputs.map(tensorFacts),
    scale: Number(manifest.scale || 1),
    tileMode: tile.mode || "whole",
    tile: Number(tile.tile || 0),
    overlap: Number(tile.overlap || 0),
    receptiveField: Number(tile.receptive_field || 0),
    extra: manifest.extra || {},
  };
}

export function defaultOverlap(facts, tile = null) {
  tile = tile || facts.tile;
  return tile ? Math.min(2 * facts.overlap, Math.floor(tile / 2)) : 2 * facts.overlap;
}

/** BT.601 luma of float32 RGB, as rgb_to_ycbcr's first row (float32 ops, left to right). */
export function luma(r, g, b) {
  return f(f(f(r * f(0.299)) + f(g * f(0.587))) + f(b * f(0.114)));
}

/** (N*H*W*3) RGB 0..255 float32 -> the model's colour: as is, BGR, or one luma channel. */
export function modelColour(pixels, channels, norm) {
  if (!norm || channels !== 3) return { data: pixels, channels };
  const n = pixels.length / 3;
  if (norm.color === "BGR") {
    const out = new Float32Array(pixels.length);
    for (let i = 0; i < n; i++) { out[3 * i] = pixels[3 * i + 2]; out[3 * i + 1] = pixels[3 * i + 1]; out[3 * i + 2] = pixels[3 * i]; }
    return { data: out, channels: 3 };
  }
  if (norm.color === "Y") {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = luma(pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]);
    return { data: out, channels: 1 };
  }
  return { data: pixels, channels: 3 };
}

/** Normalization.apply: (x - mean)/std per channel in float32; integer dtypes rint + clip. */
export function normalize(values, channels, norm, dtype = "float32") {
  const mean = norm ? norm.mean : [0], std = norm ? norm.std : [1];
  const integer = dtype === "uint8" || dtype === "int8";
  const out = integer ? (dtype === "uint8" ? new Uint8Array(values.length) : new Int8Array(values.length)) : new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const v = f(f(values[i] - f(mean[mean.length === 1 ? 0 : c])) / f(std[std.length === 1 ? 0 : c]));
    out[i] = integer ? Math.min(255, Math.max(0, roundHalfEven(v))) : v;
  }
  return out;
}

/** Normalization.invert: model values back to 0..255 floats. */
export function denormalize(values, channels, norm) {
  if (!norm) return values;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    out[i] = f(f(values[i] * f(norm.std[norm.std.length === 1 ? 0 : c])) + f(norm.mean[norm.mean.length === 1 ? 0 : c]));
  }
  return out;
}

export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** NHWC batch -> NCHW. */
export function toNCHW(data, n, h, w, c) {
  const out = new data.constructor(data.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
    out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  }
  return out;
}

export function toNHWC(data, n, c, h, w) {
  const out = new data.constructor(data.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[((b * h + y) * w + x) * c + k] = data[((b * c + k) * h + y) * w + x];
  }
  return out;
}

/** model_input: (H, W, 3) 0..255 pixels at the tensor's size -> its values, batch of one. */
export function modelInput(image, tensor) {
  const norm = tensor.normalization;
  const coloured = modelColour(Float32Array.from(image.data), image.channels || 3, norm);
  let out = norm ? normalize(coloured.data, coloured.channels, norm, tensor.dtype) : coloured.data;
  if (tensor.layout === "NCHW") out = toNCHW(out, 1, image.height, image.width, coloured.channels);
  return { data: out, channels: coloured.channels };
}

/** _resize_photo for an 8-bit RGB photo (Pillow, reducing_gap=1; sampled: NEAREST 2x then 2x2 mean). */
export function resizePhoto(rgb, [h, w], sampled = false) {
  let out;
  if (sampled && (rgb.height >= 2 * h || rgb.width >= 2 * w)) {
    const twice = (rgb.width === 2 * w && rgb.height === 2 * h) ? rgb : nearestRGB8(rgb, [2 * h, 2 * w]);
    out = reduceRGB8(twice, 2, 2);
  } else {
    out = resizeRGB8Reducing(rgb, [h, w], "bilinear");
  }
  return { data: Float32Array.from(out.data), width: w, height: h, channels: 3 };
}

/** fit_to_input: 'stretch' or 'letterbox' (zero padding, centred); returns the content box. */
export function fitToInput(rgb, [h, w], mode = "stretch", { sampled = false } = {}) {
  if (mode !== "stretch" && mode !== "letterbox") throw new Error(`fit must be 'stretch' or 'letterbox', got '${mode}'`);
  const ph = rgb.height, pw = rgb.width;
  if (mode === "stretch") return { fitted: resizePhoto(rgb, [h, w], sampled), box: [0, 0, h, w], photoHW: [ph, pw] };
  const ratio = Math.min(h / ph, w / pw);
  const ch = Math.max(1, roundHalfEven(ph * ratio)), cw = Math.max(1, roundHalfEven(pw * ratio));
  const y0 = Math.floor((h - ch) / 2), x0 = Math.floor((w - cw) / 2);
  const canvas = new Float32Array(h * w * 3);
  const inner = resizePhoto(rgb, [ch, cw], sampled);
  for (let y = 0; y < ch; y++) canvas.set(inner.data.subarray(y * cw * 3, (y + 1) * cw * 3), ((y0 + y) * w + x0) * 3);
  return { fitted: { data: canvas, width: w, height: h, channels: 3 }, box: [y0, x0, ch, cw], photoHW: [ph, pw] };
}

/** unfit: crop a model-resolution plane to the content box. */
export function unfit(plane, box, [inH, inW]) {
  const sy = plane.height / inH, sx = plane.width / inW;
  const [y, x, h, w] = box;
  const y0 = roundHalfEven(y * sy), y1 = roundHalfEven((y + h) * sy);
  const x0 = roundHalfEven(x * sx), x1 = roundHalfEven((x + w) * sx);
  const out = new Float32Array((y1 - y0) * (x1 - x0));
  for (let i = y0; i < y1; i++) for (let j = x0; j < x1; j++) out[(i - y0) * (x1 - x0) + j - x0] = plane.data[i * plane.width + j];
  return { data: out, width: x1 - x0, height: y1 - y0 };
}

/** refine.resize on a float plane (Pillow mode F): 'bilinear', 'bicubic' or 'area' (BOX). */
export function resize(plane, [h, w], method = "bilinear") {
  const name = method === "area" ? "box" : method;
  return resizePlane(plane, [h, w], name);
}

/** The same for (H, W, C) float images, channel by channel. */
export function resizeImage(image, [h, w], method = "bilinear") {
  const c = image.channels;
  if (image.height === h && image.width === w) return { ...image, data: Float32Array.from(image.data) };
  const out = new Float32Array(h * w * c);
  for (let k = 0; k < c; k++) {
    const plane = new Float32Array(image.width * image.height);
    for (let i = 0; i < plane.length; i++) plane[i] = image.data[i * c + k];
    const r = resize({ data: plane, width: image.width, height: image.height }, [h, w], method);
    for (let i = 0; i < h * w; i++) out[i * c + k] = r.data[i];
  }
  return { data: out, width: w, height: h, channels: c };
}
