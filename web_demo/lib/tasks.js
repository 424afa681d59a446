// Segmentation, depth and upscale around a backend, ported from edgephoto/runtime/tasks/
// (segmentation.py, depth.py, upscale.py) and refine.upsample_bilinear. Photos are
// {data: Uint8Array(h*w*3), width, height}; maps are float planes {data, width, height}.

import { resizePlane } from "./resample.js";
import { runModel } from "./model.js";
import {
  channelsOf, defaultOverlap, denormalize, fitToInput, hwOf, luma, resize, resizeImage, roundHalfEven, unfit,
} from "./preprocess.js";
import { crop, evenTiles, marginFor, tileImage } from "./tiling.js";

const f = Math.fround;

export function probability(out, foreground = 1) {
  const n = out.width * out.height, c = out.channels, data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (c === 1) { const v = out.data[i]; data[i] = v < 0 ? 0 : v > 1 ? 1 : v; continue; }
    let max = -Infinity;
    for (let k = 0; k < c; k++) max = Math.max(max, out.data[i * c + k]);
    let sum = 0, fg = 0;
    for (let k = 0; k < c; k++) { const e = f(Math.exp(f(out.data[i * c + k] - max))); sum = f(sum + e); if (k === foreground) fg = e; }
    data[i] = f(fg / sum);
  }
  return { data, width: out.width, height: out.height };
}

function taps(nOut, nIn) {
  const low = new Int32Array(nOut), frac = new Float32Array(nOut);
  for (let i = 0; i < nOut; i++) {
    const pos = Math.min(Math.max((i + 0.5) * (nIn / nOut) - 0.5, 0), nIn - 1);
    low[i] = Math.floor(pos);
    frac[i] = pos - low[i];
  }
  return [low, frac];
}

/** refine.upsample_bilinear: columns at the map's height, then rows; Pillow when shrinking > 2x. */
export function upsampleBilinear(low, [height, width], { clip = false } = {}) {
  const { width: w, height: h } = low;
  const clip01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);
  if (2 * height < h || 2 * width < w) {
    const out = resizePlane(low, [height, width], "bilinear");
    if (clip) out.data.forEach((v, i) => { out.data[i] = clip01(v); });
    return out;
  }
  const [x0, fx] = taps(width, w), [y0, fy] = taps(height, h);
  const cols = new Float32Array(h * width);
  for (let i = 0; i < h; i++) for (let j = 0; j < width; j++) {
    const a = low.data[i * w + x0[j]], b = low.data[i * w + Math.min(x0[j] + 1, w - 1)];
    cols[i * width + j] = f(a + f(f(b - a) * fx[j]));
  }
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const r = y0[y], next = Math.min(r + 1, h - 1);
    for (let j = 0; j < width; j++) {
      const a = cols[r * width + j], step = next === r ? 0 : f(cols[next * width + j] - a);
      const v = f(a + f(step * fy[y]));
      out[y * width + j] = clip ? clip01(v) : v;
    }
  }
  return { data: out, width, height };
}

function inputHW(facts) {
  let [h, w] = hwOf(facts.inputs[0]);
  if (h === null || w === null) [h, w] = [facts.tile, facts.tile];
  return [h, w];
}

/** segmentation.ZoomPolicy's defaults (fuse "max"): when the second look at a small person runs. */
export const ZOOM_POLICY = Object.freeze({
  threshold: 0.5, max_area: 0.5, margin: 0.1, max_aspect: 2.0, max_crop: 0.9, gap: 0.03, min_share: 0.05, max_crops: 4,
});

/** low_res_mask: the model's mask at model resolution, cut to the content box. */
async function lowResMask(backend, facts, rgb, fit) {
  const inHW = inputHW(facts);
  const { fitted, box } = fitToInput(rgb, inHW, fit || facts.extra.fit || "stretch", { sampled: true });
  const [out] = (await runModel(backend, facts, [fitted]))[0];
  return unfit(probability(out, Number(facts.extra.foreground_channel ?? 1)), box, inHW);
}

