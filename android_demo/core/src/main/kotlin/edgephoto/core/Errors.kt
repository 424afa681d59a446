package edgephoto.core

/** The core's one exception tree, mirroring edgephoto.errors: the app maps it to one message. */
open class EdgePhotoException(message: String) : RuntimeException(message)

class InvalidOptionException(message: String) : EdgePhotoException(message)

class InputFileException(val path: String, reason: String) : EdgePhotoException("$path: $reason")

class HashMismatchException(val path: String, val expected: String, val actual: String) :
    EdgePhotoException("$path: sha256 $actual, manifest says $expected (tampered or truncated)")

internal fun invalid(message: String): Nothing = throw InvalidOptionException(message)
