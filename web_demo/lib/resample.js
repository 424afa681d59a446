// Pillow's resampling, ported: the runtime resizes through Pillow (Image.resize), so the demo
// computes the same pixels. Two paths, as Pillow has them:
// - 8-bit RGB (fit_to_input of a photo): 22-bit fixed-point coefficients, uint8 between the
//   horizontal and the vertical pass, optional integer pre-reduction (reducing_gap=1.0).
// - float planes (mode 'F': depth maps, masks, chroma): double coefficients, float32 stores.
// Planes are {data, width, height} (row-major); RGB images {data: Uint8Array(h*w*3), width, height}.

const FILTERS = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};
const PRECISION_BITS = 22;

/** Pillow's precompute_coeffs: per output index the first input index, the tap count, weights. */
export function coefficients(inSize, in0, in1, outSize, filterName) {
  const filter = FILTERS[filterName];
  if (!filter) throw new Error(`unknown filter ${filterName}`);
  const scale = Math.fround(Math.fround(in1) - Math.fround(in0)) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = Math.fround(in0) + (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.f((x + xmin - center + 0.5) * ss);
      kk[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) kk[xx * ksize + x] /= ww;
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Float plane resize (Pillow mode 'F'): size [h, w], optional box [x0, y0, x1, y1] in input px. */
export function resizePlane(plane, [outH, outW], filterName = "bilinear", box = null) {
  const { width: inW, height: inH, data } = plane;
  const [bx0, by0, bx1, by1] = box || [0, 0, inW, inH];
  if (outW === inW && outH === inH && bx0 === 0 && by0 === 0 && bx1 === inW && by1 === inH) {
    return { width: inW, height: inH, data: Float32Array.from(data) };
  }
  const needH = outW !== inW || bx0 !== 0 || bx1 !== outW;
  const needV = outH !== inH || by0 !== 0 || by1 !== outH;
  const vert = coefficients(inH, by0, by1, outH, filterName);
  const yFirst = vert.bounds[0];
  const yLast = vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1];
  let cur = { width: inW, height: inH, data, offset: 0 };
  if (needH) {
    const hor = coefficients(inW, bx0, bx1, outW, filterName);
    const rows = yLast - yFirst;
    const tmp = new Float32Array(outW * rows);
    for (let yy = 0; yy < rows; yy++) {
      const src = (yy + yFirst) * inW;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = hor.bounds[2 * xx], n = hor.bounds[2 * xx + 1], k = xx * hor.ksize;
        let ss = 0;
        for (let x = 0; x < n; x++) ss += data[src + xmin + x] * hor.kk[k + x];
        tmp[yy * outW + xx] = ss;
      }
    }
    cur = { width: outW, height: rows, data: tmp, offset: yFirst };
  }
  if (!needV) return { width: cur.width, height: cur.height, data: Float32Array.from(cur.data) };
  const out = new Float32Array(cur.width * outH);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = vert.bounds[2 * yy] - cur.offset, n = vert.bounds[2 * yy + 1], k = yy * vert.ksize;
    for (let xx = 0; xx < cur.width; xx++) {
      let ss = 0;
      for (let y = 0; y < n; y++) ss += cur.data[(ymin + y) * cur.width + xx] * vert.kk[k + y];
      out[yy * cur.width + xx] = ss;
    }
  }
  return { width: cur.width, height: outH, data: out };
}

