plugins {
    id("com.android.application")
    kotlin("android")
}

android {
    namespace = "edgephoto.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "edgephoto.demo"
        minSdk = 28 // ImageDecoder (applies EXIF orientation, as the Python runtime's read_photo does)
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // .tflite files are memory-mapped straight out of the APK: they must stay uncompressed
        noCompress += listOf("tflite")
    }
}

dependencies {
    implementation(project(":core"))
    implementation("com.google.ai.edge.litert:litert:1.4.0")
    implementation("com.google.ai.edge.litert:litert-gpu:1.4.0")
    implementation("com.google.ai.edge.litert:litert-gpu-api:1.4.0")
    implementation("androidx.activity:activity-ktx:1.9.3")
    implementation("androidx.core:core-ktx:1.15.0")
    implementation("com.google.code.gson:gson:2.10.1")
}

// The artifacts are not committed: `edgephoto convert` writes them (manifest.json + .tflite, with
// the parity it measured) into the assets, where Artifacts.kt finds and re-hashes them.
tasks.register<Exec>("edgephotoArtifacts") {
    description = "Convert the demo's models with the edgephoto CLI into src/main/assets/artifacts"
    val out = layout.projectDirectory.dir("src/main/assets/artifacts").asFile.absolutePath
    commandLine("sh", "-c", "for m in selfie fastdepth fsrcnn-x2; do edgephoto convert --model \$m --target tflite --out '$out' || exit 1; done")
}

// The sample photo the benchmark feeds (the same built-in sample `edgephoto bench` uses).
val edgephotoSamples = tasks.register<Copy>("edgephotoSamples") {
    from(rootProject.file("../src/edgephoto/data/astronaut.jpg"))
    into(layout.buildDirectory.dir("generated/edgephoto-assets/samples"))
}
android.sourceSets["main"].assets.srcDir(layout.buildDirectory.dir("generated/edgephoto-assets"))
tasks.named("preBuild") { dependsOn(edgephotoSamples) }
