// The benchmark page: every artifact in artifacts/index.json, timed on the sample photo, results
// in edgephoto bench's JSON schema (download, or window.edgephotoBench.run() from tests).
import { benchmark } from "./lib/bench.js";
import { loadArtifact, loadRuntime } from "./lib/engine.js";

const $ = (id) => document.getElementById(id);

async function decode(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
  return { data: rgb, width: bitmap.width, height: bitmap.height };
}

async function run({ runs = Number($("runs").value), warmup = Number($("warmup").value) } = {}) {
  const index = await (await fetch("artifacts/index.json")).json();
  const runtime = await loadRuntime();
  $("engine").textContent = `onnxruntime-web ${runtime.version} · ${runtime.provider} ×${runtime.threads}`;
  const photo = await decode(await (await fetch(index.sample)).blob());
  const dirs = [...new Set(Object.values(index.models))];
  $("status").textContent = "loading…";
  const loaded = [];
  for (const dir of dirs) loaded.push(await loadArtifact(dir));
  const data = await benchmark(loaded, photo, runtime, { runs, warmup,
    onProgress: (k, n) => { $("status").textContent = `run ${k}/${n}`; } });
  $("status").textContent = `done in ${data.duration_s.toFixed(1)} s`;
  $("table").innerHTML = "<tr><th>model</th><th>median ms</th><th>p90 ms</th><th>cold start ms</th><th>MB</th></tr>" +
    data.results.map((r) => `<tr><td>${r.label}</td><td>${r.latency_ms.median.toFixed(2)}</td><td>${r.latency_ms.p90.toFixed(2)}</td>` +
      `<td>${r.load.cold_start_ms.toFixed(0)}</td><td>${(r.size_bytes / 1e6).toFixed(2)}</td></tr>`).join("");
  const text = JSON.stringify(data, null, 2);
  $("json").textContent = text;
  const link = $("download");
  link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  link.hidden = false;
  return data;
}

$("start").addEventListener("click", () => run().catch((err) => { $("status").textContent = `error: ${err.message}`; }));
window.edgephotoBench = { run };
