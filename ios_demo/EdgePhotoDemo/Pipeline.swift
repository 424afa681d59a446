import EdgePhotoCore
import UIKit

/// One result row: the step, how long it took, what it made.
struct StepResult: Identifiable {
    let id = UUID()
    let step: String
    let ms: Double
    let detail: String
    let image: UIImage?
}

/// The demo's steps, as `edgephoto run` orders them: person mask, cut-out, depth, 2x upscale.
enum Pipeline {
    static func timed<T>(_ block: () throws -> T) rethrows -> (T, Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let value = try block()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }

    static func run(photo: RGB8, compute: ComputeChoice, report: (StepResult) -> Void) throws {
        func loaded(_ entry: ModelEntry) throws -> LoadedModel? {
            guard let model = try Artifacts.load(entry, compute: compute) else {
                report(StepResult(step: "\(entry.model) (skipped)", ms: 0, detail: "not bundled", image: nil))
                return nil
            }
            let fell = model.runner.fallback.map { ", fell back: \($0)" } ?? ""
            report(StepResult(step: "load \(entry.model)", ms: model.loadMs, detail: "\(model.runner.computeUnits.rawValue)\(fell)", image: nil))
            return model
        }
        if let selfie = try loaded(ModelCatalog.selfie) {
            let (mask, ms) = try timed { try segment(selfie.runner, manifest: selfie.manifest, entry: selfie.entry, photo: photo) }
            report(StepResult(step: "segment", ms: ms, detail: "person probability", image: Photos.grey(mask)))
            let (cut, cutMs) = timed { Photos.cutOut(photo, matte: mask) }
            report(StepResult(step: "cut-out", ms: cutMs, detail: "matte as alpha", image: cut))
        }
        if let depth = try loaded(ModelCatalog.fastdepth) {
            let (map, ms) = try timed { try estimateDepth(depth.runner, manifest: depth.manifest, entry: depth.entry, photo: photo) }
            report(StepResult(step: "depth", ms: ms, detail: "near = bright", image: Photos.grey(normalizeDepth(map), invert: true)))
        }
        if let sr = try loaded(ModelCatalog.fsrcnnX2) {
            let (big, ms) = try timed { try upscaleLuma(sr.runner, manifest: sr.manifest, entry: sr.entry, photo: photo) }
            report(StepResult(step: "upscale x\(sr.entry.scale)", ms: ms, detail: "\(big.width)x\(big.height)", image: Photos.image(big)))
        }
    }
}
