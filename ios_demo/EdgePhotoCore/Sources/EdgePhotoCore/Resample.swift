import Foundation

/// Pillow's resampling, as the Python runtime resizes (see android_demo/core Resample.kt, the same
/// port): separable convolution, support widened by the shrink factor, 8-bit images in 22-bit fixed
/// point with an 8-bit intermediate, float images in double; Image.resize's reducing_gap first.
public enum Filter {
    case box, bilinear, bicubic

    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear: return 1.0
        case .bicubic: return 2.0
        }
    }

    func weight(_ x0: Double) -> Double {
        let x = abs(x0)
        switch self {
        case .box: return (x0 > -0.5 && x0 <= 0.5) ? 1.0 : 0.0
        case .bilinear: return x < 1.0 ? 1.0 - x : 0.0
        case .bicubic:
            let a = -0.5
            if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
            if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0.0
        }
    }
}

struct Coeffs {
    let ksize: Int
    let bounds: [Int]
    let kk: [Double]
}

func precomputeCoeffs(inSize: Int, in0: Float, in1: Float, outSize: Int, filter: Filter) -> Coeffs {
    let scale = Double(in1 - in0) / Double(outSize)
    let filterScale = max(scale, 1.0)
    let support = filter.support * filterScale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    var kk = [Double](repeating: 0, count: outSize * ksize)
    var bounds = [Int](repeating: 0, count: outSize * 2)
    for xx in 0..<outSize {
        let center = Double(in0) + (Double(xx) + 0.5) * scale
        let ss = 1.0 / filterScale
        let xmin = max(Int(center - support + 0.5), 0)
        let xmax = min(Int(center + support + 0.5), inSize) - xmin
        var ww = 0.0
        for x in 0..<max(xmax, 0) {
            let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
            kk[xx * ksize + x] = w
            ww += w
        }
        if ww != 0 {
            for x in 0..<max(xmax, 0) { kk[xx * ksize + x] /= ww }
        }
        bounds[2 * xx] = xmin
        bounds[2 * xx + 1] = xmax
    }
    return Coeffs(ksize: ksize, bounds: bounds, kk: kk)
}

private let precisionBits = 32 - 8 - 2

private func fixedPoint(_ kk: [Double]) -> [Int32] {
    kk.map { k in
        let v = k * Double(1 << precisionBits)
        return Int32(k < 0 ? -0.5 + v : 0.5 + v)
    }
}

private func clip8(_ ss: Int32) -> Int32 { min(max(ss >> Int32(precisionBits), 0), 255) }

/// 8-bit planes (0..255 ints), HWC, the fixed-point resampler's working form.
public struct Bytes {
    public let height: Int
    public let width: Int
    public let channels: Int
    public var data: [Int32]
}

extension RGB8 {
    public func toBytes() -> Bytes { Bytes(height: height, width: width, channels: 3, data: data.map { Int32($0) }) }
}

extension Bytes {
    public func toFloat() -> FloatImage {
        FloatImage(height: height, width: width, channels: channels, data: data.map { Float($0) })
    }
}

