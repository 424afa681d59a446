// Seam-free tiling, ported from edgephoto/runtime/tiling.py (same starts, weights and blend
// order; see that file for why it is shaped this way). Images are {data, width, height, channels}
// (row-major HWC Float32Array); tile outputs likewise at `scale` times the tile size.

export const RAMPS = ["linear", "cosine"];
export const FLUSH_ROWS = 64;

export function reflectIndex(i, n) {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const folded = ((i % period) + period) % period;
  return folded < n ? folded : period - folded;
}

/** The h x w window at (y, x), reflect-padded wherever it leaves the image. */
export function crop(image, y, x, h, w) {
  const { width, height, channels: c, data } = image;
  const out = new Float32Array(h * w * c);
  for (let i = 0; i < h; i++) {
    const sy = reflectIndex(y + i, height);
    for (let j = 0; j < w; j++) {
      const sx = reflectIndex(x + j, width);
      const s = (sy * width + sx) * c, o = (i * w + j) * c;
      for (let k = 0; k < c; k++) out[o + k] = data[s + k];
    }
  }
  return { data: out, width: w, height: h, channels: c };
}

export function axisStarts(length, tile, overlap) {
  if (!(overlap >= 0 && overlap < tile)) throw new Error(`overlap must be in 0..tile-1, got ${overlap} for tile ${tile}`);
  const pad = Math.floor(overlap / 2);
  const padded = length + 2 * pad;
  if (padded <= tile) return [-pad];
  const starts = [];
  for (let s = 0; s < padded - tile; s += tile - overlap) starts.push(s);
  starts.push(padded - tile);
  return starts.map((s) => s - pad);
}

export function marginFor(receptiveField, overlap, minRamp = 8) {
  const radius = Math.floor(Math.max(receptiveField - 1, 0) / 2);
  if (overlap - 2 * radius >= Math.min(minRamp, overlap)) return radius;
  return Math.floor(overlap / 4);
}

/** (tiles x length*scale) Float32Array weights along one axis; columns sum to 1. */
export function axisWeights(length, starts, tile, overlap, { scale = 1, margin = 0, ramp = "cosine" } = {}) {
  if (!RAMPS.includes(ramp)) throw new Error(`ramp must be one of ${RAMPS}, got '${ramp}'`);
  if (!(2 * margin >= 0 && 2 * margin <= overlap)) throw new Error(`margin ${margin} must be in 0..overlap/2 (${overlap})`);
  const n = length * scale, t = starts.length;
  const width = Math.max(overlap - 2 * margin, 1e-3);
  const raw = new Float64Array(t * n);
  const clip01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);
  for (let i = 0; i < t; i++) {
    const start = starts[i];
    for (let q = 0; q < n; q++) {
      const u = (q + 0.5) / scale;
      if (!(u >= start && u < start + tile)) continue;
      const rise = i > 0 ? clip01((u - start - margin) / width) : 1;
      const fall = i < t - 1 ? clip01((start + tile - u - margin) / width) : 1;
      let shape = rise * fall;
      if (ramp === "cosine") shape = 0.5 - 0.5 * Math.cos(Math.PI * shape);
      raw[i * n + q] = shape;
    }
  }
  const out = new Float32Array(t * n);
  for (let q = 0; q < n; q++) {
    let total = 0;
    for (let i = 0; i < t; i++) total += raw[i * n + q];
    if (total <= 0) throw new Error("tile layout leaves pixels uncovered (margin too large)");
    for (let i = 0; i < t; i++) out[i * n + q] = raw[i * n + q] / total;
  }
  return out;
}

export function tileGrid(height, width, [th, tw], overlap) {
  const ys = axisStarts(height, th, overlap), xs = axisStarts(width, tw, overlap);
  const tiles = [];
  ys.forEach((y, row) => xs.forEach((x, col) => tiles.push({ y, x, h: th, w: tw, row, col })));
  return tiles;
}

/** (th, tw) of at most maxPx px covering the photo in the fewest computed px (tiling.even_tiles). */
export function evenTiles(height, width, { maxPx, overlap, minimum = 32 }) {
  const pad = Math.floor(overlap / 2);
  const ceilDiv = (a, b) => -Math.floor(-a / b);
  const low = Math.max(minimum, overlap + 1);
  let best = null;
  for (let ny = 1; ny < Math.floor(height / Math.max(minimum - overlap, 1)) + 2; ny++) {
    const th = Math.max(ceilDiv(height + 2 * pad + (ny - 1) * overlap, ny), minimum, overlap + 1);
    if (th * low > maxPx) continue;
    let nx = 1, tw;
    for (;;) {
      tw = Math.max(ceilDiv(width + 2 * pad + (nx - 1) * overlap, nx), minimum, overlap + 1);
      if (th * tw <= maxPx || tw <= low) break;
      nx += 1;
    }
    const cost = axisStarts(height, th, overlap).length * axisStarts(width, tw, overlap).length * th * tw;
    if (best === null || cost < best[0]) best = [cost, th, tw];
  }
  return best === null ? [low, low] : [best[1], best[2]];
}

