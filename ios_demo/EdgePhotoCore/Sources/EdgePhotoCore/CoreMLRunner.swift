#if canImport(CoreML)
import CoreML
import CoreVideo
import Foundation

/// Which Core ML compute units the app asks for; a refused configuration falls back to the CPU
/// and `fallback` says why (as the Python runtime reports a device fallback).
public enum ComputeChoice: String, CaseIterable {
    case all, cpuAndGPU, cpuAndNeuralEngine, cpuOnly

    var units: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .cpuOnly: return .cpuOnly
        }
    }
}

/// A compiled .mlpackage whose input is a Core ML image (RGB or grayscale pixels 0..255, the
/// manifest's normalisation folded in by the converter) and whose output is a multi-array.
public final class CoreMLRunner: ImageModel {
    public let entry: ModelEntry
    public let model: MLModel
    public let computeUnits: ComputeChoice
    public let fallback: String?

    /// Compile the artifact's .mlpackage (once; the caller caches the .mlmodelc) and load it.
    public static func compile(artifact directory: URL, manifest: Manifest) throws -> URL {
        guard let package = manifest.bundle(suffix: ".mlpackage") else {
            throw EdgePhotoError.inputFile(path: directory.path, reason: "no .mlpackage listed in the manifest")
        }
        return try MLModel.compileModel(at: directory.appendingPathComponent(package))
    }

    public init(compiled url: URL, entry: ModelEntry, preferred: ComputeChoice = .all) throws {
        self.entry = entry
        let config = MLModelConfiguration()
        config.computeUnits = preferred.units
        let loaded: MLModel
        let used: ComputeChoice
        var reason: String? = nil
        do {
            loaded = try MLModel(contentsOf: url, configuration: config)
            used = preferred
        } catch {
            let cpu = MLModelConfiguration()
            cpu.computeUnits = .cpuOnly
            loaded = try MLModel(contentsOf: url, configuration: cpu)
            used = .cpuOnly
            reason = "\(preferred.rawValue): \(error.localizedDescription)"
        }
        model = loaded
        computeUnits = used
        fallback = reason
        let inputs = model.modelDescription.inputDescriptionsByName
        guard let description = inputs[entry.input], description.type == .image else {
            throw EdgePhotoError.engine("\(entry.model): no image input '\(entry.input)' (has \(inputs.keys.sorted()))")
        }
    }

    public func predict(rgb: RGB8) throws -> FloatImage {
        try run(pixelBuffer(width: rgb.width, height: rgb.height, format: kCVPixelFormatType_32BGRA) { base, stride in
            for y in 0..<rgb.height {
                for x in 0..<rgb.width {
                    let o = y * stride + 4 * x
                    let i = (y * rgb.width + x) * 3
                    base[o] = rgb.data[i + 2]
                    base[o + 1] = rgb.data[i + 1]
                    base[o + 2] = rgb.data[i]
                    base[o + 3] = 255
                }
            }
        })
    }

    /// A grayscale image input takes 8-bit luma: the float Y plane rounds to the nearest level here
    /// (the Python runtime feeds float Y; a difference of at most half a level in the input).
    public func predict(luma: FloatImage) throws -> FloatImage {
        try run(pixelBuffer(width: luma.width, height: luma.height, format: kCVPixelFormatType_OneComponent8) { base, stride in
            for y in 0..<luma.height {
                for x in 0..<luma.width { base[y * stride + x] = toUInt8(luma[y, x, 0]) }
            }
        })
    }

    private func pixelBuffer(width: Int, height: Int, format: OSType,
                             fill: (UnsafeMutablePointer<UInt8>, Int) -> Void) throws -> CVPixelBuffer {
        var buffer: CVPixelBuffer?
        let attributes = [kCVPixelBufferIOSurfacePropertiesKey as String: [String: Any]()] as CFDictionary
        let status = CVPixelBufferCreate(kCFAllocatorDefault, width, height, format, attributes, &buffer)
        guard status == kCVReturnSuccess, let pixels = buffer else {
            throw EdgePhotoError.engine("CVPixelBufferCreate failed (\(status))")
        }
        CVPixelBufferLockBaseAddress(pixels, [])
        defer { CVPixelBufferUnlockBaseAddress(pixels, []) }
        guard let base = CVPixelBufferGetBaseAddress(pixels) else { throw EdgePhotoError.engine("no pixel buffer memory") }
        fill(base.assumingMemoryBound(to: UInt8.self), CVPixelBufferGetBytesPerRow(pixels))
        return pixels
    }

    private func run(_ pixels: CVPixelBuffer) throws -> FloatImage {
        let features = try MLDictionaryFeatureProvider(dictionary: [entry.input: MLFeatureValue(pixelBuffer: pixels)])
        let result = try model.prediction(from: features)
        guard let array = result.featureValue(for: entry.output)?.multiArrayValue else {
            throw EdgePhotoError.engine("\(entry.model): no multi-array output '\(entry.output)'")
        }
        return try image(from: array)
    }

    /// An NHWC (1, H, W, C) or (1, H, W) multi-array as an image, strides honoured.
    private func image(from array: MLMultiArray) throws -> FloatImage {
        let shape = array.shape.map { $0.intValue }
        let strides = array.strides.map { $0.intValue }
        guard shape.count == 4 || shape.count == 3 else {
            throw EdgePhotoError.engine("\(entry.model): output of shape \(shape) is not an image")
        }
        let h = shape[1], w = shape[2], c = shape.count == 4 ? shape[3] : 1
        var out = FloatImage(height: h, width: w, channels: c)
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<c {
                    var offset = y * strides[1] + x * strides[2]
                    if shape.count == 4 { offset += k * strides[3] }
                    out[y, x, k] = array[offset].floatValue
                }
            }
        }
        return out
    }
}
#endif
