// The demo page: a photo from the camera, the gallery or the sample, then depth, person mask,
// cut-out, bokeh and upscale on the artifacts listed in artifacts/index.json, each result shown
// with the time it took. window.edgephotoDemo is the hook the browser tests drive.

import { bokeh, cutout, normalizeDepth } from "./lib/effects.js";
import { loadArtifact, loadRuntime } from "./lib/engine.js";
import { modelFacts } from "./lib/preprocess.js";
import { estimateDepth, segment, upscale } from "./lib/tasks.js";

const $ = (id) => document.getElementById(id);
// larger photos: a centre crop of this many px is upscaled (the tiled ESRGAN is ~10x slower per px)
const UPSCALE_MAX_PX = { upscale: 1 << 20, upscale_tiled: 192 * 192 };
const state = { photo: null, index: null, backends: {}, cache: {}, outputs: {}, results: {} };

async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
  return { data: rgb, width: bitmap.width, height: bitmap.height };
}

function toCanvas(canvas, image) {
  const { width, height } = image;
  canvas.width = width;
  canvas.height = height;
  let rgba = image.data;
  if (rgba.length === width * height * 3) {
    rgba = new Uint8ClampedArray(width * height * 4);
    for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) { rgba[i] = image.data[j]; rgba[i + 1] = image.data[j + 1]; rgba[i + 2] = image.data[j + 2]; rgba[i + 3] = 255; }
  } else if (rgba.length === width * height) {
    const grey = rgba;
    rgba = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < grey.length; i++) { rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = grey[i]; rgba[4 * i + 3] = 255; }
  }
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), width, height), 0, 0);
  return canvas;
}

async function setPhoto(blob, label) {
  return showPhoto(await decode(blob), label);
}

function showPhoto(photo, label) {
  state.photo = photo;
  state.cache = {};
  $("photo-figure").hidden = false;
  toCanvas($("photo"), state.photo);
  $("photo-info").textContent = `${label}: ${state.photo.width}×${state.photo.height}`;
  return { width: state.photo.width, height: state.photo.height };
}

async function backend(role) {
  if (!state.backends[role]) {
    const dir = state.index.models[role];
    if (!dir) throw new Error(`no '${role}' artifact in artifacts/index.json`);
    const loaded = await loadArtifact(dir);
    const facts = modelFacts(loaded.manifest);
    // every engine call timed: the model's share of a step
    const timed = { ...loaded, calls: 0, modelMs: 0, run: async (feeds) => {
      const t0 = performance.now();
      const out = await loaded.run(feeds);
      timed.modelMs += performance.now() - t0;
      timed.calls += 1;
      return out;
    } };
    state.backends[role] = { backend: timed, facts };
  }
  return state.backends[role];
}

async function timedStep(role, fn) {
  const { backend: b, facts } = await backend(role);
  b.calls = 0;
  b.modelMs = 0;
  const t0 = performance.now();
  const value = await fn(b, facts);
  const total = performance.now() - t0;
  return { value, times: { total_ms: total, model_ms: b.modelMs, other_ms: total - b.modelMs, engine_calls: b.calls }, model: facts.model };
}

function centreCrop(photo, maxPx) {
  if (photo.width * photo.height <= maxPx) return photo;
  const side = Math.floor(Math.sqrt(maxPx));
  const w = Math.min(side, photo.width), h = Math.min(side, photo.height);
  const x0 = (photo.width - w) >> 1, y0 = (photo.height - h) >> 1, data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(photo.data.subarray(((y0 + y) * photo.width + x0) * 3, ((y0 + y) * photo.width + x0 + w) * 3), y * w * 3);
  return { data, width: w, height: h, cropped: true };
}

async function maskOf() {
  if (!state.cache.mask) state.cache.mask = await timedStep("segmentation", (b, f) => segment(b, f, state.photo));
  return state.cache.mask;
}

async function depthOf() {
  if (!state.cache.depth) state.cache.depth = await timedStep("depth", (b, f) => estimateDepth(b, f, state.photo));
  return state.cache.depth;
}

