package edgephoto.core

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * What can be checked of the Android app without the SDK (no android.jar, no aapt2 here): every
 * R.<type>.<name> in the app's Kotlin and every @type/name in its XML names a resource that exists
 * in res/, every activity/provider the manifest declares is a class in the app's sources, and
 * every `import edgephoto.core.X` names a declaration of the core module.
 */
class AppResourcesTest {
    private val app = File(Golden.repo, "android_demo/app/src/main")
    private val res = File(app, "res")
    private val kotlin = File(app, "java").walkTopDown().filter { it.extension == "kt" }.toList()
    private val xml = res.walkTopDown().filter { it.extension == "xml" }.toList() + File(app, "AndroidManifest.xml")

    private fun defined(): Map<String, Set<String>> {
        val out = mutableMapOf<String, MutableSet<String>>()
        fun add(type: String, name: String) = out.getOrPut(type) { mutableSetOf() }.add(name)
        for (dir in res.listFiles().orEmpty().filter { it.isDirectory }) {
            val type = dir.name.substringBefore("-")
            for (file in dir.listFiles().orEmpty()) {
                if (type != "values") add(type, file.name.substringBefore("."))
                val text = file.readText()
                if (type == "values") {
                    Regex("""<(string|color|dimen|style|bool|integer|string-array|plurals)\s+name="([^"]+)"""").findAll(text).forEach {
                        val t = it.groupValues[1].let { t -> if (t == "string-array" || t == "plurals") "array" else t }
                        add(if (it.groupValues[1] == "plurals") "plurals" else t, it.groupValues[2])
                    }
                }
                Regex("""@\+id/([A-Za-z0-9_]+)""").findAll(text).forEach { add("id", it.groupValues[1]) }
            }
        }
        return out
    }

    @Test
    fun theAppIsThere() {
        assertTrue("app sources at $app", kotlin.size >= 4)
        assertTrue("a manifest", File(app, "AndroidManifest.xml").isFile)
    }

    @Test
    fun everyResourceReferencedExists() {
        val have = defined()
        val missing = mutableListOf<String>()
        for (file in kotlin) {
            Regex("""(?<![\w.])R\.(string|layout|id|drawable|mipmap|xml|color|dimen|style|menu|raw|array)\.([A-Za-z0-9_]+)""").findAll(file.readText()).forEach {
                val (type, name) = it.destructured
                val key = if (type == "style") name.replace('_', '.') else name
                if (have[type]?.contains(key) != true && have[type]?.contains(name) != true) missing.add("${file.name}: R.$type.$name")
            }
        }
        for (file in xml) {
            Regex("""@(string|layout|drawable|mipmap|xml|color|dimen|style|menu|raw|array|id)/([A-Za-z0-9_.]+)""").findAll(file.readText()).forEach {
                val (type, name) = it.destructured
                if (have[type]?.contains(name) != true) missing.add("${file.name}: @$type/$name")
            }
        }
        assertEquals("resources referenced but not in res/", emptyList<String>(), missing)
    }

    @Test
    fun everyComponentTheManifestDeclaresIsAClass() {
        val manifest = File(app, "AndroidManifest.xml").readText()
        val classes = kotlin.flatMap { f -> Regex("""^(?:class|object|open class)\s+(\w+)""", RegexOption.MULTILINE).findAll(f.readText()).map { it.groupValues[1] }.toList() }.toSet()
        val declared = Regex("""<(activity|service|receiver)[^>]*android:name="\.?([\w.]+)"""").findAll(manifest).map { it.groupValues[2].substringAfterLast('.') }.toList()
        assertTrue("the manifest declares activities", declared.isNotEmpty())
        assertEquals("declared in AndroidManifest.xml, not in the sources", emptyList<String>(), declared.filter { it !in classes })
    }

    @Test
    fun everyCoreImportNamesACoreDeclaration() {
        val core = File(Golden.repo, "android_demo/core/src/main/kotlin").walkTopDown().filter { it.extension == "kt" }.joinToString("\n") { it.readText() }
        val names = Regex("""^(?:(?:open |abstract |sealed |data |enum )?class|interface|object|fun(?: <[^>]+>)?(?: [\w.]+\.)?|val|const val|typealias)\s+(\w+)""", RegexOption.MULTILINE).findAll(core).map { it.groupValues[1] }.toSet()
        val missing = kotlin.flatMap { f ->
            Regex("""^import edgephoto\.core\.(\w+)""", RegexOption.MULTILINE).findAll(f.readText()).map { it.groupValues[1] }.filter { it !in names }.map { "${f.name}: $it" }.toList()
        }
        assertEquals("imports of edgephoto.core names the core does not declare", emptyList<String>(), missing)
    }
}
