// swift-tools-version:5.9
// The portable core of the iOS demo: manifest Codable, tiling, pre/post-processing, bench JSON,
// and (where Core ML exists) a runner for the .mlpackage artifacts `edgephoto convert` writes.
import PackageDescription

let package = Package(
    name: "EdgePhotoCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "EdgePhotoCore", targets: ["EdgePhotoCore"]),
    ],
    targets: [
        .target(name: "EdgePhotoCore"),
        .testTarget(name: "EdgePhotoCoreTests", dependencies: ["EdgePhotoCore"]),
    ]
)
