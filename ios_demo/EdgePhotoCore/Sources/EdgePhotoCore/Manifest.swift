import Foundation
#if canImport(CryptoKit)
import CryptoKit
#endif

/// The core's one error type, mirroring edgephoto.errors: the app shows its description as one line.
public enum EdgePhotoError: Error, CustomStringConvertible {
    case invalidOption(String)
    case inputFile(path: String, reason: String)
    case hashMismatch(path: String, expected: String, actual: String)
    case engine(String)

    public var description: String {
        switch self {
        case .invalidOption(let message): return message
        case .inputFile(let path, let reason): return "\(path): \(reason)"
        case .hashMismatch(let path, let expected, let actual):
            return "\(path): sha256 \(actual), manifest says \(expected) (tampered or truncated)"
        case .engine(let message): return message
        }
    }
}

/// Any JSON value: a manifest's `extra` holds task options (fit, foreground_channel, detail).
public enum JSONValue: Codable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// model_input = (pixel - mean) / std per channel; colour "RGB", "BGR" or "Y" (BT.601 luma).
public struct Normalization: Codable, Equatable {
    public var mean: [Float]
    public var std: [Float]
    public var color: String

    public init(mean: [Float] = [0], std: [Float] = [1], color: String = "RGB") {
        self.mean = mean
        self.std = std
        self.color = color
    }

    public func meanAt(_ channel: Int) -> Float { mean.count == 1 ? mean[0] : mean[channel] }

    public func stdAt(_ channel: Int) -> Float { std.count == 1 ? std[0] : std[channel] }

    public func apply(_ value: Float, channel: Int) -> Float { (value - meanAt(channel)) / stdAt(channel) }

    public func invert(_ value: Float, channel: Int) -> Float { value * stdAt(channel) + meanAt(channel) }
}

public struct Quantization: Codable, Equatable {
    public var scale: Float
    public var zeroPoint: Int

    enum CodingKeys: String, CodingKey {
        case scale
        case zeroPoint = "zero_point"
    }
}

/// One input or output tensor as the manifest lists it; open dims are null (or negative).
public struct TensorSpec: Codable, Equatable {
    public var name: String
    public var shape: [Int?]
    public var dtype: String
    public var layout: String
    public var normalization: Normalization?
    public var quantization: Quantization?
    public var meaning: String?

    enum CodingKeys: String, CodingKey {
        case name, shape, dtype, layout, normalization, quantization, meaning
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        shape = try c.decode([Int?].self, forKey: .shape).map { dim in
            guard let d = dim, d >= 0 else { return nil }
            return d
        }
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? "float32"
        layout = try c.decodeIfPresent(String.self, forKey: .layout) ?? "NHWC"
        normalization = try c.decodeIfPresent(Normalization.self, forKey: .normalization)
        quantization = try c.decodeIfPresent(Quantization.self, forKey: .quantization)
        meaning = try c.decodeIfPresent(String.self, forKey: .meaning)
    }

    /// (height, width) of a 4-D tensor, nil where open.
    public var hw: (Int?, Int?) {
        guard shape.count == 4 else { return (nil, nil) }
        return layout == "NHWC" ? (shape[1], shape[2]) : (shape[2], shape[3])
    }

    public var channels: Int? {
        guard shape.count == 4 else { return nil }
        return layout == "NHWC" ? shape[3] : shape[1]
    }
}

public struct TilePolicy: Codable, Equatable {
    public var mode: String
    public var tile: Int
    public var overlap: Int
    public var receptiveField: Int

    enum CodingKeys: String, CodingKey {
        case mode, tile, overlap
        case receptiveField = "receptive_field"
    }
}

public struct ManifestFile: Codable, Equatable {
    public var path: String
    public var sha256: String
    public var bytes: Int
}

/// manifest.json beside every artifact (src/edgephoto/manifest.py).
public struct Manifest: Codable {
    public static let fileName = "manifest.json"
    public static let supportedSchema = 1

    public var schema: Int?
    public var model: String
    public var task: String
    public var target: String
    public var precision: String
    public var files: [ManifestFile]
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
    public var scale: Int?
    public var tile: TilePolicy?
    public var extra: [String: JSONValue]?

    public var input: TensorSpec { inputs[0] }

    public var output: TensorSpec { outputs[0] }

    public var upscale: Int { scale ?? 1 }

    public static func read(directory: URL) throws -> Manifest {
        let url = directory.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else {
            throw EdgePhotoError.inputFile(path: url.path, reason: "no manifest.json: not an edgephoto artifact")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw EdgePhotoError.inputFile(path: url.path, reason: "corrupt manifest (\(error))")
        }
        if let schema = manifest.schema, schema > supportedSchema {
            throw EdgePhotoError.inputFile(path: url.path, reason: "manifest schema \(schema) is newer than \(supportedSchema)")
        }
        return manifest
    }

    /// The first listed file under a directory with this suffix ("fsrcnn-x2.mlpackage").
    public func bundle(suffix: String) -> String? {
        for file in files {
            if let range = file.path.range(of: suffix) {
                return String(file.path[file.path.startIndex..<range.upperBound])
            }
        }
        return nil
    }

    #if canImport(CryptoKit)
    /// Re-hash every listed file, as manifest.verify: never run a tampered or truncated artifact.
    public func verify(directory: URL) throws {
        for entry in files {
            let url = directory.appendingPathComponent(entry.path)
            guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else {
                throw EdgePhotoError.inputFile(path: url.path, reason: "listed in the manifest but missing")
            }
            let actual = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            if actual != entry.sha256 {
                throw EdgePhotoError.hashMismatch(path: url.path, expected: entry.sha256, actual: actual)
            }
        }
    }
    #endif
}
