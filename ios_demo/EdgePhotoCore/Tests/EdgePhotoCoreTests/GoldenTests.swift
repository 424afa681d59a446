import Foundation
import XCTest
@testable import EdgePhotoCore

/// The golden vectors the Python runtime writes (golden_vectors/README.md), read from the repository
/// beside this package: `swift test` on a Mac. Not run where this was written (no Swift toolchain).
final class GoldenTests: XCTestCase {
    private let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: repo.appendingPathComponent("golden_vectors/\(name).json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func floats(_ array: Any?) -> [Float] {
        ((array as? [String: Any])?["data"] as? [NSNumber] ?? []).map { $0.floatValue }
    }

    private func shape(_ array: Any?) -> [Int] { (array as? [String: Any])?["shape"] as? [Int] ?? [] }

    private func rgb8(_ array: Any?) -> RGB8 {
        let s = shape(array)
        return RGB8(height: s[0], width: s[1], data: floats(array).map { UInt8($0) })
    }

    private func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    func testReflectIndex() throws {
        for case let item as [String: Any] in try load("tile_plans")["reflect"] as? [Any] ?? [] {
            let n = item["n"] as! Int
            let index = item["index"] as! [Int]
            XCTAssertEqual(index.map { reflectIndex($0, n) }, item["folded"] as! [Int])
        }
    }

    func testBlendsOfFixedTileOutputs() throws {
        for case let c as [String: Any] in try load("blend")["cases"] as? [Any] ?? [] {
            let hw = c["photo_hw"] as! [Int], th = c["tile_hw"] as! [Int]
            let channels = c["channels"] as! Int, overlap = c["overlap"] as! Int, scale = c["scale"] as! Int
            var k = 0
            let blended = try tileImage(FloatImage(height: hw[0], width: hw[1], channels: 1), tileH: th[0], tileW: th[1],
                                        overlap: overlap, scale: scale, margin: c["margin"] as! Int,
                                        ramp: c["ramp"] as! String) { tiles in
                tiles.map { _ in
                    var out = FloatImage(height: th[0] * scale, width: th[1] * scale, channels: channels)
                    for i in 0..<out.height { for j in 0..<out.width { for ch in 0..<channels {
                        out[i, j, ch] = Float((31 * k + 7 * i + 3 * j + 11 * ch) % 23) / 22
                    } } }
                    k += 1
                    return out
                }
            }
            XCTAssertLessThanOrEqual(maxDiff(floats(c["blended"]), blended.data), 1e-5)
        }
    }

    func testFitsMatchPillow() throws {
        let pre = try load("preprocess")
        let photo = rgb8((pre["photo"] as! [String: Any])["pixels"])
        let small = rgb8((pre["small"] as! [String: Any])["pixels"])
        for case let f as [String: Any] in pre["fits"] as? [Any] ?? [] {
            let size = f["size_hw"] as! [Int]
            let source = (f["source"] as! String) == "crop" ? photo : small
            let (fitted, fit) = try fitToInput(source, height: size[0], width: size[1], mode: f["mode"] as! String,
                                               sampled: f["sampled"] as! Bool)
            XCTAssertEqual([fit.y, fit.x, fit.h, fit.w], f["box"] as! [Int])
            XCTAssertLessThanOrEqual(maxDiff(floats(f["fitted"]), fitted.data.map { Float($0) }), 2)
        }
    }

    func testSegmentationPostprocess() throws {
        for case let c as [String: Any] in try load("postprocess")["segmentation"] as? [Any] ?? [] {
            let s = shape(c["output"])
            let out = FloatImage(height: s[0], width: s[1], channels: s[2], data: floats(c["output"]))
            let hw = c["photo_hw"] as! [Int]
            let (_, fit) = try fitToInput(RGB8(height: hw[0], width: hw[1]), height: s[0], width: s[1],
                                          mode: c["fit"] as! String, sampled: true)
            let low = unfit(probability(out, foreground: c["foreground_channel"] as! Int), fit: fit, inputH: s[0], inputW: s[1])
            XCTAssertLessThanOrEqual(maxDiff(floats(c["low"]), low.data), 1e-5)
            let prob = upsampleBilinear(low, height: hw[0], width: hw[1], clip: true)
            XCTAssertLessThanOrEqual(maxDiff(floats(c["probability"]), prob.data), 1e-5)
        }
    }

    func testZoomRegionsFromTheFirstPass() throws {
        let zoom = try load("postprocess")["zoom"] as! [String: Any]
        for case let c as [String: Any] in zoom["cases"] as? [Any] ?? [] {
            let s = shape(c["low"]), hw = c["photo_hw"] as! [Int]
            let low = FloatImage(height: s[0], width: s[1], channels: 1, data: floats(c["low"]))
            let regions = zoomRegions(low, height: hw[0], width: hw[1]).map { [$0.y0, $0.x0, $0.y1, $0.x1] }
            XCTAssertEqual(regions, c["regions_yxyx"] as! [[Int]])
        }
    }

    func testYcbcrPlanes() throws {
        let c = try load("postprocess")["ycbcr"] as! [String: Any]
        let small = rgb8((try load("preprocess")["small"] as! [String: Any])["pixels"])
        let planes = ycbcrPlanes(small)
        XCTAssertLessThanOrEqual(maxDiff(floats(c["y"]), planes.y.data), 1e-4)
        let back = planesToUInt8(y: floats(c["y"]), cb: floats(c["cb"]), cr: floats(c["cr"]))
        XCTAssertEqual(back.map { Float($0) }, floats(c["back_to_rgb"]))
    }
}
