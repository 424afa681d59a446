// onnxruntime-web behind the backend interface model.js expects. WebGPU when the browser has
// an adapter and the WebGPU build was copied into vendor/, WASM otherwise (multithreaded when
// the page is cross-origin isolated: COOP/COEP headers).

const VENDOR = new URL("../vendor/", import.meta.url);
let runtime = null;

async function hasWebGPU() {
  if (typeof navigator === "undefined" || !navigator.gpu) return false;
  try { return Boolean(await navigator.gpu.requestAdapter()); } catch { return false; }
}

/** Load onnxruntime-web once: {ort, provider, threads, note}. */
export async function loadRuntime({ preferWebGPU = true } = {}) {
  if (runtime) return runtime;
  let ort = null, provider = "wasm", note = "";
  if (preferWebGPU && (await hasWebGPU())) {
    try {
      ort = await import(new URL("ort.webgpu.min.mjs", VENDOR).href);
      provider = "webgpu";
    } catch (err) {
      note = `WebGPU build not available (${err.message}); WASM instead`;
    }
  } else {
    note = "no WebGPU adapter: WASM";
  }
  if (!ort) ort = await import(new URL("ort.wasm.min.mjs", VENDOR).href);
  const asked = Number(new URLSearchParams(globalThis.location ? location.search : "").get("threads")) || null;
  const threads = globalThis.crossOriginIsolated ? asked || Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = VENDOR.href;
  ort.env.wasm.numThreads = threads;
  runtime = { ort, provider, threads, note, version: ort.env.versions ? ort.env.versions.web || ort.env.versions.common : "" };
  return runtime;
}

/** An artifact directory made by `edgephoto convert` (manifest.json + .onnx, or .tflite for
 *  LiteRT.js) as a backend. */
export async function loadArtifact(dirUrl, options = {}) {
  const base = new URL(dirUrl.endsWith("/") ? dirUrl : `${dirUrl}/`, location.href);
  const manifest = await (await fetch(new URL("manifest.json", base))).json();
  const tflite = manifest.files.find((f) => f.path.endsWith(".tflite"));
  if (tflite) return (await import("./litert.js")).loadTfliteArtifact(base, manifest, tflite);
  const { ort, provider, threads } = await loadRuntime(options);
  const t0 = performance.now();
  const file = manifest.files.find((f) => f.path.endsWith(".onnx"));
  if (!file) throw new Error(`${dirUrl}: no .onnx or .tflite file in the manifest`);
  const bytes = new Uint8Array(await (await fetch(new URL(file.path, base))).arrayBuffer());
  const fetchMs = performance.now() - t0;
  const providers = provider === "wasm" ? ["wasm"] : [provider, "wasm"];
  const session = await ort.InferenceSession.create(bytes, { executionProviders: providers, graphOptimizationLevel: "all" });
  const loadMs = performance.now() - t0 - fetchMs;
  return {
    manifest,
    session,
    inputs: manifest.inputs.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    outputs: manifest.outputs.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    describe: { backend: "onnxruntime-web", requested_device: "auto", device: provider === "wasm" ? "cpu" : "gpu",
      accelerator: provider, threads, precision_hint: null, batch: false, model: new URL(file.path, base).pathname,
      engine_version: (await loadRuntime()).version },
    load: { fetch_ms: fetchMs, load_ms: loadMs },
    sizeBytes: bytes.byteLength,
    async run(feeds) {
      const inputs = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      const out = await session.run(inputs);
      const result = {};
      for (const [name, t] of Object.entries(out)) result[name] = { data: t.data, dims: t.dims.slice() };
      return result;
    },
  };
}
