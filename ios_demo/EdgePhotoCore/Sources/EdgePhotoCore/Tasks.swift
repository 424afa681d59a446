import Foundation

/// A model behind an image input: the Core ML runner on a device, anything else in tests.
public protocol ImageModel {
    /// RGB pixels already at the model's input size.
    func predict(rgb: RGB8) throws -> FloatImage
    /// A luma (BT.601 Y, 0..255) plane, for grayscale-input models.
    func predict(luma: FloatImage) throws -> FloatImage
}

/// segmentation.low_res_mask: fit (stretch, sampled), run once, probability, cut back to the content box.
public func lowResMask(_ model: ImageModel, manifest: Manifest, entry: ModelEntry, photo: RGB8) throws -> FloatImage {
    guard let h = entry.inputHeight, let w = entry.inputWidth else {
        throw EdgePhotoError.invalidOption("\(entry.model): segmentation needs a fixed input size")
    }
    let fit = manifest.extra?["fit"]?.stringValue ?? "stretch"
    let foreground = Int(manifest.extra?["foreground_channel"]?.doubleValue ?? 1)
    let (fitted, placement) = try fitToInput(photo, height: h, width: w, mode: fit, sampled: true)
    let out = try model.predict(rgb: fitted)
    return unfit(probability(out, foreground: foreground), fit: placement, inputH: h, inputW: w)
}

/// segmentation.ZoomPolicy's defaults (fuse "max"): when the second look at a small person runs.
public struct ZoomPolicy {
    public var threshold: Float = 0.5
    public var maxArea = 0.5
    public var margin = 0.1
    public var maxAspect = 2.0
    public var maxCrop = 0.9
    public var gap = 0.03
    public var minShare = 0.05
    public var maxCrops = 4
    public init() {}
}

/// A crop in photo px: rows y0..<y1, columns x0..<x1.
public struct Region: Equatable {
    public let y0: Int, x0: Int, y1: Int, x1: Int
}

/// person_boxes: a box [y0, x0, y1, x1] (0..1 of the map) per person, parted at empty columns, largest first.
public func personBoxes(_ low: FloatImage, policy: ZoomPolicy = ZoomPolicy()) -> [[Double]] {
    let h = low.height, w = low.width
    let cols = (0..<w).filter { j in (0..<h).contains { i in low[i, j, 0] > policy.threshold } }
    guard let first = cols.first else { return [] }
    let apart = max(1, Int(policy.gap * Double(w)))
    var ranges = [(first, first + 1)]
    for k in 1..<cols.count {
        if cols[k] - cols[k - 1] > apart { ranges.append((cols[k], cols[k] + 1)) } else { ranges[ranges.count - 1].1 = cols[k] + 1 }
    }
    var parts: [(index: Int, count: Int, box: [Double])] = []
    for (index, (a, b)) in ranges.enumerated() {
        var count = 0, top = h, bottom = -1
        for i in 0..<h {
            for j in a..<b where low[i, j, 0] > policy.threshold {
                count += 1
                top = min(top, i)
                bottom = max(bottom, i)
            }
        }
        parts.append((index, count, [Double(top) / Double(h), Double(a) / Double(w), Double(bottom + 1) / Double(h), Double(b) / Double(w)]))
    }
    let total = parts.reduce(0) { $0 + $1.count }
    let kept = parts.count > 1 ? parts.filter { Double($0.count) >= policy.minShare * Double(total) } : parts
    // Swift's sort is not stable: ties keep column order through the index
    return kept.sorted { $0.count != $1.count ? $0.count > $1.count : $0.index < $1.index }.map { $0.box }
}

/// zoom_crop: photo px around a box with context, at most maxAspect long, shifted then cut at the edges.
public func zoomCrop(_ box: [Double], height: Int, width: Int, margin: Double = 0.1, maxAspect: Double = 2.0) -> Region {
    let y0 = box[0] * Double(height), x0 = box[1] * Double(width), y1 = box[2] * Double(height), x1 = box[3] * Double(width)
    let grow = 2 * margin * max(y1 - y0, x1 - x0)
    let grownTall = y1 - y0 + grow, grownWide = x1 - x0 + grow
    let tall = max(grownTall, grownWide / maxAspect), wide = max(grownWide, grownTall / maxAspect)
    func axis(_ centre: Double, _ length: Double, _ limit: Int) -> (Int, Int) {
        let size = max(1, min(limit, Int(length.rounded(.toNearestOrEven))))
        let start = Int(min(max(0, (centre - Double(size) / 2).rounded(.toNearestOrEven)), Double(limit - size)))
        return (start, start + size)
    }
    let (top, bottom) = axis((y0 + y1) / 2, tall, height)
    let (left, right) = axis((x0 + x1) / 2, wide, width)
    return Region(y0: top, x0: left, y1: bottom, x1: right)
}

/// zoom_regions: the crops second passes should see, largest person first; empty when none would pay.
public func zoomRegions(_ low: FloatImage, height: Int, width: Int, policy: ZoomPolicy = ZoomPolicy()) -> [Region] {
    let crops = personBoxes(low, policy: policy)
        .filter { ($0[2] - $0[0]) * ($0[3] - $0[1]) < policy.maxArea }
        .map { zoomCrop($0, height: height, width: width, margin: policy.margin, maxAspect: policy.maxAspect) }
        .filter { Double(($0.y1 - $0.y0) * ($0.x1 - $0.x0)) < policy.maxCrop * Double(height * width) }
    return Array(crops.prefix(policy.maxCrops))
}

/// Rows y0..<y1, columns x0..<x1 of a photo, copied.
func cropPhoto(_ photo: RGB8, _ r: Region) -> RGB8 {
    var data = [UInt8]()
    data.reserveCapacity((r.y1 - r.y0) * (r.x1 - r.x0) * 3)
    for y in r.y0..<r.y1 { data.append(contentsOf: photo.data[((y * photo.width + r.x0) * 3)..<((y * photo.width + r.x1) * 3)]) }
    return RGB8(height: r.y1 - r.y0, width: r.x1 - r.x0, data: data)
}

/// segmentation.segment: the single pass bilinear up to the photo; with zoom (the default, as
/// segment(zoom=True)) the model runs again on a crop around each small person, max-fused in.
public func segment(_ model: ImageModel, manifest: Manifest, entry: ModelEntry, photo: RGB8, zoom: Bool = true) throws -> FloatImage {
    let low = try lowResMask(model, manifest: manifest, entry: entry, photo: photo)
    var full = upsampleBilinear(low, height: photo.height, width: photo.width, clip: true)
    guard zoom else { return full }
    for r in zoomRegions(low, height: photo.height, width: photo.width) {
        let part = cropPhoto(photo, r)
        let near = upsampleBilinear(try lowResMask(model, manifest: manifest, entry: entry, photo: part),
                                    height: part.height, width: part.width, clip: true)
        for i in 0..<part.height {
            for j in 0..<part.width {
                let o = (r.y0 + i) * photo.width + r.x0 + j
                full.data[o] = max(full.data[o], near.data[i * part.width + j])
            }
        }
    }
    return full
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
