// The pure-Kotlin core: no android.* imports, so it builds and tests on any JVM.
// Here (no Gradle repository offline) scripts/android_core_check.sh compiles it with kotlinc and
// runs the same JUnit 4 tests; in Android Studio `./gradlew :core:test` does.
plugins {
    kotlin("jvm")
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation("com.google.code.gson:gson:2.10.1")
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // the golden vectors and real artifacts the tests read (see README.md)
    systemProperty("edgephoto.repo", rootProject.projectDir.parentFile.absolutePath)
    systemProperty("edgephoto.artifacts", System.getenv("EDGEPHOTO_ANDROID_ARTIFACTS") ?: "${rootProject.projectDir}/app/src/main/assets/artifacts")
}
