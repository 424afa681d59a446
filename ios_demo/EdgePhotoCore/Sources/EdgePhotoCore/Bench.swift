import Foundation

/// On-device benchmarks in the `edgephoto bench` JSON schema (bench/runner.py, stats.py): the same
/// summary (type-7 percentiles, MAD, IQR, Q3 + 3 IQR outliers) and round-robin schedule, so
/// `edgephoto bench --render` draws an iPhone's numbers beside the rest.
public enum Stats {
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        EdgePhotoCore.percentile(values, q)
    }

    public static func summarize(_ values: [Double]) -> [String: Any] {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.count < 2 ? 0 : values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        let median = percentile(values, 50)
        let q1 = percentile(values, 25), q3 = percentile(values, 75)
        let fence = q3 + 3 * (q3 - q1)
        return [
            "n": values.count, "min": values.min() ?? 0, "median": median, "mean": mean,
            "p90": percentile(values, 90), "p99": percentile(values, 99), "max": values.max() ?? 0,
            "stdev": variance.squareRoot(), "mad": percentile(values.map { abs($0 - median) }, 50),
            "iqr": q3 - q1, "outliers": values.filter { $0 > fence }.count,
        ]
    }

    /// Round r runs r % count, r % count + 1, ...: count 3, runs 2 -> [0, 1, 2, 1, 2, 0].
    public static func interleavedSchedule(count: Int, runs: Int) -> [Int] {
        (0..<runs).flatMap { r in (0..<count).map { k in (r + k) % count } }
    }
}

/// One artifact on one compute-unit choice: its manifest facts, load times and one inference.
public struct BenchItem {
    public let artifact: String
    public let manifest: Manifest
    public let backend: [String: Any]  // backend, requested_device, device, accelerator, fallback
    public let load: [String: Any]     // load_ms, first_run_ms, cold_start_ms
    public let feed: [String: Any]
    public let runOnce: () throws -> Void

    public init(artifact: String, manifest: Manifest, backend: [String: Any], load: [String: Any],
                feed: [String: Any], runOnce: @escaping () throws -> Void) {
        self.artifact = artifact
        self.manifest = manifest
        self.backend = backend
        self.load = load
        self.feed = feed
        self.runOnce = runOnce
    }
}

/// Warm up, time `runs` interleaved runs per item, return the results document (schema edgephoto.bench/1).
public func benchmark(_ items: [BenchItem], warmup: Int, runs: Int, machine: [String: Any]) throws -> [String: Any] {
    let started = Date()
    for item in items { for _ in 0..<warmup { try item.runOnce() } }
    var samples = [[Double]](repeating: [], count: items.count)
    for index in Stats.interleavedSchedule(count: items.count, runs: runs) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try items[index].runOnce()
        samples[index].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    var results: [[String: Any]] = []
    var firstOfModel: [String: [String: Any]] = [:]
    for (k, item) in items.enumerated() {
        let m = item.manifest
        let latency = Stats.summarize(samples[k])
        let mean = latency["mean"] as? Double ?? 0
        var result: [String: Any] = [
            "label": "\(m.model) \(m.target)-\(m.precision) @\(item.backend["device"] as? String ?? "?")",
            "artifact": item.artifact, "model": m.model, "task": m.task, "target": m.target,
            "precision": m.precision, "size_bytes": m.files.reduce(0) { $0 + $1.bytes },
            "backend": item.backend, "warnings": [String](), "feed": item.feed, "load": item.load,
            "latency_ms": latency, "cpu_ms": NSNull(), "throughput_per_s": mean > 0 ? (1000 / mean) as Any : NSNull(),
            "peak_rss_mb": NSNull(), "quality": [String: Any](), "work": NSNull(), "samples_ms": samples[k],
        ]
        if let base = firstOfModel[m.model] {
            let baseMedian = (base["latency_ms"] as? [String: Any])?["median"] as? Double ?? 0
            let median = latency["median"] as? Double ?? 0
            result["vs_baseline"] = [
                "baseline": base["label"] ?? "", "speedup_median": median > 0 ? (baseMedian / median) as Any : NSNull(),
                "median_ratio": baseMedian > 0 ? (median / baseMedian) as Any : NSNull(),
            ] as [String: Any]
        } else {
            result["vs_baseline"] = NSNull()
            firstOfModel[m.model] = result
        }
        results.append(result)
    }
    let formatter = ISO8601DateFormatter()
    return [
        "schema": "edgephoto.bench/1", "created": formatter.string(from: started),
        "duration_s": Date().timeIntervalSince(started),
        "settings": ["backend": NSNull(), "device": "auto", "threads": NSNull(), "warmup": warmup, "runs": runs,
                     "input": "real", "photos": NSNull(), "peak": false,
                     "schedule": "round-robin, start rotating each round"] as [String: Any],
        "machine": machine, "results": results, "references": [Any](),
    ]
}

public func benchJSON(_ document: [String: Any]) throws -> Data {
    try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
}
