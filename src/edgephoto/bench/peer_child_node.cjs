// A Node.js peer's benchmark child: `node peer_child_node.cjs PEER SETTINGS_JSON`, the bench
// protocol of bench/worker.py (JSON lines: ready, ms per `run`, kept per `keep`, done on `stop`).
//
// Peer `upscalerjs`: UpscalerJS 1.0 (the ESRGAN models' own JavaScript runtime) on TensorFlow.js
// with its WebAssembly backend, as a Node user without tfjs-node's native library runs it (that
// library is downloaded from Google's storage at install time, which these machines cannot
// reach). The packages come from settings.peer_dir (the peer's own folder); the zoo model's
// model.json and shard are served on 127.0.0.1, the way a page serves them to UpscalerJS. Inputs
// are the parent's .npy RGB uint8 arrays; `keep` writes the output as float32 .npy.
"use strict";
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { createRequire } = require("node:module");

const out = fs.openSync("/dev/stdout", "w");  // the protocol; console.log goes to stderr below
console.log = console.info = console.warn = (...args) => process.stderr.write(args.join(" ") + "\n");
const reply = (kind, payload) => fs.writeSync(out, JSON.stringify([kind, payload]) + "\n");

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + headerLen);
  if (!header.includes("'|u1'")) throw new Error(`${file}: expected uint8 RGB, header ${header.trim()}`);
  const shape = header.match(/\(([^)]*)\)/)[1].split(",").filter((s) => s.trim()).map(Number);
  return { shape, data: new Uint8Array(buf.buffer, buf.byteOffset + start + headerLen) };
}

function writeNpyFloat32(file, shape, values) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")},), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";  // total header a multiple of 64
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1; head[7] = 0; head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(new Float32Array(values).buffer);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, "latin1"), body]));
}

function serve(folder) {  // model.json and its shards, as a web server gives them to a page
  const server = http.createServer((request, response) => {
    const name = path.basename(new URL(request.url, "http://localhost").pathname);
    fs.readFile(path.join(folder, name), (err, data) => {
      response.statusCode = err ? 404 : 200;
      response.end(err ? undefined : data);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const RUNNERS = {
  async upscalerjs(settings) {
    const need = createRequire(path.join(settings.peer_dir, "package.json"));
    const tf = need("@tensorflow/tfjs");
    const wasm = need("@tensorflow/tfjs-backend-wasm");
    // The browser (UMD) build: the package's Node entry requires the native tfjs-node.
    const Upscaler = need(path.join(settings.peer_dir, "node_modules", "upscaler", "dist", "browser", "umd", "upscaler.js"));
    const threads = settings.threads ? Number(settings.threads) : undefined;
    if (threads) wasm.setThreadsCount(threads);
    await tf.setBackend("wasm");
    await tf.ready();
    const server = await serve(path.dirname(settings.weights));
    const url = `http://127.0.0.1:${server.address().port}/${path.basename(settings.weights)}`;
    const upscaler = new Upscaler({ model: { path: url, scale: Number(settings.scale), modelType: "layers" } });
    await upscaler.getModel();
    const version = (name) => JSON.parse(fs.readFileSync(path.join(settings.peer_dir, "node_modules", name, "package.json"))).version;
    const facts = {
      engine: "upscalerjs", version: version("upscaler"), tfjs: version("@tensorflow/tfjs"),
      tfjs_backend: tf.getBackend(), threads: threads ?? null, node: process.version,
      runs: "Upscaler.execute(tensor) on the whole input (no patches)",
    };
    const prepare = (array) => tf.tensor3d(array.data, array.shape, "int32");
    const call = async (input) => {
      const result = await upscaler.execute(input, { output: "tensor" });
      const values = await result.data();
      const shape = result.shape;
      result.dispose();
      return { shape, values };
    };
    return { facts, prepare, call, close: () => server.close() };
  },
};

async function main(name, settings) {
  try {
    const loadStart = performance.now();
    const { facts, prepare, call, close } = await RUNNERS[name](settings);
    const loadMs = performance.now() - loadStart;
    const arrays = settings.inputs.map(readNpy);
    const inputs = arrays.map(prepare);
    let start = performance.now();
    await call(inputs[0]);
    const firstMs = performance.now() - start;
    for (let k = 0; k < Number(settings.warmup || 0); k++) await call(inputs[k % inputs.length]);
    reply("ready", {
      backend: { backend: `peer:${name}`, device: "cpu", ...facts }, warnings: [],
      base_rss_mb: null, feed: { rgb: { shape: arrays[0].shape, dtype: "uint8" } },
      load: { import_ms: 0.0, load_ms: loadMs, first_run_ms: firstMs, cold_start_ms: loadMs + firstMs },
    });
    const lines = require("node:readline").createInterface({ input: process.stdin });
    let done = 0;
    for await (const line of lines) {
      const words = line.trim().split(/\s+/);
      if (!["run", "keep"].includes(words[0])) break;
      const k = words.length > 1 ? Number(words[1]) : done % inputs.length;
      if (words[0] === "keep") {
        const result = await call(inputs[k]);
        writeNpyFloat32(words[2], result.shape, result.values);
        reply("kept", words[2]);
        continue;
      }
      const cpu = process.cpuUsage();
      start = performance.now();
      await call(inputs[k]);
      const wall = performance.now() - start;
      const used = process.cpuUsage(cpu);
      reply("ms", [wall, (used.user + used.system) / 1000]);
      done += 1;
    }
    close();
    reply("done", { peak_rss_mb: process.resourceUsage().maxRSS / 1024 });
  } catch (err) {
    const first = String((err && err.message) || err).split("\n")[0];
    reply("error", ["EdgePhotoError", `peer ${name}: ${(err && err.name) || "Error"}: ${first}`.slice(0, 500)]);
  }
  process.exit(0);
}

main(process.argv[2], JSON.parse(process.argv[3]));
