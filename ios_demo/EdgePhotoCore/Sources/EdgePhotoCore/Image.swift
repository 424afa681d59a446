import Foundation

/// Row-major HWC float32 image (pixels 0..255, model values, masks), as the runtime's numpy arrays.
public struct FloatImage {
    public let height: Int
    public let width: Int
    public let channels: Int
    public var data: [Float]

    public init(height: Int, width: Int, channels: Int, data: [Float]? = nil) {
        self.height = height
        self.width = width
        self.channels = channels
        self.data = data ?? [Float](repeating: 0, count: height * width * channels)
        precondition(self.data.count == height * width * channels, "data does not match \(height)x\(width)x\(channels)")
    }

    public subscript(y: Int, x: Int, c: Int) -> Float {
        get { data[(y * width + x) * channels + c] }
        set { data[(y * width + x) * channels + c] = newValue }
    }

    public func channel(_ c: Int) -> FloatImage {
        var out = FloatImage(height: height, width: width, channels: 1)
        for i in 0..<(height * width) { out.data[i] = data[i * channels + c] }
        return out
    }

    /// Rows y0..<y1, columns x0..<x1, copied.
    public func region(y0: Int, x0: Int, y1: Int, x1: Int) -> FloatImage {
        var out = FloatImage(height: y1 - y0, width: x1 - x0, channels: channels)
        for y in y0..<y1 {
            for x in x0..<x1 {
                for c in 0..<channels { out[y - y0, x - x0, c] = self[y, x, c] }
            }
        }
        return out
    }
}

/// An 8-bit RGB photo, 3 bytes per pixel.
public struct RGB8 {
    public let height: Int
    public let width: Int
    public var data: [UInt8]

    public init(height: Int, width: Int, data: [UInt8]? = nil) {
        self.height = height
        self.width = width
        self.data = data ?? [UInt8](repeating: 0, count: height * width * 3)
        precondition(self.data.count == height * width * 3, "data does not match \(height)x\(width)x3")
    }

    public func toFloat() -> FloatImage {
        FloatImage(height: height, width: width, channels: 3, data: data.map { Float($0) })
    }
}

/// numpy's clip(rint(v), 0, 255) as uint8: round half to even, then saturate.
public func toUInt8(_ value: Float) -> UInt8 {
    let r = value.rounded(.toNearestOrEven)
    if r <= 0 { return 0 }
    if r >= 255 { return 255 }
    return UInt8(r)
}

extension FloatImage {
    /// 0..255 floats (3 channels) to an 8-bit photo.
    public func toRGB8() -> RGB8 {
        RGB8(height: height, width: width, data: data.map(toUInt8))
    }
}