const STEPS = {
  async depth() {
    const r = await depthOf();
    state.outputs.depth = r.value.depth.data;
    const n = normalizeDepth(r.value.depth).data;
    const grey = Uint8Array.from(n, (v) => Math.round((1 - v) * 255)); // near = bright, as depth.png
    return { title: "Depth", image: { data: grey, width: state.photo.width, height: state.photo.height }, ...r };
  },
  async mask() {
    const r = await maskOf();
    state.outputs.mask = r.value.data;
    const grey = Uint8Array.from(r.value.data, (v) => Math.round(v * 255));
    return { title: "Person mask", image: { data: grey, width: state.photo.width, height: state.photo.height }, ...r };
  },
  async mask_litert() {
    const r = await timedStep("segmentation_litert", (b, f) => segment(b, f, state.photo));
    state.outputs.mask_litert = r.value.data;
    const grey = Uint8Array.from(r.value.data, (v) => Math.round(v * 255));
    return { title: "Person mask, .tflite on LiteRT.js", image: { data: grey, width: state.photo.width, height: state.photo.height }, ...r };
  },
  async cutout() {
    const r = await maskOf();
    const t0 = performance.now();
    const image = cutout(state.photo, r.value);
    return { title: "Cut-out", image, model: r.model, times: { ...r.times, effect_ms: performance.now() - t0 } };
  },
  async bokeh() {
    const m = await maskOf(), d = await depthOf();
    const t0 = performance.now();
    const image = bokeh(state.photo, m.value, d.value.depth);
    return { title: "Bokeh", image, model: `${m.model} + ${d.model}`,
      times: { mask_ms: m.times.total_ms, depth_ms: d.times.total_ms, effect_ms: performance.now() - t0 } };
  },
  async upscale() { return upscaleStep("upscale", "Upscale ×2"); },
  async upscale_tiled() { return upscaleStep("upscale_tiled", "Upscale ×2, tiled"); },
};

async function upscaleStep(role, title) {
  const source = centreCrop(state.photo, UPSCALE_MAX_PX[role]);
  const r = await timedStep(role, (b, f) => upscale(b, f, source));
  state.outputs[role] = r.value.data;
  return { title: source.cropped ? `${title} (centre ${source.width}×${source.height})` : title, image: r.value, ...r };
}

function card(result) {
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.step = result.step;
  const h = document.createElement("h2");
  h.textContent = `${result.title} · ${result.model}`;
  const canvas = toCanvas(document.createElement("canvas"), result.image);
  const t = document.createElement("div");
  t.className = "time";
  t.textContent = Object.entries(result.times).map(([k, v]) => `${k.replace(/_ms$/, "")} ${k.endsWith("_ms") ? `${v.toFixed(1)} ms` : v}`).join(" · ");
  el.append(h, canvas, t);
  return el;
}

async function runStep(name) {
  if (!state.photo) throw new Error("choose a photo first");
  $("status").textContent = `running ${name}…`;
  const result = { step: name, ...(await STEPS[name]()) };
  state.results[name] = { title: result.title, model: result.model, times: result.times, width: result.image.width, height: result.image.height };
  const old = document.querySelector(`.card[data-step="${name}"]`);
  const el = card(result);
  if (old) old.replaceWith(el); else $("results").append(el);
  $("status").textContent = "";
  return state.results[name];
}

async function runAll() {
  const out = {};
  for (const name of Object.keys(STEPS)) out[name] = await runStep(name);
  return out;
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function start() {
  if ("serviceWorker" in navigator) {
    // the staging's version in the worker's URL: a new staging installs a new worker and cache
    const version = await fetch("precache.json", { cache: "no-store" }).then((r) => r.json()).then((p) => p.version, () => "dev");
    navigator.serviceWorker.register(`sw.js?v=${version}`).catch((err) => console.warn("service worker:", err));
  }
  state.index = await (await fetch("artifacts/index.json")).json();
  const rt = await loadRuntime();
  $("engine").textContent = `onnxruntime-web ${rt.version} · ${rt.provider}${rt.threads > 1 ? ` ×${rt.threads} threads` : ""}${rt.note ? ` · ${rt.note}` : ""}`;
  const onFile = (e) => e.target.files[0] && setPhoto(e.target.files[0], e.target.files[0].name).catch(showError);
  $("camera").addEventListener("change", onFile);
  $("gallery").addEventListener("change", onFile);
  $("sample").addEventListener("click", async () => setPhoto(await (await fetch(state.index.sample)).blob(), "sample").catch(showError));
  document.querySelectorAll("[data-run]").forEach((b) => b.addEventListener("click", () => {
    (b.dataset.run === "all" ? runAll() : runStep(b.dataset.run)).catch(showError);
  }));
  return { runtime: { provider: rt.provider, threads: rt.threads, version: rt.version, note: rt.note, crossOriginIsolated: globalThis.crossOriginIsolated } };
}

function showError(err) {
  console.error(err);
  $("status").textContent = `error: ${err.message}`;
}

const ready = start();
window.edgephotoDemo = {
  ready,
  async setPhotoFromUrl(url) { return setPhoto(await (await fetch(url)).blob(), url); },
  /** Use given RGB pixels (base64 of H*W*3 bytes) instead of this browser's JPEG decoding. */
  setPhotoPixels(b64, width, height) {
    return showPhoto({ data: Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), width, height }, "pixels");
  },
  runStep,
  runAll,
  photoBase64: () => base64(state.photo.data),
  outputBase64(name) {
    const v = state.outputs[name];
    return base64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  },
  results: () => state.results,
  loadTimes: () => Object.fromEntries(Object.entries(state.backends).map(([k, v]) => [k, v.backend.load])),
};