public func resample8(_ src: Bytes, outW: Int, outH: Int, filter: Filter, box: [Float]? = nil) -> Bytes {
    let b = box ?? [0, 0, Float(src.width), Float(src.height)]
    let needH = outW != src.width || b[0] != 0 || b[2] != Float(outW)
    let needV = outH != src.height || b[1] != 0 || b[3] != Float(outH)
    let ch = precomputeCoeffs(inSize: src.width, in0: b[0], in1: b[2], outSize: outW, filter: filter)
    let cv = precomputeCoeffs(inSize: src.height, in0: b[1], in1: b[3], outSize: outH, filter: filter)
    let first = cv.bounds[0]
    let last = cv.bounds[2 * outH - 2] + cv.bounds[2 * outH - 1]
    let n = src.channels
    var image = src
    var shift = 0
    if needH {
        let k = fixedPoint(ch.kk)
        let rows = last - first
        var out = Bytes(height: rows, width: outW, channels: n, data: [Int32](repeating: 0, count: rows * outW * n))
        for yy in 0..<rows {
            for xx in 0..<outW {
                let xmin = ch.bounds[2 * xx]
                let xmax = ch.bounds[2 * xx + 1]
                for c in 0..<n {
                    var ss = Int32(1 << (precisionBits - 1))
                    for x in 0..<max(xmax, 0) {
                        ss = ss &+ src.data[((yy + first) * src.width + x + xmin) * n + c] &* k[xx * ch.ksize + x]
                    }
                    out.data[(yy * outW + xx) * n + c] = clip8(ss)
                }
            }
        }
        image = out
        shift = first
    }
    if needV {
        let k = fixedPoint(cv.kk)
        var out = Bytes(height: outH, width: image.width, channels: n, data: [Int32](repeating: 0, count: outH * image.width * n))
        for yy in 0..<outH {
            let ymin = cv.bounds[2 * yy] - shift
            let ymax = cv.bounds[2 * yy + 1]
            for xx in 0..<image.width {
                for c in 0..<n {
                    var ss = Int32(1 << (precisionBits - 1))
                    for y in 0..<max(ymax, 0) {
                        ss = ss &+ image.data[((y + ymin) * image.width + xx) * n + c] &* k[yy * cv.ksize + y]
                    }
                    out.data[(yy * image.width + xx) * n + c] = clip8(ss)
                }
            }
        }
        image = out
    }
    return image
}

/// Pillow 'F' mode resampling, channel by channel (refine.resize, the upscaler's chroma).
public func resampleF(_ src: FloatImage, outW: Int, outH: Int, filter: Filter, box: [Float]? = nil) -> FloatImage {
    let b = box ?? [0, 0, Float(src.width), Float(src.height)]
    let needH = outW != src.width || b[0] != 0 || b[2] != Float(outW)
    let needV = outH != src.height || b[1] != 0 || b[3] != Float(outH)
    let co = precomputeCoeffs(inSize: src.width, in0: b[0], in1: b[2], outSize: outW, filter: filter)
    let cv = precomputeCoeffs(inSize: src.height, in0: b[1], in1: b[3], outSize: outH, filter: filter)
    let first = cv.bounds[0]
    let last = cv.bounds[2 * outH - 2] + cv.bounds[2 * outH - 1]
    let n = src.channels
    var image = src
    var shift = 0
    if needH {
        var out = FloatImage(height: last - first, width: outW, channels: n)
        for yy in 0..<(last - first) {
            for xx in 0..<outW {
                let xmin = co.bounds[2 * xx]
                let xmax = co.bounds[2 * xx + 1]
                for c in 0..<n {
                    var ss = 0.0
                    for x in 0..<max(xmax, 0) { ss += Double(src[yy + first, x + xmin, c]) * co.kk[xx * co.ksize + x] }
                    out[yy, xx, c] = Float(ss)
                }
            }
        }
        image = out
        shift = first
    }
    if needV {
        var out = FloatImage(height: outH, width: image.width, channels: n)
        for yy in 0..<outH {
            let ymin = cv.bounds[2 * yy] - shift
            let ymax = cv.bounds[2 * yy + 1]
            for xx in 0..<image.width {
                for c in 0..<n {
                    var ss = 0.0
                    for y in 0..<max(ymax, 0) { ss += Double(image[y + ymin, xx, c]) * cv.kk[yy * cv.ksize + y] }
                    out[yy, xx, c] = Float(ss)
                }
            }
        }
        image = out
    }
    return image
}