/** person_boxes: a box (y0, x0, y1, x1 in 0..1 of the map) per person, parted at empty columns, largest first. */
export function personBoxes(low, { threshold = 0.5, gap = 0.03, minShare = 0.05 } = {}) {
  const { width: w, height: h, data } = low;
  const cols = [];
  for (let j = 0; j < w; j++) {
    for (let i = 0; i < h; i++) if (data[i * w + j] > threshold) { cols.push(j); break; }
  }
  if (!cols.length) return [];
  const apart = Math.max(1, Math.trunc(gap * w));
  const ranges = [[cols[0], cols[0] + 1]];
  for (let k = 1; k < cols.length; k++) {
    if (cols[k] - cols[k - 1] > apart) ranges.push([cols[k], cols[k] + 1]);
    else ranges[ranges.length - 1][1] = cols[k] + 1;
  }
  const parts = ranges.map(([a, b]) => {
    let count = 0, top = h, bottom = -1;
    for (let i = 0; i < h; i++) for (let j = a; j < b; j++) {
      if (data[i * w + j] > threshold) { count++; top = Math.min(top, i); bottom = Math.max(bottom, i); }
    }
    return { count, box: [top / h, a / w, (bottom + 1) / h, b / w] };
  });
  const total = parts.reduce((sum, p) => sum + p.count, 0);
  const kept = ranges.length > 1 ? parts.filter((p) => p.count >= minShare * total) : parts;
  return kept.sort((p, q) => q.count - p.count).map((p) => p.box);  // stable: ties keep column order
}

/** zoom_crop: photo px [y0, x0, y1, x1] around a box with context, at most maxAspect long, shifted then cut at the edges. */
export function zoomCrop(box, [height, width], { margin = 0.1, maxAspect = 2.0 } = {}) {
  const [y0, x0, y1, x1] = [box[0] * height, box[1] * width, box[2] * height, box[3] * width];
  const grow = 2 * margin * Math.max(y1 - y0, x1 - x0);
  const grownTall = y1 - y0 + grow, grownWide = x1 - x0 + grow;
  const tall = Math.max(grownTall, grownWide / maxAspect), wide = Math.max(grownWide, grownTall / maxAspect);
  const out = [];
  for (const [centre, length, limit] of [[(y0 + y1) / 2, tall, height], [(x0 + x1) / 2, wide, width]]) {
    const size = Math.max(1, Math.min(limit, roundHalfEven(length)));
    const start = Math.trunc(Math.min(Math.max(0, roundHalfEven(centre - size / 2)), limit - size));
    out.push([start, start + size]);
  }
  return [out[0][0], out[1][0], out[0][1], out[1][1]];
}

/** zoom_regions: the crops second passes should see, largest person first; [] when none would pay. */
export function zoomRegions(low, [height, width], policy = ZOOM_POLICY) {
  const crops = [];
  const boxes = personBoxes(low, { threshold: policy.threshold, gap: policy.gap, minShare: policy.min_share });
  for (const box of boxes) {
    if ((box[2] - box[0]) * (box[3] - box[1]) >= policy.max_area) continue;
    const c = zoomCrop(box, [height, width], { margin: policy.margin, maxAspect: policy.max_aspect });
    if ((c[2] - c[0]) * (c[3] - c[1]) < policy.max_crop * height * width) crops.push(c);
  }
  return crops.slice(0, policy.max_crops);
}

function cropPhoto(rgb, [y0, x0, y1, x1]) {
  const w = x1 - x0, h = y1 - y0, data = new Uint8Array(h * w * 3);
  for (let i = 0; i < h; i++) data.set(rgb.data.subarray(((y0 + i) * rgb.width + x0) * 3, ((y0 + i) * rgb.width + x1) * 3), i * w * 3);
  return { data, width: w, height: h };
}

/** segment(): person probability at photo size (the default, unrefined path); zoom (default on)
 *  runs the model again on a crop around each small person and max-fuses it in, as segment(zoom=True). */
export async function segment(backend, facts, rgb, { fit = null, timings = null, zoom = true } = {}) {
  const t0 = performance.now();
  const low = await lowResMask(backend, facts, rgb, fit);
  const t1 = performance.now();
  const full = upsampleBilinear(low, [rgb.height, rgb.width], { clip: true });
  const regions = zoom ? zoomRegions(low, [rgb.height, rgb.width]) : [];
  for (const region of regions) {
    const part = cropPhoto(rgb, region);
    const near = upsampleBilinear(await lowResMask(backend, facts, part, fit), [part.height, part.width], { clip: true });
    const [y0, x0] = region;
    for (let i = 0; i < part.height; i++) for (let j = 0; j < part.width; j++) {
      const o = (y0 + i) * rgb.width + x0 + j, v = near.data[i * part.width + j];
      if (v > full.data[o]) full.data[o] = v;
    }
  }
  if (timings) Object.assign(timings, { first_pass_ms: t1 - t0, zoom_ms: performance.now() - t1, zoom_crops: regions.length });
  return full;
}

export function workSize([h, w], inHW, detail) {
  const factor = Math.min(1, (detail * Math.max(...inHW)) / Math.max(h, w));
  return [Math.max(1, roundHalfEven(h * factor)), Math.max(1, roundHalfEven(w * factor))];
}