/**
 * Run `runBatch` (async, tiles -> outputs, each {data,width,height,channels}) over uniform tiles
 * of `image` and blend at output `scale`. Rows are finished band by band: `finish(rows)` maps a
 * finished float band {data,width,height,channels} to what `sink(y0, part)` receives; without a
 * sink the blended float image is returned. `perTile(out, tile)` may adjust each output first.
 */
export async function tileImage(image, runBatch, {
  tile, overlap, scale = 1, batch = 1, margin = 0, ramp = "cosine", perTile = null, finish = null, sink = null,
  progress = null,
}) {
  const { height, width } = image;
  const [th, tw] = Array.isArray(tile) ? tile : [tile, tile];
  const ys = axisStarts(height, th, overlap), xs = axisStarts(width, tw, overlap);
  const wy = axisWeights(height, ys, th, overlap, { scale, margin, ramp });
  const wx = axisWeights(width, xs, tw, overlap, { scale, margin, ramp });
  const outH = height * scale, outW = width * scale;
  let result = null, band = null, bandLo = 0, channels = 0, done = 0;
  const total = ys.length * xs.length;
  const emit = (rows, nRows, y0) => {
    for (let i = 0; i < nRows; i += FLUSH_ROWS) {
      const n = Math.min(FLUSH_ROWS, nRows - i);
      const slice = { data: rows.subarray(i * outW * channels, (i + n) * outW * channels), width: outW, height: n, channels };
      const part = finish ? finish(slice) : slice;
      if (sink) { sink(y0 + i, part); continue; }
      if (!result) result = { data: new Float32Array(outH * outW * channels), width: outW, height: outH, channels };
      result.data.set(part.data, (y0 + i) * outW * channels);
    }
  };
  for (let r = 0; r < ys.length; r++) {
    const y = ys[r];
    const lo = Math.max(y * scale, 0), hi = Math.min((y + th) * scale, outH);
    for (let c0 = 0; c0 < xs.length; c0 += batch) {
      const cols = [];
      for (let c = c0; c < Math.min(c0 + batch, xs.length); c++) cols.push(c);
      const tiles = cols.map((c) => crop(image, y, xs[c], th, tw));
      const outputs = await runBatch(tiles);
      if (outputs.length !== cols.length || outputs.some((o) => o.height !== th * scale || o.width !== tw * scale)) {
        throw new Error(`runBatch returned the wrong tile size, expected ${th * scale}x${tw * scale}`);
      }
      if (!band) {
        channels = outputs[0].channels;
        band = new Float32Array((hi - lo) * outW * channels);
        bandLo = lo;
      }
      cols.forEach((c, k) => {
        let out = outputs[k];
        if (perTile) out = perTile(out, { y, x: xs[c], h: th, w: tw, row: r, col: c });
        const x0 = Math.max(xs[c] * scale, 0), x1 = Math.min((xs[c] + tw) * scale, outW);
        const oy = y * scale, ox = xs[c] * scale, ow = out.width;
        for (let yy = lo; yy < hi; yy++) {
          const wyv = wy[r * outH + yy];
          const brow = (yy - bandLo) * outW;
          const orow = (yy - oy) * ow;
          for (let xx = x0; xx < x1; xx++) {
            const weight = Math.fround(wyv * wx[c * outW + xx]);
            const b = (brow + xx) * channels, o = (orow + xx - ox) * channels;
            for (let ch = 0; ch < channels; ch++) band[b + ch] = Math.fround(band[b + ch] + Math.fround(out.data[o + ch] * weight));
          }
        }
      });
      done += cols.length;
      if (progress) progress(done, total);
    }
    const final = r === ys.length - 1 ? outH : Math.max(ys[r + 1] * scale, 0);
    if (final > bandLo) emit(band, final - bandLo, bandLo);
    if (r < ys.length - 1) {
      const nextHi = Math.min((ys[r + 1] + th) * scale, outH);
      const carry = band.subarray((final - bandLo) * outW * channels);
      const next = new Float32Array((nextHi - final) * outW * channels);
      next.set(carry.subarray(0, Math.min(carry.length, next.length)));
      band = next;
      bandLo = final;
    }
  }
  return result;
}