/// Image.reduce: block means, rounded as Pillow's (ss + n/2) * (2^32 / 256n) >> 24.
public func reduce8(_ src: Bytes, fx: Int, fy: Int, box: [Int]? = nil) -> Bytes {
    let b = box ?? [0, 0, src.width, src.height]
    let bw = b[2] - b[0]
    let bh = b[3] - b[1]
    let outW = (bw + fx - 1) / fx
    let outH = (bh + fy - 1) / fy
    var out = Bytes(height: outH, width: outW, channels: src.channels, data: [Int32](repeating: 0, count: outH * outW * src.channels))
    for y in 0..<outH {
        for x in 0..<outW {
            let ys = b[1] + y * fy
            let xs = b[0] + x * fx
            let ny = min(fy, b[1] + bh - ys)
            let nx = min(fx, b[0] + bw - xs)
            let count = nx * ny
            let multiplier = UInt64(Float(4_294_967_296.0) / Float(256 * count))
            for c in 0..<src.channels {
                var ss = UInt64(count / 2)
                for yy in ys..<(ys + ny) {
                    for xx in xs..<(xs + nx) { ss += UInt64(src.data[(yy * src.width + xx) * src.channels + c]) }
                }
                out.data[(y * outW + x) * src.channels + c] = Int32(((ss * multiplier) & 0xFFFF_FFFF) >> 24)
            }
        }
    }
    return out
}

/// Image.resize(NEAREST): Pillow's affine scale, source floor(x0 + (i + 0.5) * step) accumulated.
public func nearest8(_ src: Bytes, outW: Int, outH: Int) -> Bytes {
    var out = Bytes(height: outH, width: outW, channels: src.channels, data: [Int32](repeating: 0, count: outH * outW * src.channels))
    let ax = Double(src.width) / Double(outW)
    let ay = Double(src.height) / Double(outH)
    var xin = [Int](repeating: -1, count: outW)
    var xo = ax * 0.5
    for x in 0..<outW {
        xin[x] = xo < 0 ? -1 : Int(xo)
        xo += ax
    }
    var yo = ay * 0.5
    for y in 0..<outH {
        let yi = yo < 0 ? -1 : Int(yo)
        yo += ay
        guard yi >= 0, yi < src.height else { continue }
        for x in 0..<outW where xin[x] >= 0 && xin[x] < src.width {
            for c in 0..<src.channels {
                out.data[(y * outW + x) * src.channels + c] = src.data[(yi * src.width + xin[x]) * src.channels + c]
            }
        }
    }
    return out
}

/// Image.resize(size, filter, reducing_gap) of an 8-bit image.
public func pillowResize8(_ src: Bytes, outW: Int, outH: Int, filter: Filter, reducingGap: Double? = nil) -> Bytes {
    if outW == src.width && outH == src.height { return src }
    guard let gap = reducingGap else { return resample8(src, outW: outW, outH: outH, filter: filter) }
    let fx = max(Int(Double(src.width) / Double(outW) / gap), 1)
    let fy = max(Int(Double(src.height) / Double(outH) / gap), 1)
    if fx == 1 && fy == 1 { return resample8(src, outW: outW, outH: outH, filter: filter) }
    let support = filter.support - 0.5
    let sx = support * Double(src.width) / Double(outW)
    let sy = support * Double(src.height) / Double(outH)
    let rb = [max(0, Int(-sx)), max(0, Int(-sy)),
              min(src.width, Int((Double(src.width) + sx).rounded(.up))), min(src.height, Int((Double(src.height) + sy).rounded(.up)))]
    let reduced = reduce8(src, fx: fx, fy: fy, box: rb)
    let box: [Float] = [Float(Double(-rb[0]) / Double(fx)), Float(Double(-rb[1]) / Double(fy)),
                        Float(Double(src.width - rb[0]) / Double(fx)), Float(Double(src.height - rb[1]) / Double(fy))]
    return resample8(reduced, outW: outW, outH: outH, filter: filter, box: box)
}

/// refine.resize: a float image through Pillow 'F' (no reducing gap).
public func resizeFloat(_ src: FloatImage, height: Int, width: Int, filter: Filter = .bilinear) -> FloatImage {
    if src.height == height && src.width == width { return src }
    return resampleF(src, outW: width, outH: height, filter: filter)
}
