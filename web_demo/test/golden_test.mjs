// The JS ports against the Python runtime's golden vectors (golden_vectors/, README there gives
// the schema and the tolerances used here). Run: node web_demo/test/golden_test.mjs
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { fitToInput, modelFacts, modelInput } from "../lib/preprocess.js";
import {
  estimateDepth, planesToUint8, probability, segment, upscale, ycbcrPlanes, zoomRegions,
} from "../lib/tasks.js";
import { axisStarts, axisWeights, marginFor, reflectIndex, tileGrid, tileImage } from "../lib/tiling.js";
import { FormulaBackend } from "./formula_backend.mjs";
import { assert, close, equal, run, test } from "./harness.mjs";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "golden_vectors");
const load = (name) => JSON.parse(readFileSync(join(GOLDEN, name), "utf8"));
const plans = load("tile_plans.json"), blend = load("blend.json");
const pre = load("preprocess.json"), post = load("postprocess.json");
const rgbOf = (arr) => ({ data: Uint8Array.from(arr.data), width: arr.shape[1], height: arr.shape[0] });
const photo = rgbOf(pre.photo.pixels), small = rgbOf(pre.small.pixels);
const sub = (img, y0, x0, h, w) => {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + w) * 3), y * w * 3);
  return { data: out, width: w, height: h };
};

test("reflect_index", () => {
  for (const r of plans.reflect) equal(r.index.map((i) => reflectIndex(i, r.n)), r.folded, `n=${r.n}`);
});

for (const c of plans.cases) {
  test(`tile plan ${c.model} ${c.photo_hw.join("x")}${c.budget_bytes ? ` budget ${c.budget_bytes}` : ""}`, () => {
    const [h, w] = c.work_hw || c.photo_hw;
    equal(axisStarts(h, c.tile_hw[0], c.overlap), c.ys, "ys");
    equal(axisStarts(w, c.tile_hw[1], c.overlap), c.xs, "xs");
    equal(marginFor(c.receptive_field, c.overlap), c.margin, "margin");
    const grid = tileGrid(h, w, c.tile_hw, c.overlap);
    equal(grid.map((t) => [t.y, t.x, t.row, t.col]), c.tiles.map((t) => [t.y, t.x, t.row, t.col]), "tiles");
  });
}

test("tile plans from the real zoo policies (upscale.plan, defaultOverlap)", async () => {
  const { plan } = await import("../lib/tasks.js");
  const { defaultOverlap } = await import("../lib/preprocess.js");
  const shapes = {
    "esrgan-slim-x2": [[1, 128, 128, 3], 2, 16, 21], "esrgan-medium-x4": [[1, 128, 128, 3], 4, 24, 37],
    "esrgan-thick-x4": [[1, 128, 128, 3], 4, 32, 309], "fsrcnn-x2": [[1, null, null, 1], 2, 12, 17],
    "fsrcnn-x3": [[1, null, null, 1], 3, 12, 17],
  };
  for (const c of plans.cases.filter((k) => shapes[k.model])) {
    const [shape, scale, overlap, rf] = shapes[c.model];
    const facts = modelFacts({ inputs: [{ name: "in", shape }], outputs: [{ name: "out", shape }], scale,
      tile: { mode: "tile", tile: 128, overlap, receptive_field: rf } });
    const [tile, ov] = plan(facts, ...c.photo_hw, { budgetBytes: c.budget_bytes, overlap: defaultOverlap(facts) });
    equal([tile, ov], [c.tile_hw, c.overlap], `${c.model} ${c.photo_hw}`);
  }
});

