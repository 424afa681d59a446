import Foundation

/// Pre- and post-processing shared by the tasks (runtime/tasks/common.py, segmentation.py,
/// refine.py): colour, fitting a photo into the model input, cutting outputs back, probabilities.

/// BT.601 full-range YCbCr planes, float32 left to right (tasks.upscale.ycbcr_planes).
public func ycbcrPlanes(_ rgb: RGB8) -> (y: FloatImage, cb: FloatImage, cr: FloatImage) {
    var y = FloatImage(height: rgb.height, width: rgb.width, channels: 1)
    var cb = y
    var cr = y
    for i in 0..<(rgb.height * rgb.width) {
        let r = Float(rgb.data[3 * i]), g = Float(rgb.data[3 * i + 1]), b = Float(rgb.data[3 * i + 2])
        y.data[i] = 0.299 * r + 0.587 * g + 0.114 * b
        cb.data[i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
        cr.data[i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    }
    return (y, cb, cr)
}

/// Where a photo sits in the model input: the content box in input px.
public struct Fit: Equatable {
    public let y: Int, x: Int, h: Int, w: Int
}

/// fit_to_input: 'stretch' or 'letterbox' (black bars, centred); sampled = nearest 2x then 2x2 mean.
public func fitToInput(_ rgb: RGB8, height h: Int, width w: Int, mode: String = "stretch", sampled: Bool = false) throws -> (RGB8, Fit) {
    func resized(_ th: Int, _ tw: Int) -> Bytes {
        let bytes = rgb.toBytes()
        if sampled && (rgb.height >= 2 * th || rgb.width >= 2 * tw) {
            return reduce8(nearest8(bytes, outW: 2 * tw, outH: 2 * th), fx: 2, fy: 2)
        }
        return pillowResize8(bytes, outW: tw, outH: th, filter: .bilinear, reducingGap: 1.0)
    }
    func toRGB8(_ b: Bytes) -> RGB8 { RGB8(height: b.height, width: b.width, data: b.data.map { UInt8($0) }) }
    switch mode {
    case "stretch":
        return (toRGB8(resized(h, w)), Fit(y: 0, x: 0, h: h, w: w))
    case "letterbox":
        let ratio = min(Double(h) / Double(rgb.height), Double(w) / Double(rgb.width))
        let ch = max(1, Int((Double(rgb.height) * ratio).rounded(.toNearestOrEven)))
        let cw = max(1, Int((Double(rgb.width) * ratio).rounded(.toNearestOrEven)))
        let y0 = (h - ch) / 2, x0 = (w - cw) / 2
        let inner = resized(ch, cw)
        var canvas = RGB8(height: h, width: w)
        for y in 0..<ch {
            for x in 0..<cw {
                for c in 0..<3 { canvas.data[((y0 + y) * w + x0 + x) * 3 + c] = UInt8(inner.data[(y * cw + x) * 3 + c]) }
            }
        }
        return (canvas, Fit(y: y0, x: x0, h: ch, w: cw))
    default:
        throw EdgePhotoError.invalidOption("fit must be 'stretch' or 'letterbox', got '\(mode)'")
    }
}

/// Crop a model-resolution map to the content box (tasks.common.unfit).
public func unfit(_ values: FloatImage, fit: Fit, inputH: Int, inputW: Int) -> FloatImage {
    let sy = Double(values.height) / Double(inputH)
    let sx = Double(values.width) / Double(inputW)
    func r(_ v: Double) -> Int { Int(v.rounded(.toNearestOrEven)) }
    return values.region(y0: r(Double(fit.y) * sy), x0: r(Double(fit.x) * sx),
                         y1: r(Double(fit.y + fit.h) * sy), x1: r(Double(fit.x + fit.w) * sx))
}

/// (h, w, C) output to a 0..1 foreground map: softmax over C > 1 channels, else clip.
public func probability(_ values: FloatImage, foreground: Int = 1) -> FloatImage {
    var out = FloatImage(height: values.height, width: values.width, channels: 1)
    let c = values.channels
    for i in 0..<(values.height * values.width) {
        if c == 1 {
            out.data[i] = min(max(values.data[i], 0), 1)
            continue
        }
        var top = -Float.infinity
        for k in 0..<c { top = max(top, values.data[i * c + k]) }
        var sum: Float = 0
        var fg: Float = 0
        for k in 0..<c {
            let e = Float(exp(Double(values.data[i * c + k] - top)))
            sum += e
            if k == foreground { fg = e }
        }
        out.data[i] = fg / sum
    }
    return out
}

/// refine.upsample_bilinear: half-pixel taps, columns then rows; Pillow's bilinear when shrinking > 2x.
public func upsampleBilinear(_ low: FloatImage, height: Int, width: Int, clip: Bool = false) -> FloatImage {
    let h = low.height, w = low.width
    if 2 * height < h || 2 * width < w {
        var out = resizeFloat(low, height: height, width: width)
        if clip { out.data = out.data.map { min(max($0, 0), 1) } }
        return out
    }
    func taps(_ nOut: Int, _ nIn: Int) -> ([Int], [Float]) {
        var lowIndex = [Int](repeating: 0, count: nOut)
        var frac = [Float](repeating: 0, count: nOut)
        for i in 0..<nOut {
            let pos = min(max((Double(i) + 0.5) * (Double(nIn) / Double(nOut)) - 0.5, 0), Double(nIn - 1))
            lowIndex[i] = Int(pos.rounded(.down))
            frac[i] = Float(pos - Double(lowIndex[i]))
        }
        return (lowIndex, frac)
    }
    let (x0, fx) = taps(width, w)
    let (y0, fy) = taps(height, h)
    var cols = [Float](repeating: 0, count: h * width)
    for y in 0..<h {
        for x in 0..<width {
            let a = low.data[y * w + x0[x]]
            let b = low.data[y * w + min(x0[x] + 1, w - 1)]
            cols[y * width + x] = a + (b - a) * fx[x]
        }
    }
    var out = FloatImage(height: height, width: width, channels: 1)
    for y in 0..<height {
        let r = y0[y]
        for x in 0..<width {
            let step: Float = r + 1 < h ? cols[(r + 1) * width + x] - cols[r * width + x] : 0
            var v = cols[r * width + x] + step * fy[y]
            if clip { v = min(max(v, 0), 1) }
            out.data[y * width + x] = v
        }
    }
    return out
}

/// numpy's linear percentile.
public func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    let rank = q / 100 * Double(sorted.count - 1)
    let lo = Int(rank.rounded(.down))
    let hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - Double(lo))
}

