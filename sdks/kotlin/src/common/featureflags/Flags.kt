package featureflags

/**
 * One flag as the service evaluated it for the client's context (an OFREP
 * bulk answer's entry), or an error in its place (`errorCode` set, no value).
 */
data class EvaluatedFlag(
    val key: String,
    val value: Any?,
    val reason: String,
    val variant: String?,
    val errorCode: String?
)

/** What the client serves: every flag's evaluation, and the answer's ETag. */
class FlagValues(val flags: Map<String, EvaluatedFlag>, val etag: String?) {
    companion object {
        val EMPTY = FlagValues(emptyMap(), null)

        /**
         * Reads an OFREP bulk answer (`{"flags": [...]}`); throws
         * [JsonException] when it is not one.
         */
        fun fromBulkAnswer(body: String, etag: String?): FlagValues {
            val root = Json.parse(body) as? Map<*, *> ?: throw JsonException("the answer is not an object")
            val entries = root["flags"] as? List<*> ?: throw JsonException("the answer has no flags")
            val flags = LinkedHashMap<String, EvaluatedFlag>()
            for (entry in entries) {
                val flag = entry as? Map<*, *> ?: continue
                val key = flag["key"] as? String ?: continue
                val errorCode = flag["errorCode"] as? String
                flags[key] = EvaluatedFlag(
                    key,
                    if (errorCode == null) flag["value"] else null,
                    (flag["reason"] as? String) ?: (if (errorCode == null) "UNKNOWN" else "ERROR"),
                    flag["variant"] as? String,
                    errorCode
                )
            }
            return FlagValues(flags, etag)
        }

        /**
         * Reads a snapshot file written by `feature-flags snapshot` (the same
         * values for every context); throws [JsonException] when it is not one.
         */
        fun fromSnapshotFile(text: String): FlagValues {
            val root = Json.parse(text) as? Map<*, *> ?: throw JsonException("not a snapshot file")
            if (root["format"] != "feature-flags-snapshot" || root["version"] != 1L) {
                throw JsonException("not a feature-flags-snapshot file of version 1")
            }
            val entries = root["flags"] as? Map<*, *> ?: throw JsonException("the file has no flags")
            val flags = LinkedHashMap<String, EvaluatedFlag>()
            for ((key, entry) in entries) {
                val flag = entry as? Map<*, *> ?: continue
                val id = key as? String ?: continue
                flags[id] = EvaluatedFlag(
                    id,
                    flag["value"],
                    (flag["reason"] as? String) ?: "STATIC",
                    flag["variant"] as? String,
                    null
                )
            }
            return FlagValues(flags, null)
        }
    }

    /**
     * The value of [key] as the type of [default], or [default]: when the
     * flag is unknown, was an error, or holds another type. Integers serve
     * `Double` defaults too; an integer default takes only integral values.
     */
    @Suppress("UNCHECKED_CAST")
    fun <T> valueOf(key: String, default: T): T {
        val flag = flags[key] ?: return default
        if (flag.errorCode != null) return default
        return (coerce(flag.value, default) ?: default) as T
    }
}

/** [value] as the kind of [default], or `null` when it is another kind. */
internal fun coerce(value: Any?, default: Any?): Any? = when (default) {
    is Boolean -> value as? Boolean
    is String -> value as? String
    is Int -> (value as? Long)?.let { if (it >= Int.MIN_VALUE && it <= Int.MAX_VALUE) it.toInt() else null }
    is Long -> value as? Long
    is Double -> (value as? Double) ?: (value as? Long)?.toDouble()
    is Float -> ((value as? Double) ?: (value as? Long)?.toDouble())?.toFloat()
    is Map<*, *> -> value as? Map<*, *>
    is List<*> -> value as? List<*>
    null -> value
    else -> null
}
