import EdgePhotoCore
import UIKit

/// UIImage <-> the core's types. Drawing into an sRGB context applies the EXIF orientation (as the
/// Python runtime's read_photo does) and shrinks to the long side the demo works at.
enum Photos {
    static let maxSide: CGFloat = 1600

    static func rgb8(_ image: UIImage) -> RGB8 {
        let scale = min(1, maxSide / max(image.size.width, image.size.height))
        let width = max(1, Int((image.size.width * scale).rounded()))
        let height = max(1, Int((image.size.height * scale).rounded()))
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        rgba.withUnsafeMutableBytes { raw in
            guard let context = CGContext(data: raw.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: width * 4, space: CGColorSpace(name: CGColorSpace.sRGB)!,
                                          bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return }
            UIGraphicsPushContext(context)
            context.translateBy(x: 0, y: CGFloat(height))
            context.scaleBy(x: 1, y: -1)
            image.draw(in: CGRect(x: 0, y: 0, width: width, height: height))
            UIGraphicsPopContext()
        }
        var out = RGB8(height: height, width: width)
        for i in 0..<(width * height) {
            out.data[3 * i] = rgba[4 * i]
            out.data[3 * i + 1] = rgba[4 * i + 1]
            out.data[3 * i + 2] = rgba[4 * i + 2]
        }
        return out
    }

    static func image(_ rgb: RGB8) -> UIImage? {
        var rgba = [UInt8](repeating: 255, count: rgb.width * rgb.height * 4)
        for i in 0..<(rgb.width * rgb.height) {
            rgba[4 * i] = rgb.data[3 * i]
            rgba[4 * i + 1] = rgb.data[3 * i + 1]
            rgba[4 * i + 2] = rgb.data[3 * i + 2]
        }
        return image(rgba: rgba, width: rgb.width, height: rgb.height)
    }

    /// A 0..1 map as grey; `invert` for depth (near = bright).
    static func grey(_ map: FloatImage, invert: Bool = false) -> UIImage? {
        var rgba = [UInt8](repeating: 255, count: map.width * map.height * 4)
        for i in 0..<(map.width * map.height) {
            let v = min(max(map.data[i * map.channels], 0), 1)
            let g = UInt8(((invert ? 1 - v : v) * 255).rounded())
            rgba[4 * i] = g
            rgba[4 * i + 1] = g
            rgba[4 * i + 2] = g
        }
        return image(rgba: rgba, width: map.width, height: map.height)
    }

    /// The photo with its matte as alpha (effects.remove_background).
    static func cutOut(_ rgb: RGB8, matte: FloatImage) -> UIImage? {
        var rgba = [UInt8](repeating: 0, count: rgb.width * rgb.height * 4)
        for i in 0..<(rgb.width * rgb.height) {
            let a = toUInt8(min(max(matte.data[i], 0), 1) * 255)
            // premultiplied alpha, as CoreGraphics wants it
            for c in 0..<3 { rgba[4 * i + c] = UInt8((Int(rgb.data[3 * i + c]) * Int(a) + 127) / 255) }
            rgba[4 * i + 3] = a
        }
        return image(rgba: rgba, width: rgb.width, height: rgb.height, alpha: true)
    }

    private static func image(rgba: [UInt8], width: Int, height: Int, alpha: Bool = false) -> UIImage? {
        let info = alpha ? CGImageAlphaInfo.premultipliedLast.rawValue : CGImageAlphaInfo.noneSkipLast.rawValue
        guard let provider = CGDataProvider(data: Data(rgba) as CFData),
              let cg = CGImage(width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: width * 4,
                               space: CGColorSpace(name: CGColorSpace.sRGB)!, bitmapInfo: CGBitmapInfo(rawValue: info),
                               provider: provider, decode: nil, shouldInterpolate: true, intent: .defaultIntent)
        else { return nil }
        return UIImage(cgImage: cg)
    }
}
