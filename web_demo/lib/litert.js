// LiteRT.js (@litertjs/core 2.5.3) behind the backend interface model.js expects, for the
// `.tflite` artifacts: XNNPACK in WASM (threaded when cross-origin isolated and the browser has
// relaxed SIMD). The page's import map resolves "@litertjs/wasm-utils" (no bundler).

const VENDOR = new URL("../vendor/litert/", import.meta.url);
let runtime = null;

export async function loadLiteRtRuntime() {
  if (runtime) return runtime;
  const litert = await import(new URL("core.js", VENDOR).href);
  const relaxed = await litert.supportsFeature("relaxedSimd");
  const threads = Boolean(globalThis.crossOriginIsolated) && relaxed;
  await litert.loadLiteRt(VENDOR.href, threads ? { threads: true } : {});
  runtime = { litert, threads, variant: threads ? "threaded" : relaxed ? "relaxed-simd" : "compat" };
  return runtime;
}

/** A `.tflite` artifact directory (manifest.json + .tflite) as a backend. */
export async function loadTfliteArtifact(base, manifest, file) {
  const { litert, threads, variant } = await loadLiteRtRuntime();
  const t0 = performance.now();
  const bytes = new Uint8Array(await (await fetch(new URL(file.path, base))).arrayBuffer());
  const fetchMs = performance.now() - t0;
  const model = await litert.loadAndCompile(bytes, { accelerator: "wasm" });
  const loadMs = performance.now() - t0 - fetchMs;
  const outputDetails = model.getOutputDetails();
  return {
    manifest,
    inputs: manifest.inputs.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    outputs: manifest.outputs.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    describe: { backend: "litert.js", requested_device: "auto", device: "cpu", accelerator: `wasm (xnnpack, ${variant})`,
      threads: threads ? navigator.hardwareConcurrency || null : 1, precision_hint: null, batch: false,
      model: new URL(file.path, base).pathname, engine_version: "@litertjs/core 2.5.3" },
    load: { fetch_ms: fetchMs, load_ms: loadMs },
    sizeBytes: bytes.byteLength,
    async run(feeds) {
      const inputs = Object.values(feeds).map((t) => new litert.Tensor(t.data, t.dims));
      const outs = await model.run(inputs);
      const result = {};
      outs.forEach((t, k) => {
        const name = (manifest.outputs[k] || {}).name || outputDetails[k].name;
        result[name] = { data: t.toTypedArray().slice(), dims: Array.from(outputDetails[k].shape) };
        t.delete();
      });
      inputs.forEach((t) => t.delete());
      return result;
    },
  };
}