function fixedCoefficients(kk) {
  const out = new Int32Array(kk.length);
  for (let i = 0; i < kk.length; i++) {
    const v = kk[i] * (1 << PRECISION_BITS);
    out[i] = kk[i] < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return out;
}

const clip8 = (ss) => { const v = Math.floor(ss / (1 << PRECISION_BITS)); return v < 0 ? 0 : v > 255 ? 255 : v; };

/** 8-bit RGB resize with a convolution filter (Pillow's 8bpc path), box in input px. */
export function resizeRGB8(image, [outH, outW], filterName = "bilinear", box = null) {
  const { width: inW, height: inH, data } = image;
  const [bx0, by0, bx1, by1] = box || [0, 0, inW, inH];
  const needH = outW !== inW || bx0 !== 0 || bx1 !== outW;
  const needV = outH !== inH || by0 !== 0 || by1 !== outH;
  const vert = coefficients(inH, by0, by1, outH, filterName);
  const yFirst = vert.bounds[0];
  const yLast = vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1];
  const half = 1 << (PRECISION_BITS - 1);
  let cur = { width: inW, height: inH, data, offset: 0 };
  if (needH) {
    const hor = coefficients(inW, bx0, bx1, outW, filterName);
    const k32 = fixedCoefficients(hor.kk);
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(outW * rows * 3);
    for (let yy = 0; yy < rows; yy++) {
      const src = (yy + yFirst) * inW;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = hor.bounds[2 * xx], n = hor.bounds[2 * xx + 1], k = xx * hor.ksize;
        let s0 = half, s1 = half, s2 = half;
        for (let x = 0; x < n; x++) {
          const p = (src + xmin + x) * 3, c = k32[k + x];
          s0 += data[p] * c; s1 += data[p + 1] * c; s2 += data[p + 2] * c;
        }
        const o = (yy * outW + xx) * 3;
        tmp[o] = clip8(s0); tmp[o + 1] = clip8(s1); tmp[o + 2] = clip8(s2);
      }
    }
    cur = { width: outW, height: rows, data: tmp, offset: yFirst };
  }
  if (!needV) return { width: cur.width, height: cur.height, data: Uint8Array.from(cur.data) };
  const k32 = fixedCoefficients(vert.kk);
  const w = cur.width;
  const out = new Uint8Array(w * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = vert.bounds[2 * yy] - cur.offset, n = vert.bounds[2 * yy + 1], k = yy * vert.ksize;
    for (let xx = 0; xx < w; xx++) {
      let s0 = half, s1 = half, s2 = half;
      for (let y = 0; y < n; y++) {
        const p = ((ymin + y) * w + xx) * 3, c = k32[k + y];
        s0 += cur.data[p] * c; s1 += cur.data[p + 1] * c; s2 += cur.data[p + 2] * c;
      }
      const o = (yy * w + xx) * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
  return { width: w, height: outH, data: out };
}

/** Pillow's Image.reduce((fx, fy), box): block means, partial blocks at the far edges,
 *  rounded as Pillow does ((n/2 + sum) * floor(2^32 / (256 n)) >> 24). */
export function reduceRGB8(image, fx, fy, box = null) {
  const { width: inW, data } = image;
  const [x0, y0, x1, y1] = box || [0, 0, image.width, image.height];
  const outW = Math.ceil((x1 - x0) / fx), outH = Math.ceil((y1 - y0) / fy);
  const out = new Uint8Array(outW * outH * 3);
  for (let y = 0; y < outH; y++) {
    const ya = y0 + y * fy, yb = Math.min(ya + fy, y1);
    for (let x = 0; x < outW; x++) {
      const xa = x0 + x * fx, xb = Math.min(xa + fx, x1);
      const n = (yb - ya) * (xb - xa);
      const multiplier = Math.trunc(Math.fround(4294967296 / Math.fround(256 * n)));
      const amend = n >> 1;
      let s0 = amend, s1 = amend, s2 = amend;
      for (let yy = ya; yy < yb; yy++) {
        for (let xx = xa; xx < xb; xx++) {
          const p = (yy * inW + xx) * 3;
          s0 += data[p]; s1 += data[p + 1]; s2 += data[p + 2];
        }
      }
      const o = (y * outW + x) * 3;
      out[o] = Math.floor((s0 * multiplier) / 16777216);
      out[o + 1] = Math.floor((s1 * multiplier) / 16777216);
      out[o + 2] = Math.floor((s2 * multiplier) / 16777216);
    }
  }
  return { width: outW, height: outH, data: out };
}

/** Pillow's NEAREST resize (ImagingScaleAffine): source positions accumulated in doubles
 *  from the first output pixel's centre, truncated. */
export function nearestRGB8(image, [outH, outW]) {
  const { width: inW, height: inH, data } = image;
  const out = new Uint8Array(outW * outH * 3);
  const a0 = inW / outW, a4 = inH / outH;
  const xin = new Int32Array(outW);
  let xo = a0 * 0.5;
  for (let x = 0; x < outW; x++) { xin[x] = Math.min(Math.trunc(xo), inW - 1); xo += a0; }
  let yo = a4 * 0.5;
  for (let y = 0; y < outH; y++) {
    const yi = Math.min(Math.trunc(yo), inH - 1);
    yo += a4;
    for (let x = 0; x < outW; x++) {
      const p = (yi * inW + xin[x]) * 3, o = (y * outW + x) * 3;
      out[o] = data[p]; out[o + 1] = data[p + 1]; out[o + 2] = data[p + 2];
    }
  }
  return { width: outW, height: outH, data: out };
}

const SUPPORT = { box: 0.5, bilinear: 1, bicubic: 2 };

/** Image.resize(size, filter, reducing_gap=1.0) on 8-bit RGB, as fit_to_input calls it. */
export function resizeRGB8Reducing(image, [outH, outW], filterName = "bilinear") {
  const { width: inW, height: inH } = image;
  if (inW === outW && inH === outH) return { width: inW, height: inH, data: Uint8Array.from(image.data) };
  let box = [0, 0, inW, inH];
  const fx = Math.trunc(inW / outW) || 1, fy = Math.trunc(inH / outH) || 1;
  let src = image;
  if (fx > 1 || fy > 1) {
    const support = SUPPORT[filterName] - 0.5;
    const supX = support * (inW / outW), supY = support * (inH / outH);
    const safe = [Math.max(0, Math.trunc(0 - supX)), Math.max(0, Math.trunc(0 - supY)),
      Math.min(inW, Math.ceil(inW + supX)), Math.min(inH, Math.ceil(inH + supY))];
    src = reduceRGB8(image, fx, fy, safe);
    box = [(box[0] - safe[0]) / fx, (box[1] - safe[1]) / fy, (box[2] - safe[0]) / fx, (box[3] - safe[1]) / fy];
  }
  return resizeRGB8(src, [outH, outW], filterName, box);
}
