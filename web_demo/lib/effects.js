// Photo effects from a mask and a depth map: cut-out and bokeh, in linear light as
// edgephoto/runtime/effects.py does. The bokeh here is a simplified port (one separable blur
// mixed in by depth distance and mask), not checked against the Python effect.

const toLinear = Float32Array.from({ length: 256 }, (_, i) => {
  const v = i / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
});
const toSrgb8 = (v) => {
  const s = v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055;
  return Math.max(0, Math.min(255, Math.round(s * 255)));
};

/** RGBA with the mask as alpha. */
export function cutout(rgb, mask) {
  const n = rgb.width * rgb.height, out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = rgb.data[3 * i]; out[4 * i + 1] = rgb.data[3 * i + 1]; out[4 * i + 2] = rgb.data[3 * i + 2];
    out[4 * i + 3] = Math.round(Math.min(1, Math.max(0, mask.data[i])) * 255);
  }
  return { data: out, width: rgb.width, height: rgb.height };
}

/** effects.normalize_depth: 0 nearest .. 1 farthest from the 1st/99th percentiles. */
export function normalizeDepth(depth, { largerIsFarther = true } = {}) {
  const d = Float32Array.from(depth.data, (v) => (largerIsFarther ? v : -v));
  const sorted = Float32Array.from(d).sort();
  const q = (p) => { const r = (p / 100) * (sorted.length - 1), lo = Math.floor(r), hi = Math.min(lo + 1, sorted.length - 1); return sorted[lo] + (sorted[hi] - sorted[lo]) * (r - lo); };
  const lo = q(1), hi = q(99);
  if (hi - lo < 1e-6) return { ...depth, data: new Float32Array(d.length) };
  return { ...depth, data: Float32Array.from(d, (v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo)))) };
}

function boxBlur(plane, w, h, r) {
  const tmp = new Float32Array(plane.length), out = new Float32Array(plane.length);
  for (let y = 0; y < h; y++) {
    let s = 0, n = 0;
    for (let x = -r; x < w + r; x++) {
      if (x + r < w && x + r >= 0) { s += plane[y * w + x + r]; n++; }
      if (x - r - 1 >= 0 && x - r - 1 < w) { s -= plane[y * w + x - r - 1]; n--; }
      if (x >= 0 && x < w) tmp[y * w + x] = s / n;
    }
  }
  for (let x = 0; x < w; x++) {
    let s = 0, n = 0;
    for (let y = -r; y < h + r; y++) {
      if (y + r < h && y + r >= 0) { s += tmp[(y + r) * w + x]; n++; }
      if (y - r - 1 >= 0 && y - r - 1 < h) { s -= tmp[(y - r - 1) * w + x]; n--; }
      if (y >= 0 && y < h) out[y * w + x] = s / n;
    }
  }
  return out;
}

/** Background blurred by its depth distance from the subject, subject kept sharp by the mask. */
export function bokeh(rgb, mask, depth, { radius = null } = {}) {
  const { width: w, height: h } = rgb, n = w * h;
  radius = radius ?? Math.max(2, Math.round(Math.max(w, h) / 60));
  const d01 = normalizeDepth(depth).data;
  const subject = [];
  for (let i = 0; i < n; i++) if (mask.data[i] > 0.5) subject.push(d01[i]);
  subject.sort((a, b) => a - b);
  const focus = subject.length >= 16 ? subject[subject.length >> 1] : 0;
  const out = new Uint8ClampedArray(n * 4);
  const planes = [0, 1, 2].map((c) => boxBlur(boxBlur(Float32Array.from({ length: n }, (_, i) => toLinear[rgb.data[3 * i + c]]), w, h, radius), w, h, radius));
  for (let i = 0; i < n; i++) {
    const away = Math.min(1, Math.abs(d01[i] - focus) * 3);
    const amount = away * (1 - Math.min(1, Math.max(0, mask.data[i])));
    for (let c = 0; c < 3; c++) out[4 * i + c] = toSrgb8(toLinear[rgb.data[3 * i + c]] * (1 - amount) + planes[c][i] * amount);
    out[4 * i + 3] = 255;
  }
  return { data: out, width: w, height: h };
}
