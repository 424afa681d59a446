// The demo in headless Chromium (Debian's /usr/bin/chromium via playwright-core) with phone
// emulation: load, install facts, offline reload, depth / mask / cut-out / bokeh / upscale on the
// sample photo compared with the Python runtime's outputs (tools/python_reference.py), the
// benchmark page's JSON, screenshots in test-artifacts/. Prints "N passed, N failed".
// usage: node test/browser_test.mjs REFERENCE_DIR
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, devices } from "playwright-core";

import { serve } from "../server.mjs";
import { assert, run, test } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "test-artifacts");
const REF = process.argv[2] || join(OUT, "reference");
const FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic"];
const DEVICES = ["Pixel 7", "iPhone 14"];
// "the same": thresholds a correct port on the same pixels clears with a wide margin; a wrong
// resize, layout, normalisation or blend falls far below them
const SAME = { iou: 0.999, maskMeanAbs: 2e-3, depthPsnr: 60, upscalePsnr: 50 };
const DECODED = { iou: 0.98, photoMeanAbs: 2 }; // with Chromium's own JPEG decoding

mkdirSync(OUT, { recursive: true });
const ref = JSON.parse(readFileSync(join(REF, "reference.json"), "utf8"));
const refBytes = (name) => readFileSync(join(REF, `${name}.bin`));
const refFloat = (name) => { const b = refBytes(name); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const [H, W] = ref.photo.shape;
const photoBytes = refBytes("photo");
const fromB64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const asFloat = (u8) => new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4);

function iou(a, b) {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) { const x = a[i] > 0.5, y = b[i] > 0.5; inter += x && y; union += x || y; }
  return union ? inter / union : 1;
}
const meanAbs = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]); return s / a.length; };
function psnr(a, b, peak) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  const mse = s / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}
const range = (a) => { let lo = Infinity, hi = -Infinity; for (const v of a) { lo = Math.min(lo, v); hi = Math.max(hi, v); } return hi - lo; };

const server = await serve(0);
const base = `http://127.0.0.1:${server.address().port}/`;
const report = { url: base, thresholds: { same: SAME, decoded: DECODED }, devices: {} };

