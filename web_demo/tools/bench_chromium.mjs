// The benchmark page in headless Chromium with phone emulation: edgephoto bench JSON out.
// usage: node tools/bench_chromium.mjs --out FILE [--runs 30] [--warmup 5] [--device "Pixel 7"]
// (stage first: tools/stage.mjs). Wall time around session.run, interleaved across artifacts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, devices } from "playwright-core";

import { serve } from "../server.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const out = opt("--out", null);
if (!out) throw new Error("usage: node tools/bench_chromium.mjs --out FILE [--runs N] [--warmup N] [--device NAME]");
const runs = Number(opt("--runs", 30)), warmup = Number(opt("--warmup", 5)), name = opt("--device", "Pixel 7");
const FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic"];

const server = await serve(0);
const profile = mkdtempSync(join(tmpdir(), "edgephoto-bench-"));
const { defaultBrowserType, ...device } = devices[name];
const context = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", args: FLAGS, headless: true, ...device });
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/bench.html`, { waitUntil: "load" });
  const data = await page.evaluate(([r, w]) => window.edgephotoBench.run({ runs: r, warmup: w }), [runs, warmup]);
  data.machine.emulated_device = name;
  data.notes.push(`Chromium ${context.browser() ? context.browser().version() : ""} headless, ${name} emulation (viewport, UA, touch; CPU not throttled)`);
  writeFileSync(out, `${JSON.stringify(data, null, 2)}\n`);
  for (const r of data.results) console.log(`${r.label}: median ${r.latency_ms.median.toFixed(2)} ms, p90 ${r.latency_ms.p90.toFixed(2)} ms`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}
