import Foundation

/// Seam-free tiling, a port of src/edgephoto/runtime/tiling.py (the docstring there says why):
/// uniform tiles, the last shifted back inside, borders reflect-padded by overlap/2, per-axis
/// weights (zero for `margin` px, then a linear or cosine ramp) forming a partition of unity.
public struct Tile: Equatable {
    public let y: Int, x: Int, h: Int, w: Int, row: Int, col: Int
}

public func reflectIndex(_ index: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    let folded = ((index % period) + period) % period
    return folded < n ? folded : period - folded
}

/// The h x w window at (y, x), reflect-padded where it leaves the image.
public func crop(_ image: FloatImage, y: Int, x: Int, h: Int, w: Int) -> FloatImage {
    var out = FloatImage(height: h, width: w, channels: image.channels)
    for i in 0..<h {
        let sy = reflectIndex(y + i, image.height)
        for j in 0..<w {
            let sx = reflectIndex(x + j, image.width)
            for c in 0..<image.channels { out[i, j, c] = image[sy, sx, c] }
        }
    }
    return out
}

public func axisStarts(length: Int, tile: Int, overlap: Int) throws -> [Int] {
    guard overlap >= 0, overlap < tile else {
        throw EdgePhotoError.invalidOption("overlap must be in 0..tile-1, got \(overlap) for tile \(tile)")
    }
    let pad = overlap / 2
    let padded = length + 2 * pad
    if padded <= tile { return [-pad] }
    var starts = Array(stride(from: 0, to: padded - tile, by: tile - overlap))
    starts.append(padded - tile)
    return starts.map { $0 - pad }
}

public func marginFor(receptiveField: Int, overlap: Int, minRamp: Int = 8) -> Int {
    let radius = max(receptiveField - 1, 0) / 2
    return overlap - 2 * radius >= min(minRamp, overlap) ? radius : overlap / 4
}

/// (tiles, length*scale) blend weights, float64 normalised then stored as float32.
public func axisWeights(length: Int, starts: [Int], tile: Int, overlap: Int, scale: Int = 1,
                        margin: Int = 0, ramp: String = "cosine") throws -> [[Float]] {
    guard ramp == "linear" || ramp == "cosine" else {
        throw EdgePhotoError.invalidOption("ramp must be linear or cosine, got '\(ramp)'")
    }
    let width = max(Double(overlap - 2 * margin), 1e-3)
    let n = length * scale
    var raw = [[Double]](repeating: [Double](repeating: 0, count: n), count: starts.count)
    for (i, start) in starts.enumerated() {
        for p in 0..<n {
            let centre = (Double(p) + 0.5) / Double(scale)
            if centre < Double(start) || centre >= Double(start + tile) { continue }
            let rise = i > 0 ? min(max((centre - Double(start) - Double(margin)) / width, 0), 1) : 1.0
            let fall = i < starts.count - 1 ? min(max((Double(start + tile) - centre - Double(margin)) / width, 0), 1) : 1.0
            var shape = rise * fall
            if ramp == "cosine" { shape = 0.5 - 0.5 * cos(Double.pi * shape) }
            raw[i][p] = shape
        }
    }
    var out = [[Float]](repeating: [Float](repeating: 0, count: n), count: starts.count)
    for p in 0..<n {
        var total = 0.0
        for i in 0..<starts.count { total += raw[i][p] }
        guard total > 0 else { throw EdgePhotoError.invalidOption("tile layout leaves pixels uncovered") }
        for i in 0..<starts.count { out[i][p] = Float(raw[i][p] / total) }
    }
    return out
}

/// tile_image: run `runBatch` over the tiles of `image` and blend at output `scale`.
public func tileImage(_ image: FloatImage, tileH: Int, tileW: Int, overlap: Int, scale: Int = 1,
                      margin: Int = 0, ramp: String = "cosine",
                      runBatch: ([FloatImage]) throws -> [FloatImage]) throws -> FloatImage {
    let ys = try axisStarts(length: image.height, tile: tileH, overlap: overlap)
    let xs = try axisStarts(length: image.width, tile: tileW, overlap: overlap)
    let wy = try axisWeights(length: image.height, starts: ys, tile: tileH, overlap: overlap, scale: scale, margin: margin, ramp: ramp)
    let wx = try axisWeights(length: image.width, starts: xs, tile: tileW, overlap: overlap, scale: scale, margin: margin, ramp: ramp)
    let outH = image.height * scale
    let outW = image.width * scale
    var result: FloatImage?
    for (r, y) in ys.enumerated() {
        let lo = max(y * scale, 0)
        let hi = min((y + tileH) * scale, outH)
        for (c, x) in xs.enumerated() {
            let outputs = try runBatch([crop(image, y: y, x: x, h: tileH, w: tileW)])
            guard let out = outputs.first, out.height == tileH * scale, out.width == tileW * scale else {
                throw EdgePhotoError.engine("a tile came back at the wrong size")
            }
            var acc = result ?? FloatImage(height: outH, width: outW, channels: out.channels)
            result = nil // acc is the only reference: no copy on write
            let x0 = max(x * scale, 0)
            let x1 = min((x + tileW) * scale, outW)
            for oy in lo..<hi {
                for ox in x0..<x1 {
                    let weight = wy[r][oy] * wx[c][ox]
                    for k in 0..<acc.channels {
                        acc[oy, ox, k] += out[oy - y * scale, ox - x * scale, k] * weight
                    }
                }
            }
            result = acc
        }
    }
    guard let blended = result else { throw EdgePhotoError.invalidOption("no tiles") }
    return blended
}
