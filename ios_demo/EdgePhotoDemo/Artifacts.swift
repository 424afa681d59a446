import CoreML
import EdgePhotoCore
import Foundation

/// The bundled artifacts (`edgephoto convert --target coreml` output, added to the app as the
/// folder reference "artifacts"): each is re-hashed against its manifest, checked against the
/// app's ModelCatalog entry, compiled once and loaded on the chosen compute units.
struct LoadedModel {
    let entry: ModelEntry
    let manifest: Manifest
    let directory: URL
    let runner: CoreMLRunner
    let loadMs: Double
}

enum Artifacts {
    static func directory(for entry: ModelEntry) -> URL? {
        Bundle.main.url(forResource: "artifacts", withExtension: nil)?
            .appendingPathComponent(entry.model).appendingPathComponent("coreml-fp32")
    }

    static func load(_ entry: ModelEntry, compute: ComputeChoice) throws -> LoadedModel? {
        guard let directory = directory(for: entry), FileManager.default.fileExists(atPath: directory.path) else { return nil }
        let start = DispatchTime.now().uptimeNanoseconds
        let manifest = try Manifest.read(directory: directory)
        try manifest.verify(directory: directory)
        try entry.check(manifest)
        let cache = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("\(entry.model).mlmodelc")
        if !FileManager.default.fileExists(atPath: cache.path) {
            let compiled = try CoreMLRunner.compile(artifact: directory, manifest: manifest)
            try FileManager.default.moveItem(at: compiled, to: cache)
        }
        let runner = try CoreMLRunner(compiled: cache, entry: entry, preferred: compute)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return LoadedModel(entry: entry, manifest: manifest, directory: directory, runner: runner, loadMs: ms)
    }
}
