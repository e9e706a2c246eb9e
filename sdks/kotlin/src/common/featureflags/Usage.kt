package featureflags

/**
 * What an app did with its flags since the last report: lookups counted per
 * flag and outcome, variants shown to users (exposures, for experiments),
 * and events tracked. The service takes them in `POST /api/v1/metrics` and
 * `POST /api/v1/track`. Not thread-safe: the client guards it.
 */
class Usage(private val maxKeys: Int = 10_000, private val maxEvents: Int = 10_000) {
    private data class Key(val flag: String, val label: String, val reason: String, val errorCode: String?)
    private data class Exposure(val flag: String, val variant: String, val userId: String)

    private val counts = LinkedHashMap<Key, Long>()
    /** Each exposure and when it first happened. */
    private val exposures = LinkedHashMap<Exposure, String>()
    private val events = ArrayList<Map<String, Any?>>()

    /** Lookups, exposures and events that could not be kept (too many waited). */
    var dropped: Long = 0
        private set

    /** Counts one lookup of [flag] at [now], and its exposure when it served a variant to [userId]. */
    fun looked(flag: EvaluatedFlag, userId: String?, now: () -> String) {
        val key = Key(flag.key, labelOf(flag), flag.reason, flag.errorCode)
        val count = counts[key]
        when {
            count != null -> counts[key] = count + 1
            counts.size < maxKeys -> counts[key] = 1L
            else -> dropped++
        }
        val variant = flag.variant
        if (variant != null && userId != null && flag.errorCode == null) {
            val exposure = Exposure(flag.key, variant, userId)
            when {
                exposures.containsKey(exposure) -> {}
                exposures.size < maxKeys -> exposures[exposure] = now()
                else -> dropped++
            }
        }
    }

    /** Keeps an event for the next report. */
    fun tracked(event: String, userId: String, value: Double?, timestamp: String) {
        if (events.size >= maxEvents) {
            dropped++
            return
        }
        val entry = LinkedHashMap<String, Any?>()
        entry["event"] = event
        entry["user_id"] = userId
        if (value != null) entry["value"] = value
        entry["timestamp"] = timestamp
        events.add(entry)
    }

    /** Whether there is nothing to report. */
    fun isEmpty(): Boolean = counts.isEmpty() && exposures.isEmpty() && events.isEmpty()

    /** The `POST /api/v1/metrics` body of what was counted (null when nothing was). */
    fun metricsBody(sdk: String): String? {
        if (counts.isEmpty() && exposures.isEmpty()) return null
        val evaluations = counts.map { (key, count) ->
            val entry = LinkedHashMap<String, Any?>()
            entry["flag_id"] = key.flag
            entry["label"] = key.label
            entry["reason"] = key.reason
            if (key.errorCode != null) entry["error_code"] = key.errorCode
            entry["count"] = count
            entry
        }
        val shown = exposures.map { (it, at) ->
            mapOf("flag_id" to it.flag, "variant" to it.variant, "user_id" to it.userId, "at" to at)
        }
        return Json.write(mapOf("sdk" to sdk, "evaluations" to evaluations, "exposures" to shown))
    }

    /** The `POST /api/v1/track` body of the events kept (null when none). */
    fun eventsBody(): String? = if (events.isEmpty()) null else Json.write(mapOf("events" to events.take(1000)))

    /** Forgets the counts and exposures (they were reported). */
    fun metricsSent() {
        counts.clear()
        exposures.clear()
    }

    /** Forgets the events sent (the first thousand). */
    fun eventsSent() {
        val sent = minOf(events.size, 1000)
        events.subList(0, sent).clear()
    }

    companion object {
        /**
         * How the service labels an outcome: the variant, else `true`/`false`,
         * a short string as it is, a number's text, `json`, `string` or `null`.
         */
        fun labelOf(flag: EvaluatedFlag): String {
            if (flag.errorCode != null) return ""
            flag.variant?.let { return it }
            val value = flag.value
            return when (value) {
                null -> "null"
                is Boolean -> value.toString()
                is String -> if (value.length <= 64) value else "string"
                is Long -> value.toString()
                is Double -> value.toString()
                else -> "json"
            }
        }
    }
}
