package featureflags

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Test

class JsonTest {
    @Test
    fun readsWhatItWritesAndKeepsOrder() {
        val value = linkedMapOf<String, Any?>(
            "b" to listOf(1L, 2.5, -3L, 1.0e10, true, false, null),
            "a" to "quote \" slash \\ newline \n tab \t unicode é ✓ \u0001",
            "nested" to mapOf("x" to emptyList<Any>(), "y" to emptyMap<String, Any>())
        )
        val text = Json.write(value)
        assertEquals(value, Json.parse(text))
        assertEquals(listOf("b", "a", "nested"), (Json.parse(text) as Map<*, *>).keys.toList())
        assertEquals("\u00e9", Json.parse("\"\\u00e9\""))
        assertEquals(10.0, Json.parse("10.0"), "a float stays a float")
        assertEquals(10L, Json.parse(" 10 "))
    }

    @Test
    fun refusesMalformedText() {
        for (text in listOf("", "{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", "-", "{\"a\":1,}", "\"\\x\"")) {
            assertThrows(JsonException::class.java, { Json.parse(text) }, text)
        }
    }
}
