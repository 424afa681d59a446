// The golden vectors' stand-in models (edgephoto/runtime/golden/formula.py), as a JS backend.
const f = Math.fround;

export class FormulaBackend {
  constructor(kind, inputs, outputs, scale = 1) {
    Object.assign(this, { kind, inputs, outputs, scale });
  }

  async run(feeds) {
    const feed = feeds[this.inputs[0].name];
    const [n, h, w, c] = feed.dims;
    const s = this.scale;
    if (this.kind === "segment") {  // out = mean_c(x): a bright pixel is 'person'
      const out = new Float32Array(n * h * w);
      for (let q = 0; q < n * h * w; q++) {
        let sum = 0;
        for (let k = 0; k < c; k++) sum = f(sum + feed.data[q * c + k]);
        out[q] = f(sum / c);
      }
      return { [this.outputs[0].name]: { data: out, dims: [n, h, w, 1] } };
    }
    if (this.kind === "depth") {
      const out = new Float32Array(n * h * w);
      for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
        const p = ((b * h + i) * w + j) * c;
        let sum = 0;
        for (let k = 0; k < c; k++) sum = f(sum + feed.data[p + k]);
        const mean = f(sum / c);
        out[(b * h + i) * w + j] = f(f(f(1 + mean) + f(f(0.05) * i)) - f(f(0.03) * j));
      }
      return { [this.outputs[0].name]: { data: out, dims: [n, h, w, 1] } };
    }
    const H = h * s, W = w * s, out = new Float32Array(n * H * W * c);
    for (let b = 0; b < n; b++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const ramp = f(f(0.02) * ((i + 2 * j) % 5));
      for (let k = 0; k < c; k++) {
        const x = feed.data[((b * h + Math.floor(i / s)) * w + Math.floor(j / s)) * c + k];
        out[((b * H + i) * W + j) * c + k] = f(f(f(0.9) * x) + ramp);
      }
    }
    return { [this.outputs[0].name]: { data: out, dims: [n, H, W, c] } };
  }
}
