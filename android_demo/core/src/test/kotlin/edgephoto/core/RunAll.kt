package edgephoto.core

import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import kotlin.system.exitProcess

/** Runs every test class, prints each failure and the plain `N passed, N failed` line CI greps. */
fun main(args: Array<String>) {
    val classes = listOf(TilingTest::class.java, PreprocessTest::class.java, PostprocessTest::class.java, ManifestTest::class.java, BenchTest::class.java, AppResourcesTest::class.java)
        .filter { args.isEmpty() || it.simpleName in args }
    val result = JUnitCore().run(*classes.toTypedArray())
    result.failures.forEach { f: Failure -> println("FAILED ${f.testHeader}: ${f.message}\n${f.trace.lines().take(6).joinToString("\n")}") }
    val failed = result.failureCount
    println("kotlin core: ${result.runCount - failed} passed, $failed failed (${classes.size} classes, ${result.runTime} ms)")
    exitProcess(if (failed == 0 && result.runCount > 0) 0 else 1)
}