/** metrics.align_scale_shift: least-squares scale and shift of pred onto target (float64). */
export function alignScaleShift(pred, target) {
  const n = pred.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += pred[i]; my += target[i]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (pred[i] - mx) * (target[i] - my); sxx += (pred[i] - mx) ** 2; }
  let scale, shift;
  if (sxx > 0) { scale = sxy / sxx; shift = my - scale * mx; } else { scale = (mx * my) / (mx * mx + 1); shift = my / (mx * mx + 1); }
  return Float32Array.from(pred, (v) => v * scale + shift);
}

function pearson(a, b) {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) { const x = a[i] - ma, y = b[i] - mb; ab += x * y; aa += x * x; bb += y * y; }
  const den = Math.sqrt(aa * bb);
  return den > 0 ? ab / den : 0;
}

const rmse = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += f(a[i] - b[i]) ** 2; return Math.sqrt(s / a.length); };

const asImage = (rgb) => ({ data: Float32Array.from(rgb.data), width: rgb.width, height: rgb.height, channels: 3 });

/** estimate_depth(): global pass, then (detail > 1 and room) tiles aligned to it, blended. */
export async function estimateDepth(backend, facts, rgb, { detail = null, fit = "stretch", timings = null } = {}) {
  detail = detail ?? Number(facts.extra.detail ?? 1);
  const inHW = hwOf(facts.inputs[0]);
  const t0 = performance.now();
  const runBatch = async (tiles) => (await runModel(backend, facts, tiles))[0];
  const { fitted, box } = fitToInput(rgb, inHW, fit);
  const [out] = await runBatch([fitted]);
  const plane = { data: Float32Array.from({ length: out.width * out.height }, (_, i) => out.data[i * out.channels]), width: out.width, height: out.height };
  const low = unfit(plane, box, inHW);
  const workHW = workSize([rgb.height, rgb.width], inHW, detail);
  const guide = resize(low, workHW, "bilinear");
  const tiles = [];
  let detailed = guide;
  if (workHW[0] > inHW[0] || workHW[1] > inHW[1]) {
    const overlap = defaultOverlap(facts, Math.min(...inHW));
    const guideImage = { ...guide, channels: 1 };
    const align = (o, tile) => {
      const target = crop(guideImage, tile.y, tile.x, tile.h, tile.w).data;
      const raw = Float32Array.from({ length: o.width * o.height }, (_, i) => o.data[i * o.channels]);
      const aligned = alignScaleShift(raw, target);
      tiles.push({ row: tile.row, col: tile.col, pearson: pearson(aligned, target), rmse_raw: rmse(raw, target), rmse_aligned: rmse(aligned, target) });
      return { data: aligned, width: o.width, height: o.height, channels: 1 };
    };
    const workRgb = resizeImage(asImage(rgb), workHW, "area");
    const tiled = await tileImage(workRgb, runBatch, {
      tile: inHW, overlap, margin: marginFor(facts.receptiveField, overlap), perTile: align,
    });
    detailed = { data: tiled.data, width: tiled.width, height: tiled.height };
  }
  const depth = resize(detailed, [rgb.height, rgb.width], "bilinear");
  if (timings) timings.total_ms = performance.now() - t0;
  return { depth, globalDepth: resize(low, [rgb.height, rgb.width], "bilinear"), tiles };
}

export const DEFAULT_BUDGET = 256 * 1024 * 1024;

export function budgetPx(facts, budgetBytes = null, batch = 1) {
  const perPx = 4 * batch * ((channelsOf(facts.inputs[0]) || 3) + 2 * 64 + facts.scale ** 2 * (channelsOf(facts.outputs[0]) || 3));
  return Math.max(Math.floor((budgetBytes || DEFAULT_BUDGET) / perPx), 1);
}

/** upscale.plan: [tile [h, w], overlap]. */
export function plan(facts, height, width, { batch = 1, budgetBytes = null, overlap, tile = null }) {
  const [h, w] = hwOf(facts.inputs[0]);
  if (h !== null && w !== null) return [[h, w], overlap];
  if (tile) return [[tile, tile], overlap];
  const limit = budgetPx(facts, budgetBytes, batch);
  if (height * width <= limit) return [[height, width], 0];
  return [evenTiles(height, width, { maxPx: limit, overlap, minimum: Math.max(facts.tile, overlap + 8) }), overlap];
}

