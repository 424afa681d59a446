// run_model, ported from edgephoto/runtime/tasks/common.py: NHWC float batches of 0..255 pixels
// in, every output NHWC and dequantized out, whatever the model's layout, dtype or fixed batch.
// A backend is {inputs: [{name, shape, dtype}], run(feeds) -> Promise<{name: {data, dims}}>}
// (engine.js wraps onnxruntime-web as one; tests use a formula backend).

import { channelsOf, modelColour, normalize, toNCHW, toNHWC } from "./preprocess.js";

function quantize(values, [scale, zero], dtype) {
  const lo = dtype === "uint8" ? 0 : -128, hi = dtype === "uint8" ? 255 : 127;
  const out = dtype === "uint8" ? new Uint8Array(values.length) : new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(hi, Math.max(lo, Math.round(values[i] / scale) + zero));
  return out;
}

function dequantize(tensor, facts) {
  const integer = !(tensor.data instanceof Float32Array);
  if (!facts.quantization || !integer) return Float32Array.from(tensor.data);
  const [scale, zero] = facts.quantization;
  return Float32Array.from(tensor.data, (v) => Math.fround((v - zero) * scale));
}

/**
 * tiles: array of {data: Float32Array (h*w*c), width, height, channels} 0..255 pixels.
 * Returns, per output tensor, an array of per-item {data, width, height, channels} (NHWC).
 */
export async function runModel(backend, facts, tiles) {
  const spec = facts.inputs[0];
  const norm = spec.normalization || { mean: [0], std: [1], color: "RGB" };
  const engine = backend.inputs.find((t) => t.name === spec.name) || (backend.inputs.length === 1 ? backend.inputs[0] : null);
  const dtype = engine ? engine.dtype : spec.dtype;
  const feedName = engine ? engine.name : spec.name;
  const fixed = engine && engine.shape && typeof engine.shape[0] === "number" && engine.shape[0] > 0 ? engine.shape[0] : null;
  const step = fixed || tiles.length;
  const { height: h, width: w } = tiles[0];
  const results = facts.outputs.map(() => []);
  for (let i = 0; i < tiles.length; i += step) {
    const part = tiles.slice(i, i + step);
    const real = part.length;
    while (fixed && part.length < fixed) part.push(part[part.length - 1]);
    let channels = 0;
    const coloured = part.map((t) => { const c = modelColour(t.data, t.channels, norm); channels = c.channels; return c.data; });
    const joined = new Float32Array(coloured.reduce((n, a) => n + a.length, 0));
    coloured.reduce((o, a) => (joined.set(a, o), o + a.length), 0);
    let feed;
    if ((dtype === "uint8" || dtype === "int8") && spec.dtype === "float32") {
      feed = quantize(normalize(joined, channels, norm, "float32"), spec.quantization, dtype);
    } else {
      feed = normalize(joined, channels, norm, spec.dtype);
    }
    let dims = [part.length, h, w, channels];
    if (spec.layout === "NCHW") { feed = toNCHW(feed, part.length, h, w, channels); dims = [part.length, channels, h, w]; }
    const out = await backend.run({ [feedName]: { data: feed, dims, dtype: spec.dtype } });
    const values = Object.values(out);
    facts.outputs.forEach((tensor, k) => {
      const raw = out[tensor.name] || values[k];
      if (!raw) throw new Error(`backend returned no output '${tensor.name}'`);
      let data = dequantize(raw, tensor);
      let [, oh, ow, oc] = raw.dims.length === 4 ? raw.dims : [raw.dims[0], raw.dims[1], raw.dims[2], 1];
      if (tensor.layout === "NCHW" && raw.dims.length === 4) {
        const [n, c, hh, ww] = raw.dims;
        data = toNHWC(data, n, c, hh, ww);
        [oh, ow, oc] = [hh, ww, c];
      }
      const size = oh * ow * oc;
      for (let b = 0; b < real; b++) results[k].push({ data: data.slice(b * size, (b + 1) * size), width: ow, height: oh, channels: oc });
    });
  }
  return results;
}

export { channelsOf };
