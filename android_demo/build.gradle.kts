// Versions are the ones this project was written against; none of them could be resolved on the
// machine it was written on (no Google Maven there), see README.md.
plugins {
    id("com.android.application") version "8.7.3" apply false
    kotlin("android") version "2.4.20" apply false
    kotlin("jvm") version "2.4.20" apply false
}
