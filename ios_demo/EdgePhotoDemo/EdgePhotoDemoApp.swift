import SwiftUI

@main
struct EdgePhotoDemoApp: App {
    var body: some Scene {
        WindowGroup {
            TabView {
                ContentView()
                    .tabItem { Label("Photo", systemImage: "photo") }
                BenchmarkView()
                    .tabItem { Label("Benchmark", systemImage: "speedometer") }
            }
        }
    }
}