export function ycbcrPlanes(rgb) {
  const n = rgb.width * rgb.height, y = new Float32Array(n), cb = new Float32Array(n), cr = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rgb.data[3 * i], g = rgb.data[3 * i + 1], b = rgb.data[3 * i + 2];
    y[i] = f(f(f(f(0.299) * r) + f(f(0.587) * g)) + f(f(0.114) * b));
    cb[i] = f(f(f(f(f(-0.168736) * r) - f(f(0.331264) * g)) + f(f(0.5) * b)) + 128);
    cr[i] = f(f(f(f(f(0.5) * r) - f(f(0.418688) * g)) - f(f(0.081312) * b)) + 128);
  }
  return [y, cb, cr];
}

const K = [[0.0, 1.402], [-0.344136, -0.714136], [1.772, 0.0]];

/** planes_to_uint8: YCbCr float planes to interleaved uint8 RGB (clip, truncate after +0.5). */
export function planesToUint8(y, cb, cr) {
  const n = y.length, out = new Uint8Array(n * 3);
  K.forEach(([kcb, kcr], c) => {
    const bias = f(0.5 - 128 * (kcb + kcr)), fcb = f(kcb), fcr = f(kcr);
    for (let i = 0; i < n; i++) {
      let v = f(y[i] + bias);
      if (kcr) v = f(v + f(cr[i] * fcr));
      if (kcb) v = f(v + f(cb[i] * fcb));
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.trunc(v);
    }
  });
  return out;
}

const toUint8 = (v) => (v <= 0 ? 0 : v >= 255 ? 255 : roundHalfEven(v));

/** upscale(): the photo times the model's scale, uint8 RGB; tiles or one whole-photo call. */
export async function upscale(backend, facts, rgb, { batch = 1, overlap = null, budgetBytes = null, ramp = "cosine", progress = null } = {}) {
  const s = facts.scale;
  if (overlap === null) overlap = defaultOverlap(facts);
  let tile;
  [tile, overlap] = plan(facts, rgb.height, rgb.width, { batch, budgetBytes, overlap });
  const margin = marginFor(facts.receptiveField, overlap);
  const outNorm = facts.outputs[0].normalization;
  const runBatch = async (tiles) => (await runModel(backend, facts, tiles))[0];
  const [inH, inW] = hwOf(facts.inputs[0]);
  const whole = overlap === 0 && tile[0] === rgb.height && tile[1] === rgb.width && inH === null && inW === null;
  const W = rgb.width * s, H = rgb.height * s;
  const result = new Uint8Array(W * H * 3);
  const luma = facts.inputs[0].normalization && facts.inputs[0].normalization.color === "Y";
  const options = { tile, overlap, scale: s, batch, margin, ramp, progress };
  const stripRows = Math.max(64, Math.floor((1 << 20) / W));
  if (!luma) {
    const store = (y0, rows) => {
      const pixels = denormalize(rows.data, rows.channels, outNorm);
      const o = y0 * W * 3;
      for (let i = 0; i < pixels.length; i++) result[o + i] = toUint8(pixels[i]);
    };
    if (whole) {
      const [out] = await runBatch([asImage(rgb)]);
      for (let y0 = 0; y0 < H; y0 += stripRows) {
        const n = Math.min(stripRows, H - y0);
        store(y0, { data: out.data.subarray(y0 * W * 3, (y0 + n) * W * 3), channels: 3 });
      }
    } else {
      await tileImage(asImage(rgb), runBatch, { ...options, sink: store });
    }
    return { data: result, width: W, height: H };
  }
  const [yPlane, cbPlane, crPlane] = ycbcrPlanes(rgb);
  const chroma = [cbPlane, crPlane].map((data) => ({ data, width: rgb.width, height: rgb.height }));
  const lumaRows = (y0, rows) => {
    const n = rows.height;
    const box = [0, y0 / s, rgb.width, (y0 + n) / s];
    const [cb, cr] = chroma.map((c) => resizePlane(c, [n, W], "bicubic", box).data);
    const yv = denormalize(rows.data, 1, outNorm);
    result.set(planesToUint8(yv, cb, cr), y0 * W * 3);
  };
  const yImage = { data: yPlane, width: rgb.width, height: rgb.height, channels: 1 };
  if (whole) {
    const [out] = await runBatch([yImage]);  // one channel: model_colour passes it through
    for (let y0 = 0; y0 < H; y0 += stripRows) {
      const n = Math.min(stripRows, H - y0);
      lumaRows(y0, { data: out.data.subarray(y0 * W, (y0 + n) * W), height: n });
    }
  } else {
    await tileImage(yImage, runBatch, { ...options, sink: lumaRows });
  }
  return { data: result, width: W, height: H };
}

export { luma };
