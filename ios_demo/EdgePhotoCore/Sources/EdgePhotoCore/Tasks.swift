import Foundation

/// A model behind an image input: the Core ML runner on a device, anything else in tests.
public protocol ImageModel {
    /// RGB pixels already at the model's input size.
    func predict(rgb: RGB8) throws -> FloatImage
    /// A luma (BT.601 Y, 0..255) plane, for grayscale-input models.
    func predict(luma: FloatImage) throws -> FloatImage
}

/// segmentation.segment: fit (stretch, sampled), run once, probability, cut back, bilinear up.
public func segment(_ model: ImageModel, manifest: Manifest, entry: ModelEntry, photo: RGB8) throws -> FloatImage {
    guard let h = entry.inputHeight, let w = entry.inputWidth else {
        throw EdgePhotoError.invalidOption("\(entry.model): segmentation needs a fixed input size")
    }
    let fit = manifest.extra?["fit"]?.stringValue ?? "stretch"
    let foreground = Int(manifest.extra?["foreground_channel"]?.doubleValue ?? 1)
    let (fitted, placement) = try fitToInput(photo, height: h, width: w, mode: fit, sampled: true)
    let out = try model.predict(rgb: fitted)
    let low = unfit(probability(out, foreground: foreground), fit: placement, inputH: h, inputW: w)
    return upsampleBilinear(low, height: photo.height, width: photo.width, clip: true)
}

/// estimate_depth's global pass (detail 1, the default): fit, run, dequantize, cut back, resize.
public func estimateDepth(_ model: ImageModel, manifest: Manifest, entry: ModelEntry, photo: RGB8) throws -> FloatImage {
    guard let h = entry.inputHeight, let w = entry.inputWidth else {
        throw EdgePhotoError.invalidOption("\(entry.model): depth needs a fixed input size")
    }
    let (fitted, placement) = try fitToInput(photo, height: h, width: w, mode: "stretch")
    var out = try model.predict(rgb: fitted).channel(0)
    let spec = manifest.output
    if let q = spec.quantization, spec.dtype.hasPrefix("int") || spec.dtype.hasPrefix("uint") {
        out.data = out.data.map { ($0 - Float(q.zeroPoint)) * q.scale }
    }
    let low = unfit(out, fit: placement, inputH: h, inputW: w)
    return resizeFloat(low, height: photo.height, width: photo.width)
}

/// upscale for a luma model with open H/W (FSRCNN): the whole photo in one call within the
/// memory budget, else even tiles; chroma bicubic in the Python runtime's row strips.
public func upscaleLuma(_ model: ImageModel, manifest: Manifest, entry: ModelEntry, photo: RGB8,
                        budgetBytes: Int = 256 << 20) throws -> RGB8 {
    let s = entry.scale
    let planes = ycbcrPlanes(photo)
    let perPx = 4 * (1 + 2 * 64 + s * s * 1)
    let limit = max(budgetBytes / perPx, 1)
    let policy = manifest.tile
    let overlap = policy.map { $0.tile > 0 ? min(2 * $0.overlap, $0.tile / 2) : 2 * $0.overlap } ?? 0
    let blended: FloatImage
    var whole = false
    if photo.height * photo.width <= limit {
        blended = try model.predict(luma: planes.y)
        whole = true
    } else {
        let (th, tw) = try evenTiles(height: photo.height, width: photo.width, maxPx: limit, overlap: overlap,
                                     minimum: max(policy?.tile ?? 32, overlap + 8))
        let margin = marginFor(receptiveField: policy?.receptiveField ?? 0, overlap: overlap)
        blended = try tileImage(planes.y, tileH: th, tileW: tw, overlap: overlap, scale: s, margin: margin) { tiles in
            try tiles.map { try model.predict(luma: $0) }
        }
    }
    let norm = manifest.output.normalization ?? manifest.input.normalization ?? Normalization()
    let outH = photo.height * s, outW = photo.width * s
    var result = RGB8(height: outH, width: outW)
    let step = whole ? max(64, (1 << 20) / max(outW, 1)) : 64
    var y0 = 0
    while y0 < outH {
        let n = min(step, outH - y0)
        let box: [Float] = [0, Float(Double(y0) / Double(s)), Float(photo.width), Float(Double(y0 + n) / Double(s))]
        let cb = resampleF(planes.cb, outW: outW, outH: n, filter: .bicubic, box: box).data
        let cr = resampleF(planes.cr, outW: outW, outH: n, filter: .bicubic, box: box).data
        var rows = [Float](repeating: 0, count: n * outW)
        for i in 0..<(n * outW) { rows[i] = norm.invert(blended.data[(y0 * outW + i) * blended.channels], channel: 0) }
        let rgb = planesToUInt8(y: rows, cb: cb, cr: cr)
        result.data.replaceSubrange((y0 * outW * 3)..<((y0 + n) * outW * 3), with: rgb)
        y0 += n
    }
    return result
}

/// tiling.even_tiles: (th, tw) within maxPx covering the photo in the fewest computed px.
public func evenTiles(height: Int, width: Int, maxPx: Int, overlap: Int, minimum: Int = 32) throws -> (Int, Int) {
    func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
    let pad = overlap / 2
    let smallest = max(minimum, overlap + 1)
    var best: (Int, Int, Int)?
    for ny in 1..<(height / max(minimum - overlap, 1) + 2) {
        let th = max(ceilDiv(height + 2 * pad + (ny - 1) * overlap, ny), minimum, overlap + 1)
        if th * smallest > maxPx { continue }
        var nx = 1
        var tw = 0
        while true {
            tw = max(ceilDiv(width + 2 * pad + (nx - 1) * overlap, nx), minimum, overlap + 1)
            if th * tw <= maxPx || tw <= smallest { break }
            nx += 1
        }
        let rows = try axisStarts(length: height, tile: th, overlap: overlap).count
        let cols = try axisStarts(length: width, tile: tw, overlap: overlap).count
        let cost = rows * cols * th * tw
        if best == nil || cost < best!.0 { best = (cost, th, tw) }
    }
    guard let found = best else { return (smallest, smallest) }
    return (found.1, found.2)
}
