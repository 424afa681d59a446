import Foundation

/// The colour space of a Core ML image input (the converter folds the normalisation into it).
public enum ImageColor: String {
    case rgb = "RGB"
    case grayscale = "GRAYSCALE"
}

/// What the app feeds each bundled model and reads back: the only place tensor names live in the
/// Swift code. tests/demos/test_ios_manifest_names.py reads these entries (tree-sitter) and checks
/// them against the artifacts `edgephoto convert --target coreml` writes (manifest.json and the
/// .mlpackage spec); at run time `check(_:)` compares them with the bundled manifest again.
public struct ModelEntry {
    public let model: String
    public let task: String
    public let input: String
    public let output: String
    public let inputHeight: Int?  // nil = open: any size in the model's range
    public let inputWidth: Int?
    public let color: ImageColor
    public let outputChannels: Int
    public let scale: Int

    public init(model: String, task: String, input: String, output: String, inputHeight: Int?, inputWidth: Int?,
                color: ImageColor, outputChannels: Int, scale: Int) {
        self.model = model
        self.task = task
        self.input = input
        self.output = output
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.color = color
        self.outputChannels = outputChannels
        self.scale = scale
    }

    /// Refuse an artifact whose manifest disagrees with what this code feeds it.
    public func check(_ manifest: Manifest) throws {
        let input = manifest.input
        let output = manifest.output
        let (h, w) = input.hw
        var problems: [String] = []
        if manifest.model != model { problems.append("model \(manifest.model) != \(model)") }
        if manifest.task != task { problems.append("task \(manifest.task) != \(task)") }
        if input.name != self.input { problems.append("input \(input.name) != \(self.input)") }
        if output.name != self.output { problems.append("output \(output.name) != \(self.output)") }
        if h != inputHeight || w != inputWidth { problems.append("input size \(String(describing: h))x\(String(describing: w))") }
        if output.channels != outputChannels { problems.append("output channels \(String(describing: output.channels))") }
        if manifest.upscale != scale { problems.append("scale \(manifest.upscale) != \(scale)") }
        if !problems.isEmpty {
            throw EdgePhotoError.invalidOption("\(model): the artifact does not match the app: \(problems.joined(separator: ", "))")
        }
    }
}

public enum ModelCatalog {
    public static let selfie = ModelEntry(
        model: "selfie", task: "segmentation", input: "input_1", output: "activation_10",
        inputHeight: 256, inputWidth: 256, color: .rgb, outputChannels: 1, scale: 1)
    public static let fastdepth = ModelEntry(
        model: "fastdepth", task: "depth", input: "image", output: "depth",
        inputHeight: 224, inputWidth: 224, color: .rgb, outputChannels: 1, scale: 1)
    public static let fsrcnnX2 = ModelEntry(
        model: "fsrcnn-x2", task: "upscale", input: "IteratorGetNext", output: "NHWC_output",
        inputHeight: nil, inputWidth: nil, color: .grayscale, outputChannels: 1, scale: 2)

    public static let all: [ModelEntry] = [selfie, fastdepth, fsrcnnX2]
}