for (const c of blend.cases) {
  const label = `blend ${c.photo_hw.join("x")}x${c.channels} tile ${c.tile_hw.join("x")} overlap ${c.overlap} scale ${c.scale} ${c.ramp}`;
  test(label, async () => {
    const opts = { scale: c.scale, margin: c.margin, ramp: c.ramp };
    close(axisWeights(c.photo_hw[0], c.ys, c.tile_hw[0], c.overlap, opts), c.weights_y.data, { what: "weights_y" });
    close(axisWeights(c.photo_hw[1], c.xs, c.tile_hw[1], c.overlap, opts), c.weights_x.data, { what: "weights_x" });
    const [h, w] = c.photo_hw, ch = c.channels, th = c.tile_hw[0] * c.scale, tw = c.tile_hw[1] * c.scale;
    let k = 0;
    const runBatch = async (tiles) => tiles.map(() => {
      const data = new Float32Array(th * tw * ch);
      for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) for (let q = 0; q < ch; q++) {
        data[(i * tw + j) * ch + q] = ((31 * k + 7 * i + 3 * j + 11 * q) % 23) / 22;
      }
      k += 1;
      return { data, width: tw, height: th, channels: ch };
    });
    const image = { data: new Float32Array(h * w * ch), width: w, height: h, channels: ch };
    const out = await tileImage(image, runBatch, { tile: c.tile_hw, overlap: c.overlap, ...opts });
    close(out.data, c.blended.data, { what: "blended" });
  });
}

for (const c of pre.fits) {
  test(`fit_to_input ${c.source} -> ${c.size_hw.join("x")} ${c.mode}${c.sampled ? " sampled" : ""}`, () => {
    const { fitted, box } = fitToInput(c.source === "small" ? small : photo, c.size_hw, c.mode, { sampled: c.sampled });
    equal(box, c.box, "box");
    close(fitted.data, c.fitted.data, { maxAbs: 0, what: "fitted (Pillow port: exact)" });
  });
}

for (const c of pre.model_inputs) {
  test(`model_input ${c.model} (${c.layout} ${c.dtype} ${c.normalization ? c.normalization.color : "raw"})`, () => {
    const tensor = modelFacts({ inputs: [{ ...c, shape: [1, 12, 16, 3] }], outputs: [] }).inputs[0];
    const image = { data: Float32Array.from(small.data), width: small.width, height: small.height, channels: 3 };
    const { data } = modelInput(image, tensor);
    close(data, c.values.data, { maxAbs: c.dtype === "uint8" ? 0 : 1e-4, what: c.model });
  });
}

for (const c of post.segmentation) {
  test(`segmentation ${c.model} ${c.photo_hw.join("x")} ${c.fit}`, async () => {
    const [h, w, ch] = c.output.shape;
    const out = { data: Float32Array.from(c.output.data), width: w, height: h, channels: ch };
    const backend = { inputs: [{ name: "x", shape: [1, h, w, 3], dtype: "float32" }],
      run: async () => ({ y: { data: out.data, dims: [1, h, w, ch] } }) };
    const facts = modelFacts({ inputs: [{ name: "x", shape: [1, h, w, 3] }], outputs: [{ name: "y", shape: [1, h, w, ch] }],
      extra: { foreground_channel: c.foreground_channel } });
    const blank = { data: new Uint8Array(c.photo_hw[0] * c.photo_hw[1] * 3), width: c.photo_hw[1], height: c.photo_hw[0] };
    const prob = await segment(backend, facts, blank, { fit: c.fit, zoom: false });
    close(prob.data, c.probability.data, { maxAbs: 1e-5, what: "probability" });
    const mask = Uint8Array.from(prob.data, (v) => (v > 0.5 ? 1 : 0));
    const bad = mask.filter((m, i) => m !== c.mask.data[i] && Math.abs(c.probability.data[i] - 0.5) >= 1e-5).length;
    assert(bad === 0, `${bad} mask pixels differ`);
    close(probability(out, c.foreground_channel).data.length ? [1] : [0], [1]);
  });
}

for (const c of post.zoom.cases) {
  test(`segment zoom ${c.photo_hw.join("x")}, ${c.regions_yxyx.length} crop(s)`, async () => {
    const [h, w] = c.photo_hw;
    const rgb = { data: new Uint8Array(h * w * 3), width: w, height: h };
    for (const [y0, x0, y1, x1, grey] of c.people_yxyx_grey) {
      for (let y = y0; y < y1; y++) rgb.data.fill(grey, (y * w + x0) * 3, (y * w + x1) * 3);
    }
    const facts = modelFacts(post.zoom.facts);
    const t = facts.inputs[0];
    const backend = new FormulaBackend("segment", [{ name: t.name, shape: t.shape, dtype: "float32" }],
      [{ name: facts.outputs[0].name, shape: facts.outputs[0].shape, dtype: "float32" }]);
    const [lh, lw] = c.low.shape;
    equal(zoomRegions({ data: Float32Array.from(c.low.data), width: lw, height: lh }, [h, w]), c.regions_yxyx, "regions");
    const timings = {};
    const prob = await segment(backend, facts, rgb, { timings });
    equal(timings.zoom_crops, c.regions_yxyx.length, "second passes");
    close(prob.data, c.probability.data, { maxAbs: 0.01, what: "fused probability" });
  });
}

