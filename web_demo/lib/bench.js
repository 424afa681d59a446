// On-device benchmark in the JSON schema of `edgephoto bench` (edgephoto/bench/runner.py,
// schema "edgephoto.bench/1"), so a phone's numbers merge with the rest (`edgephoto bench
// compare`, `--render`). Statistics as bench/stats.py: type-7 percentiles, MAD, IQR, outliers.

import { fitToInput, hwOf, modelFacts, modelInput } from "./preprocess.js";

export const SCHEMA = "edgephoto.bench/1";

export function percentile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  const rank = (q / 100) * (s.length - 1), lo = Math.floor(rank), hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export function summarize(values) {
  const median = percentile(values, 50), q1 = percentile(values, 25), q3 = percentile(values, 75);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const stdev = values.length < 2 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  const fence = q3 + 3 * (q3 - q1);
  return {
    n: values.length, min: Math.min(...values), median, mean, p90: percentile(values, 90), p99: percentile(values, 99),
    max: Math.max(...values), stdev, mad: percentile(values.map((v) => Math.abs(v - median)), 50), iqr: q3 - q1,
    outliers: values.filter((v) => v > fence).length,
  };
}

/** bench/stats.interleaved_schedule: round r runs r % count, r % count + 1, ... */
export function interleavedSchedule(count, runs) {
  const order = [];
  for (let r = 0; r < runs; r++) for (let k = 0; k < count; k++) order.push((r + k) % count);
  return order;
}

/** runner.quality: the parity and accuracy numbers the converter wrote, condensed. */
export function quality(manifest) {
  const out = {};
  const parity = manifest.parity || {};
  const perOutput = Object.values(parity.outputs || {}).filter((v) => v && typeof v === "object");
  if (perOutput.length) {
    const metrics = perOutput.map((v) => v.metric).filter((v) => typeof v === "number");
    out.parity_metric = parity.metric;
    out.parity_value = metrics.length ? Math.min(...metrics) : null;
    out.parity_max_abs = Math.max(...perOutput.map((v) => Number(v.max_abs || 0)));
  }
  const accuracy = manifest.accuracy || {};
  if ("drop" in accuracy) {
    out.accuracy_metric = (accuracy.limit || {}).metric;
    out.accuracy_drop = accuracy.drop;
    out.accuracy_unit = (accuracy.limit || {}).unit || "";
  }
  return out;
}

/** The feed bench's prepare_feeds makes: the photo fitted to the input, model_input. */
export function feedFor(manifest, photo) {
  const facts = modelFacts(manifest);
  const tensor = facts.inputs[0];
  let [h, w] = hwOf(tensor);
  if (h === null || w === null) [h, w] = [facts.tile || 128, facts.tile || 128];
  const { fitted } = fitToInput(photo, [h, w], "stretch");
  const { data, channels } = modelInput(fitted, tensor);
  const dims = tensor.layout === "NCHW" ? [1, channels, h, w] : [1, h, w, channels];
  return { [tensor.name]: { data, dims, dtype: tensor.dtype } };
}

function machine(runtime) {
  const ua = navigator.userAgentData;
  return {
    edgephoto: "web_demo",
    platform: { system: "browser", release: navigator.userAgent, machine: ua && ua.platform ? ua.platform : navigator.platform,
      python: null, libc: null, mobile: ua ? ua.mobile : /Mobi/.test(navigator.userAgent) },
    cpu: { arch: null, cores: navigator.hardwareConcurrency || null, usable_cores: navigator.hardwareConcurrency || null,
      model: `browser ${ua && ua.brands ? ua.brands.filter((b) => !/Not.?A.?Brand/i.test(b.brand)).map((b) => `${b.brand} ${b.version}`).join(", ") : navigator.userAgent}` },
    engines: { "onnxruntime-web": { engine: "onnxruntime-web", version: runtime.version, usable: true, installed: true,
      devices: { [runtime.provider === "wasm" ? "cpu" : "gpu"]: runtime.provider }, threads: runtime.threads,
      cross_origin_isolated: Boolean(globalThis.crossOriginIsolated), note: runtime.note } },
    peak: null,
    load_average: null,
  };
}

/**
 * Benchmark loaded backends (engine.loadArtifact results) on one photo: cold load facts from
 * loading, `warmup` untimed runs each, then `runs` timed runs each, interleaved.
 */
export async function benchmark(loaded, photo, runtime, { warmup = 5, runs = 30, onProgress = null } = {}) {
  const started = Date.now();
  const feeds = loaded.map((b) => feedFor(b.manifest, photo));
  const first = [];
  for (let i = 0; i < loaded.length; i++) {
    const t0 = performance.now();
    await loaded[i].run(feeds[i]);
    first.push(performance.now() - t0);
    for (let k = 1; k < warmup; k++) await loaded[i].run(feeds[i]);
  }
  const samples = loaded.map(() => []);
  const order = interleavedSchedule(loaded.length, runs);
  for (let s = 0; s < order.length; s++) {
    const i = order[s];
    const t0 = performance.now();
    await loaded[i].run(feeds[i]);
    samples[i].push(performance.now() - t0);
    if (onProgress) onProgress(s + 1, order.length);
  }
  const firstSeen = {};
  const results = loaded.map((b, i) => {
    const m = b.manifest, latency = summarize(samples[i]);
    const label = `${m.model} ${m.target}-${m.precision} @${b.describe.backend}`;
    const result = {
      label, artifact: b.describe.model, model: m.model, task: m.task, target: m.target, precision: m.precision,
      size_bytes: b.sizeBytes, backend: b.describe, warnings: [],
      feed: Object.fromEntries(Object.entries(feeds[i]).map(([k, v]) => [k, { shape: v.dims, dtype: v.dtype }])),
      load: { verify_ms: null, import_ms: null, fetch_ms: b.load.fetch_ms, load_ms: b.load.load_ms, first_run_ms: first[i],
        cold_start_ms: b.load.fetch_ms + b.load.load_ms + first[i] },
      latency_ms: latency, cpu_ms: null, throughput_per_s: latency.mean ? 1000 / latency.mean : null,
      peak_rss_mb: null, base_rss_mb: null, quality: quality(m), work: null, samples_ms: samples[i], cpu_samples_ms: null,
    };
    const base = firstSeen[m.model] || (firstSeen[m.model] = result);
    const ratio = (v, b) => (v !== null && b ? v / b : null); // bench/stats.versus
    result.vs_baseline = base === result ? null : {
      baseline: base.label, speedup_median: ratio(base.latency_ms.median, latency.median),
      median_ratio: ratio(latency.median, base.latency_ms.median), p90_ratio: ratio(latency.p90, base.latency_ms.p90),
      size_ratio: ratio(result.size_bytes, base.size_bytes), peak_rss_ratio: null,
      cold_start_ratio: ratio(result.load.cold_start_ms, base.load.cold_start_ms),
    };
    return result;
  });
  return {
    schema: SCHEMA,
    created: new Date(started).toISOString().replace(/\.\d+Z$/, "Z"),
    duration_s: (Date.now() - started) / 1000,
    settings: { backend: "onnxruntime-web", device: runtime.provider === "wasm" ? "cpu" : "gpu", threads: runtime.threads,
      warmup, runs, input: "real", photos: "the photo on the page", peak: false, schedule: "round-robin, start rotating each round" },
    machine: machine(runtime),
    results,
    references: [],
    notes: ["measured in the browser by web_demo/bench.html: wall time around session.run; no CPU time or RSS in browsers"],
  };
}
