// Stage what the app serves: onnxruntime-web's files into vendor/ (WASM only with --wasm-only,
// else also the WebGPU build), artifacts made by `edgephoto convert` into artifacts/ with an
// index.json of roles, the sample photo, and precache.json (what the service worker caches).
// usage: node tools/stage.mjs --artifacts DIR --sample PHOTO.jpg [--wasm-only]
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ORT = join(ROOT, "node_modules", "onnxruntime-web", "dist");
const WASM = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
const WEBGPU = ["ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"];
const LITERT = join(ROOT, "node_modules", "@litertjs");
const LITERT_FILES = [["core/dist/index.js", "core.js"], ["wasm-utils/dist/index.js", "wasm-utils.js"],
  ...["litert_wasm_internal", "litert_wasm_threaded_internal", "litert_wasm_compat_internal"]
    .flatMap((n) => [`${n}.js`, `${n}.wasm`].map((f) => [`core/wasm/${f}`, f]))];
// role -> [zoo model, target]: what the page runs (the pipeline's defaults, a fixed-tile
// upscaler, and the selfie model as .tflite for LiteRT.js)
export const ROLES = { depth: ["fastdepth", "onnx"], segmentation: ["selfie", "onnx"], upscale: ["fsrcnn-x2", "onnx"],
  upscale_tiled: ["esrgan-slim-x2", "onnx"], segmentation_litert: ["selfie", "tflite"] };

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
const artifacts = opt("--artifacts"), sample = opt("--sample");
if (!artifacts || !sample) throw new Error("usage: node tools/stage.mjs --artifacts DIR --sample PHOTO.jpg [--wasm-only]");

const vendor = join(ROOT, "vendor");
rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
for (const name of args.includes("--wasm-only") ? WASM : [...WASM, ...WEBGPU]) copyFileSync(join(ORT, name), join(vendor, name));
mkdirSync(join(vendor, "litert"));
for (const [src, dst] of LITERT_FILES) copyFileSync(join(LITERT, src), join(vendor, "litert", dst));

const staged = join(ROOT, "artifacts");
rmSync(staged, { recursive: true, force: true });
const models = {};
for (const [role, [model, target]] of Object.entries(ROLES)) {
  const src = join(artifacts, model, `${target}-fp32`);
  if (!existsSync(join(src, "manifest.json"))) throw new Error(`${src}: no artifact (run: edgephoto convert -m ${model} -t ${target} -o ${artifacts})`);
  const manifest = JSON.parse(readFileSync(join(src, "manifest.json"), "utf8"));
  const dst = join(staged, model, `${target}-fp32`);
  mkdirSync(dst, { recursive: true });
  copyFileSync(join(src, "manifest.json"), join(dst, "manifest.json"));
  for (const f of manifest.files) {
    const bytes = readFileSync(join(src, f.path));
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== f.sha256) throw new Error(`${src}/${f.path}: sha256 ${sha} != manifest ${f.sha256}`);
    writeFileSync(join(dst, f.path), bytes);
  }
  models[role] = `artifacts/${model}/${target}-fp32`;
}
copyFileSync(sample, join(staged, "sample.jpg"));
writeFileSync(join(staged, "index.json"), `${JSON.stringify({ models, sample: "artifacts/sample.jpg" }, null, 2)}\n`);

const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
const shell = ["index.html", "app.js", "style.css", "manifest.webmanifest", "bench.html", "bench.js",
  ...readdirSync(join(ROOT, "lib")).map((n) => `lib/${n}`), ...readdirSync(join(ROOT, "icons")).map((n) => `icons/${n}`)];
const urls = ["./", ...shell, ...walk(vendor).map((p) => relative(ROOT, p)), ...walk(staged).map((p) => relative(ROOT, p))];
const hash = createHash("sha256");
for (const u of urls.slice(1)) hash.update(u).update(readFileSync(join(ROOT, u)));
writeFileSync(join(ROOT, "precache.json"), `${JSON.stringify({ version: hash.digest("hex").slice(0, 12), urls }, null, 2)}\n`);
const bytes = urls.slice(1).reduce((n, u) => n + statSync(join(ROOT, u)).size, 0);
console.log(`staged ${Object.keys(models).length} artifacts, ${readdirSync(vendor).length} vendor files; precache ${urls.length} urls, ${(bytes / 1e6).toFixed(1)} MB`);