for (const c of post.depth) {
  test(`depth detail ${c.detail} ${c.fit}`, async () => {
    const facts = modelFacts(c.facts);
    const backend = new FormulaBackend("depth", [{ name: "image", shape: [1, 16, 16, 3], dtype: "uint8" }],
      [{ name: "depth", shape: [1, 16, 16, 1], dtype: "float32" }]);
    const result = await estimateDepth(backend, facts, sub(photo, 0, 0, 24, 20), { detail: c.detail, fit: c.fit });
    const range = Math.max(...c.depth.data) - Math.min(...c.depth.data);
    close(result.globalDepth.data, c.global_depth.data, { maxAbs: 1e-3 * range, what: "global" });
    close(result.depth.data, c.depth.data, { maxAbs: 1e-3 * range, what: "depth" });
    equal(result.tiles.length, c.tiles.length, "tile count");
    result.tiles.forEach((t, i) => assert(Math.abs(t.pearson - c.tiles[i].pearson) < 1e-4, `tile ${i} pearson`));
  });
}

for (const c of post.upscale) {
  test(`upscale ${c.model}`, async () => {
    const luma = c.model === "fsrcnn-x2";
    const facts = modelFacts(c.facts || {
      task: "upscale", scale: 2, tile: { mode: "tile", tile: 128, overlap: 12, receptive_field: 17 },
      inputs: [{ name: "IteratorGetNext", shape: [1, null, null, 1], normalization: { mean: [0], std: [255], color: "Y" } }],
      outputs: [{ name: "NHWC_output", shape: [1, null, null, 1], normalization: { mean: [0], std: [255], color: "Y" } }],
    });
    const backend = luma
      ? new FormulaBackend("upscale", [{ name: "IteratorGetNext", shape: [1, null, null, 1], dtype: "float32" }], [{ name: "NHWC_output" }], 2)
      : new FormulaBackend("upscale", [{ name: "input", shape: [1, 16, 16, 3], dtype: "float32" }], [{ name: "output" }], 2);
    const out = await upscale(backend, facts, sub(photo, 0, 0, 20, 27));
    close(out.data, c.upscaled.data, { maxAbs: 0, what: "upscaled (exact)" });
  });
}

test("upscale luma tiled (open H/W past its budget: even tiles, chroma per band)", async () => {
  const c = post.upscale_luma_tiled;
  const backend = new FormulaBackend("upscale", [{ name: "y", shape: [1, null, null, 1], dtype: "float32" }], [{ name: "y2" }], 2);
  const out = await upscale(backend, modelFacts(c.facts), sub(photo, 0, 0, 24, 32), { budgetBytes: c.budget_bytes });
  close(out.data, c.upscaled.data, { maxAbs: 0, what: "upscaled (exact)" });
});

test("ycbcr planes and planes_to_uint8", () => {
  const [y, cb, cr] = ycbcrPlanes(small);
  close(y, post.ycbcr.y.data, { maxAbs: 1e-4, what: "y" });
  close(cb, post.ycbcr.cb.data, { maxAbs: 1e-4, what: "cb" });
  close(cr, post.ycbcr.cr.data, { maxAbs: 1e-4, what: "cr" });
  close(planesToUint8(Float32Array.from(post.ycbcr.y.data), Float32Array.from(post.ycbcr.cb.data),
    Float32Array.from(post.ycbcr.cr.data)), post.ycbcr.back_to_rgb.data, { maxAbs: 0, what: "rgb" });
});

process.exitCode = await run("golden vectors (node)") ? 1 : 0;