/// effects.normalize_depth: 0 = nearest, 1 = farthest (1st/99th percentiles).
public func normalizeDepth(_ depth: FloatImage, largerIsFarther: Bool = true) -> FloatImage {
    let d = depth.data.map { v -> Float in
        let x = v.isNaN ? 0 : v
        return largerIsFarther ? x : -x
    }
    let doubles = d.map { Double($0) }
    let lo = Float(percentile(doubles, 1)), hi = Float(percentile(doubles, 99))
    if hi - lo < 1e-6 { return FloatImage(height: depth.height, width: depth.width, channels: depth.channels) }
    return FloatImage(height: depth.height, width: depth.width, channels: depth.channels,
                      data: d.map { min(max(($0 - lo) / (hi - lo), 0), 1) })
}

/// planes_to_uint8: per channel y + const + k_cr*cr + k_cb*cb in float32, clipped, truncated.
public func planesToUInt8(y: [Float], cb: [Float], cr: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: y.count * 3)
    let gains: [(Double, Double)] = [(0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0)]
    for (c, (kCb, kCr)) in gains.enumerated() {
        let constant = Float(0.5 - 128.0 * (kCb + kCr))
        for i in 0..<y.count {
            var plane = y[i] + constant
            if kCr != 0 { plane += cr[i] * Float(kCr) }
            if kCb != 0 { plane += cb[i] * Float(kCb) }
            out[3 * i + c] = UInt8(min(max(plane, 0), 255))
        }
    }
    return out
}