for (const name of DEVICES) {
  const { defaultBrowserType, ...device } = devices[name];
  const profile = mkdtempSync(join(tmpdir(), "edgephoto-chromium-"));
  let context = null, page = null;
  const facts = (report.devices[name] = { emulated: { userAgent: device.userAgent, viewport: device.viewport, isMobile: device.isMobile } });
  const slug = name.toLowerCase().replace(/\s+/g, "-");

  test(`${name}: page loads cross-origin isolated on onnxruntime-web WASM`, async () => {
    context = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", args: FLAGS, headless: true, ...device });
    page = await context.newPage();
    page.on("pageerror", (e) => console.log(`[${name}] page error: ${e.message}`));
    await page.goto(base, { waitUntil: "load" });
    const info = await page.evaluate(() => window.edgephotoDemo.ready);
    facts.runtime = info.runtime;
    assert(info.runtime.crossOriginIsolated === true, "not cross-origin isolated (COOP/COEP)");
    assert(info.runtime.provider === "wasm", `provider ${info.runtime.provider}`);
  });

  test(`${name}: installable (manifest, icons, service worker) per Chromium`, async () => {
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    facts.installability_errors = installabilityErrors;
    assert(installabilityErrors.length === 0, JSON.stringify(installabilityErrors));
  });

  test(`${name}: depth, mask (onnxruntime-web and LiteRT.js), cut-out, bokeh, upscale on the Python runtime's pixels match the Python outputs`, async () => {
    await page.evaluate(([b64, w, h]) => window.edgephotoDemo.setPhotoPixels(b64, w, h), [photoBytes.toString("base64"), W, H]);
    const results = await page.evaluate(() => window.edgephotoDemo.runAll());
    facts.steps = results;
    facts.load = await page.evaluate(() => window.edgephotoDemo.loadTimes());
    const out = async (k) => fromB64(await page.evaluate((n) => window.edgephotoDemo.outputBase64(n), k));
    const mask = asFloat(await out("mask")), depth = asFloat(await out("depth")), litert = asFloat(await out("mask_litert"));
    const up = await out("upscale"), tiled = await out("upscale_tiled");
    const rm = refFloat("mask"), rd = refFloat("depth");
    const rl = refFloat("mask_litert");
    const m = { mask_iou: iou(mask, rm), mask_mean_abs: meanAbs(mask, rm), depth_psnr: psnr(depth, rd, range(rd)),
      litert_mask_iou: iou(litert, rl), litert_mask_mean_abs: meanAbs(litert, rl),
      upscale_psnr: psnr(up, refBytes("upscale"), 255), upscale_tiled_psnr: psnr(tiled, refBytes("upscale_tiled"), 255) };
    facts.same_pixels = m;
    assert(m.mask_iou >= SAME.iou && m.mask_mean_abs <= SAME.maskMeanAbs, `mask ${JSON.stringify(m)}`);
    assert(m.litert_mask_iou >= SAME.iou && m.litert_mask_mean_abs <= SAME.maskMeanAbs, `LiteRT.js mask ${JSON.stringify(m)}`);
    assert(m.depth_psnr >= SAME.depthPsnr, `depth PSNR ${m.depth_psnr}`);
    assert(m.upscale_psnr >= SAME.upscalePsnr && m.upscale_tiled_psnr >= SAME.upscalePsnr, `upscale ${JSON.stringify(m)}`);
    await page.screenshot({ path: join(OUT, `${slug}.png`), fullPage: true });
  });

  test(`${name}: the sample JPEG decoded by Chromium gives the same mask`, async () => {
    await page.evaluate(() => window.edgephotoDemo.setPhotoFromUrl("artifacts/sample.jpg"));
    const pixels = fromB64(await page.evaluate(() => window.edgephotoDemo.photoBase64()));
    await page.evaluate(() => window.edgephotoDemo.runStep("mask"));
    const mask = asFloat(fromB64(await page.evaluate(() => window.edgephotoDemo.outputBase64("mask"))));
    facts.chromium_decoded = { photo_mean_abs: meanAbs(pixels, photoBytes), mask_iou: iou(mask, refFloat("mask")) };
    assert(facts.chromium_decoded.photo_mean_abs <= DECODED.photoMeanAbs, JSON.stringify(facts.chromium_decoded));
    assert(facts.chromium_decoded.mask_iou >= DECODED.iou, JSON.stringify(facts.chromium_decoded));
  });

  test(`${name}: works offline after the first visit (service worker cache)`, async () => {
    await context.setOffline(true);
    await page.reload({ waitUntil: "load" });
    await page.evaluate(() => window.edgephotoDemo.ready);
    await page.evaluate(() => window.edgephotoDemo.setPhotoFromUrl("artifacts/sample.jpg"));
    const r = await page.evaluate(() => window.edgephotoDemo.runStep("depth"));
    facts.offline_depth = r.times;
    assert(r.width === W && r.height === H, "offline depth result");
    await context.setOffline(false);
  });

  test(`${name}: benchmark page writes edgephoto bench JSON`, async () => {
    await page.goto(`${base}bench.html`, { waitUntil: "load" });
    const data = await page.evaluate(() => window.edgephotoBench.run({ runs: 3, warmup: 1 }));
    writeFileSync(join(OUT, `bench-${slug}.json`), `${JSON.stringify(data, null, 2)}\n`);
    assert(data.schema === "edgephoto.bench/1", data.schema);
    const keys = ["label", "artifact", "model", "target", "precision", "size_bytes", "backend", "load", "latency_ms",
      "throughput_per_s", "peak_rss_mb", "quality", "vs_baseline"];
    for (const r of data.results) {
      for (const k of keys) assert(k in r, `result lacks ${k}`);
      for (const k of ["n", "min", "median", "mean", "p90", "p99", "max", "stdev"]) assert(k in r.latency_ms, `latency lacks ${k}`);
    }
    facts.bench = Object.fromEntries(data.results.map((r) => [r.label, { median_ms: r.latency_ms.median, cold_start_ms: r.load.cold_start_ms }]));
    await page.screenshot({ path: join(OUT, `bench-${slug}.png`), fullPage: true });
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
}

const failed = await run("web demo in Chromium");
report.python_ms = Object.fromEntries(Object.entries(ref.outputs).map(([k, v]) => [k, v.ms]));
writeFileSync(join(OUT, "browser_results.json"), `${JSON.stringify(report, null, 2)}\n`);
server.close();
process.exitCode = failed ? 1 : 0;
