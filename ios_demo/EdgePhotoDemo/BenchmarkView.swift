import EdgePhotoCore
import SwiftUI
import UIKit

/// Every bundled model on every compute-unit choice, interleaved runs, written as `edgephoto bench`
/// JSON to the app's Documents (shareable), one engine call per run on the sample photo.
struct BenchmarkView: View {
    @State private var runs = 50
    @State private var warmup = 5
    @State private var status = ""
    @State private var written: URL?

    var body: some View {
        NavigationStack {
            Form {
                Stepper("Timed runs: \(runs)", value: $runs, in: 5...500, step: 5)
                Stepper("Warm-up runs: \(warmup)", value: $warmup, in: 0...50)
                Button("Measure") { measure() }
                if let written { ShareLink("Share results JSON", item: written) }
                Text(status).font(.system(.footnote, design: .monospaced))
            }
            .navigationTitle("Benchmark")
        }
    }

    private func measure() {
        status = "Running…"
        let (runs, warmup) = (runs, warmup)
        DispatchQueue.global(qos: .userInitiated).async {
            do {
                guard let url = Bundle.main.url(forResource: "astronaut", withExtension: "jpg"),
                      let sample = UIImage(contentsOfFile: url.path) else {
                    throw EdgePhotoError.inputFile(path: "astronaut.jpg", reason: "sample photo not bundled")
                }
                let photo = Photos.rgb8(sample)
                var items: [BenchItem] = []
                for entry in ModelCatalog.all {
                    for compute in ComputeChoice.allCases {
                        guard let model = try Artifacts.load(entry, compute: compute) else { continue }
                        let h = entry.inputHeight ?? model.manifest.tile?.tile ?? 128
                        let w = entry.inputWidth ?? model.manifest.tile?.tile ?? 128
                        let (fitted, _) = try fitToInput(photo, height: h, width: w)
                        let luma = ycbcrPlanes(fitted).y
                        let once: () throws -> Void = entry.color == .grayscale
                            ? { _ = try model.runner.predict(luma: luma) }
                            : { _ = try model.runner.predict(rgb: fitted) }
                        let (_, firstMs) = try Pipeline.timed { try once() }
                        let backend: [String: Any] = [
                            "backend": "coreml", "requested_device": compute.rawValue,
                            "device": model.runner.computeUnits.rawValue, "accelerator": model.runner.computeUnits.rawValue,
                            "threads": NSNull(), "precision_hint": NSNull(), "batch": false,
                            "fallback": model.runner.fallback.map { $0 as Any } ?? NSNull(),
                        ]
                        let load: [String: Any] = ["load_ms": model.loadMs, "first_run_ms": firstMs,
                                                   "cold_start_ms": model.loadMs + firstMs]
                        let feed: [String: Any] = ["input": ["shape": [1, h, w, entry.color == .grayscale ? 1 : 3], "dtype": "uint8"]]
                        items.append(BenchItem(artifact: model.directory.path, manifest: model.manifest, backend: backend,
                                               load: load, feed: feed, runOnce: once))
                    }
                }
                let device = UIDevice.current
                let machine: [String: Any] = [
                    "platform": ["system": "ios", "release": device.systemVersion, "device": device.model],
                    "cpu": ["cores": ProcessInfo.processInfo.activeProcessorCount],
                    "engines": ["coreml": ["engine": "coreml", "usable": true]],
                    "peak": NSNull(),
                ]
                let document = try benchmark(items, warmup: warmup, runs: runs, machine: machine)
                let documents = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
                let file = documents.appendingPathComponent("ios_bench_\(Int(Date().timeIntervalSince1970)).json")
                try benchJSON(document).write(to: file, options: .atomic)
                let lines = (document["results"] as? [[String: Any]] ?? []).map { result -> String in
                    let median = (result["latency_ms"] as? [String: Any])?["median"] as? Double ?? 0
                    return "\(result["label"] ?? ""): median \(String(format: "%.2f", median)) ms"
                }
                DispatchQueue.main.async {
                    written = file
                    status = (["Written: \(file.lastPathComponent)"] + lines).joined(separator: "\n")
                }
            } catch {
                DispatchQueue.main.async { status = "Failed: \(error)" }
            }
        }
    }
}
