import EdgePhotoCore
import PhotosUI
import SwiftUI

/// Pick or take a photo; every bundled model runs on it; each step is listed with its time.
struct ContentView: View {
    @State private var selection: PhotosPickerItem?
    @State private var showCamera = false
    @State private var compute: ComputeChoice = .all
    @State private var results: [StepResult] = []
    @State private var status = "Pick or take a photo: every bundled model runs on it."

    var body: some View {
        NavigationStack {
            List {
                Section {
                    PhotosPicker("Photo library", selection: $selection, matching: .images)
                    Button("Camera") { showCamera = true }
                        .disabled(!UIImagePickerController.isSourceTypeAvailable(.camera))
                    Picker("Compute units", selection: $compute) {
                        ForEach(ComputeChoice.allCases, id: \.self) { Text($0.rawValue).tag($0) }
                    }
                    Text(status).font(.footnote)
                }
                ForEach(results) { result in
                    VStack(alignment: .leading) {
                        Text("\(result.step): \(String(format: "%.1f", result.ms)) ms").bold()
                        Text(result.detail).font(.caption)
                        if let image = result.image {
                            Image(uiImage: image).resizable().scaledToFit().frame(maxHeight: 240)
                        }
                    }
                }
            }
            .navigationTitle("edgephoto")
            .sheet(isPresented: $showCamera) { CameraPicker { process($0) } }
            .onChange(of: selection) { item in
                guard let item else { return }
                Task {
                    if let data = try? await item.loadTransferable(type: Data.self), let image = UIImage(data: data) {
                        process(image)
                    }
                }
            }
        }
    }

    private func process(_ image: UIImage) {
        results = []
        status = "Running…"
        let chosen = compute
        DispatchQueue.global(qos: .userInitiated).async {
            do {
                let (photo, ms) = Pipeline.timed { Photos.rgb8(image) }
                publish(StepResult(step: "decode", ms: ms, detail: "\(photo.width)x\(photo.height), orientation applied", image: image))
                try Pipeline.run(photo: photo, compute: chosen, report: publish)
                DispatchQueue.main.async { status = "Done" }
            } catch {
                DispatchQueue.main.async { status = "Failed: \(error)" }
            }
        }
    }

    private func publish(_ step: StepResult) {
        DispatchQueue.main.async { results.append(step) }
    }
}
