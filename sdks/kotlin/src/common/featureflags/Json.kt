package featureflags

/**
 * A small JSON reader and writer, because this SDK takes no dependencies
 * (the app brings its own). Values are Kotlin values: `null`, `Boolean`,
 * `Long` (integers), `Double` (numbers with a fraction or exponent),
 * `String`, `List<Any?>` and `Map<String, Any?>` (insertion order kept).
 * Platform-free: this file is shared by every target.
 */
object Json {
    /** Parses [text]; throws [JsonException] on malformed input. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipSpace()
        val value = reader.value(0)
        reader.skipSpace()
        if (!reader.atEnd()) throw reader.fail("unexpected text after the value")
        return value
    }

    /** Writes [value] (the kinds above; other numbers as numbers). */
    fun write(value: Any?): String {
        val out = StringBuilder()
        writeTo(out, value)
        return out.toString()
    }

    private fun writeTo(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is Boolean -> out.append(if (value) "true" else "false")
            is Double -> out.append(if (value.isNaN() || value.isInfinite()) "null" else value.toString())
            is Float -> writeTo(out, value.toDouble())
            is Number -> out.append(value.toLong().toString())
            is String -> writeString(out, value)
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((key, item) in value) {
                    if (!first) out.append(',')
                    first = false
                    writeString(out, key.toString())
                    out.append(':')
                    writeTo(out, item)
                }
                out.append('}')
            }
            is Iterable<*> -> {
                out.append('[')
                var first = true
                for (item in value) {
                    if (!first) out.append(',')
                    first = false
                    writeTo(out, item)
                }
                out.append(']')
            }
            is Array<*> -> writeTo(out, value.toList())
            else -> writeString(out, value.toString())
        }
    }

    private fun writeString(out: StringBuilder, text: String) {
        out.append('"')
        for (c in text) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' -> {
                    val hex = c.toInt().toString(16)
                    out.append("\\u").append("0000".substring(hex.length)).append(hex)
                }
                else -> out.append(c)
            }
        }
        out.append('"')
    }

    private class Reader(val text: String) {
        var at = 0

        fun atEnd() = at >= text.length

        fun fail(what: String) = JsonException("$what at offset $at")

        fun skipSpace() {
            while (at < text.length && (text[at] == ' ' || text[at] == '\n' || text[at] == '\r' || text[at] == '\t')) at++
        }

        fun value(depth: Int): Any? {
            if (depth > 64) throw fail("nesting deeper than 64")
            if (atEnd()) throw fail("a value was expected")
            return when (text[at]) {
                '{' -> obj(depth)
                '[' -> array(depth)
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun literal(word: String, value: Any?): Any? {
            if (!text.startsWith(word, at)) throw fail("unexpected text")
            at += word.length
            return value
        }

        fun obj(depth: Int): Map<String, Any?> {
            val map = LinkedHashMap<String, Any?>()
            at++
            skipSpace()
            if (at < text.length && text[at] == '}') {
                at++
                return map
            }
            while (true) {
                skipSpace()
                if (atEnd() || text[at] != '"') throw fail("a member name was expected")
                val key = string()
                skipSpace()
                if (atEnd() || text[at] != ':') throw fail("':' was expected")
                at++
                skipSpace()
                map[key] = value(depth + 1)
                skipSpace()
                if (atEnd()) throw fail("'}' was expected")
                when (text[at]) {
                    ',' -> at++
                    '}' -> {
                        at++
                        return map
                    }
                    else -> throw fail("',' or '}' was expected")
                }
            }
        }

        fun array(depth: Int): List<Any?> {
            val list = ArrayList<Any?>()
            at++
            skipSpace()
            if (at < text.length && text[at] == ']') {
                at++
                return list
            }
            while (true) {
                skipSpace()
                list.add(value(depth + 1))
                skipSpace()
                if (atEnd()) throw fail("']' was expected")
                when (text[at]) {
                    ',' -> at++
                    ']' -> {
                        at++
                        return list
                    }
                    else -> throw fail("',' or ']' was expected")
                }
            }
        }

        fun string(): String {
            val out = StringBuilder()
            at++
            while (true) {
                if (atEnd()) throw fail("an unterminated string")
                val c = text[at++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (atEnd()) throw fail("an unterminated escape")
                        when (val e = text[at++]) {
                            '"' -> out.append('"')
                            '\\' -> out.append('\\')
                            '/' -> out.append('/')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (at + 4 > text.length) throw fail("a short \\u escape")
                                val code = text.substring(at, at + 4).toIntOrNull(16) ?: throw fail("a bad \\u escape")
                                out.append(code.toChar())
                                at += 4
                            }
                            else -> throw fail("an unknown escape \\$e")
                        }
                    }
                    c < ' ' -> throw fail("a control character in a string")
                    else -> out.append(c)
                }
            }
        }

        fun number(): Any {
            val start = at
            if (at < text.length && text[at] == '-') at++
            var fraction = false
            while (at < text.length) {
                val c = text[at]
                if (c in '0'..'9') {
                    at++
                } else if (c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && at > start)) {
                    fraction = true
                    at++
                } else {
                    break
                }
            }
            val literal = text.substring(start, at)
            if (literal.isEmpty() || literal == "-") throw fail("a value was expected")
            if (!fraction) {
                val whole = literal.toLongOrNull()
                if (whole != null) return whole
            }
            return literal.toDoubleOrNull() ?: throw fail("a malformed number \"$literal\"")
        }
    }
}

/** Malformed JSON. */
class JsonException(message: String) : RuntimeException(message)
