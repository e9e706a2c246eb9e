package featureflags

import java.io.BufferedReader
import java.io.Closeable
import java.io.File
import java.io.InputStreamReader
import java.net.HttpURLConnection
import java.net.URL
import java.net.URLEncoder
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/** How a client reaches the service; the defaults suit apps. */
data class ClientOptions(
    /** First wait before reconnecting the stream; doubles up to [maxBackoffMillis]. */
    val initialBackoffMillis: Long = 250,
    val maxBackoffMillis: Long = 30_000,
    /** A stream silent this long counts as dead (the service sends a keep-alive every 15 s). */
    val streamIdleTimeoutMillis: Int = 45_000,
    /** Connect and read timeout of an evaluation request. */
    val requestTimeoutMillis: Int = 10_000,
    /** How often lookups, exposures and tracked events are reported (0: never by itself; see [FeatureFlagClient.flushMetrics]). */
    val metricsIntervalMillis: Long = 60_000
)

/** Where a client stands. */
enum class Status {
    /** No values yet: lookups answer their defaults. */
    CONNECTING,
    /** Values from the service, kept current by its stream. */
    READY,
    /** The service cannot be reached: the last values are served (see [FeatureFlagClient.lastError]). */
    STALE,
    /** Values from a snapshot file; no service is contacted. */
    OFFLINE
}

/** What one [FeatureFlagClient.refresh] did. */
enum class Refresh { UPDATED, NOT_MODIFIED, FAILED }

/**
 * A client-side feature flag client (apps, with a **client key**): the
 * service evaluates every flag for this client's user in one OFREP bulk
 * request, the client keeps the answer, and the service's OFREP stream tells
 * it when to fetch again (with `If-None-Match`, so an unchanged answer costs
 * a `304`). Rules never reach the device, only this user's values.
 *
 * Lookups answer from memory and never throw: an unknown flag, an error or a
 * value of another type gives the default. While the service cannot be
 * reached the last values are served and the stream reconnects with backoff.
 *
 * ```
 * val featureFlagClient = FeatureFlagClient(
 *     apiUrl = "https://flags.pratiko.ai",
 *     apiKey = "ff_client_...",
 *     environment = "production",
 *     userId = "user-123"
 * )
 * if (featureFlagClient.isEnabled("new_dashboard_ui")) showNewDashboard()
 * val maxItems = featureFlagClient.getValue("max_items_per_page", 20)
 * ```
 */
class FeatureFlagClient private constructor(
    private val apiUrl: String,
    private val apiKey: String,
    private val environment: String?,
    @Volatile private var context: Map<String, Any?>,
    private val options: ClientOptions,
    offlineValues: FlagValues?
) : Closeable {

    constructor(
        apiUrl: String,
        apiKey: String,
        environment: String? = null,
        userId: String? = null,
        attributes: Map<String, Any?> = emptyMap(),
        options: ClientOptions = ClientOptions()
    ) : this(apiUrl.trimEnd('/'), apiKey, environment, contextOf(userId, attributes), options, null)

    companion object {
        /** How the service's metrics name this SDK. */
        const val SDK = "ff-sdk-kotlin/0.1"

        /** A client serving the values of a snapshot file (`feature-flags snapshot`): for tests and CI. */
        fun offline(path: String): FeatureFlagClient {
            val values = FlagValues.fromSnapshotFile(File(path).readText())
            return FeatureFlagClient("", "", null, emptyMap(), ClientOptions(), values)
        }

        /**
         * `FEATURE_FLAGS_OFFLINE_FILE` (offline), else `FEATURE_FLAGS_URL` and
         * `FEATURE_FLAGS_API_KEY` (and `FEATURE_FLAGS_ENVIRONMENT`, if set).
         */
        fun fromEnvironment(userId: String? = null, attributes: Map<String, Any?> = emptyMap()): FeatureFlagClient {
            val offline = System.getenv("FEATURE_FLAGS_OFFLINE_FILE")
            if (!offline.isNullOrEmpty()) return offline(offline)
            val url = System.getenv("FEATURE_FLAGS_URL")
            val key = System.getenv("FEATURE_FLAGS_API_KEY")
            require(!url.isNullOrEmpty() && !key.isNullOrEmpty()) {
                "set FEATURE_FLAGS_URL and FEATURE_FLAGS_API_KEY (or FEATURE_FLAGS_OFFLINE_FILE)"
            }
            return FeatureFlagClient(url, key, System.getenv("FEATURE_FLAGS_ENVIRONMENT"), userId, attributes)
        }

        private fun contextOf(userId: String?, attributes: Map<String, Any?>): Map<String, Any?> {
            val context = LinkedHashMap<String, Any?>(attributes)
            if (userId != null) context["targetingKey"] = userId
            return context
        }
    }

    init {
        require(offlineValues != null || apiUrl.startsWith("http://") || apiUrl.startsWith("https://")) {
            "the service URL must start with http:// or https://, not \"$apiUrl\""
        }
    }

    @Volatile private var values: FlagValues = offlineValues ?: FlagValues.EMPTY
    @Volatile var status: Status = if (offlineValues != null) Status.OFFLINE else Status.CONNECTING
        private set
    /** Why the last request to the service failed, while it does. */
    @Volatile var lastError: String? = null
        private set
    @Volatile private var closed = false
    @Volatile private var stream: HttpURLConnection? = null
    private val ready = CountDownLatch(if (offlineValues != null) 0 else 1)
    private val listeners = CopyOnWriteArrayList<() -> Unit>()
    private val refreshLock = Any()
    private val follower: Thread? = if (offlineValues != null) null else Thread({ follow() }, "feature-flags").apply {
        isDaemon = true
        start()
    }
    private val usage = Usage()
    private val reportLock = Any()
    private val reporter: Thread? =
        if (offlineValues != null || options.metricsIntervalMillis <= 0) null
        else Thread({ report() }, "feature-flags-metrics").apply {
            isDaemon = true
            start()
        }

    /** Whether a boolean flag is on for this user (`false` when it cannot be told). */
    fun isEnabled(flag: String): Boolean = looked(flag).valueOf(flag, false)

    /** A flag's value as [default]'s type (`Boolean`, `String`, `Int`, `Long`, `Double`, `Map`, `List`), or [default]. */
    fun <T> getValue(flag: String, default: T): T = looked(flag).valueOf(flag, default)

    /**
     * Records that this client's user did [event] (with a [value] for numeric
     * metrics such as revenue), for experiments. Never blocks: events are sent
     * with the metrics report. Ignored without a user or offline.
     */
    fun track(event: String, value: Double? = null) {
        val user = context["targetingKey"] as? String ?: return
        if (status == Status.OFFLINE) return
        val now = java.time.Instant.now().toString()
        synchronized(usage) { usage.tracked(event, user, value, now) }
    }

    /**
     * Reports lookups, exposures and tracked events now (also done every
     * [ClientOptions.metricsIntervalMillis] and when closed); whether the
     * service took them. On failure they are kept for the next report.
     */
    fun flushMetrics(): Boolean {
        if (status == Status.OFFLINE) return false
        synchronized(reportLock) {
            val (metrics, events) = synchronized(usage) { Pair(usage.metricsBody(SDK), usage.eventsBody()) }
            if (metrics != null) {
                if (!post("/api/v1/metrics", metrics)) return false
                synchronized(usage) { usage.metricsSent() }
            }
            if (events != null) {
                if (!post("/api/v1/track", events)) return false
                synchronized(usage) { usage.eventsSent() }
            }
            return true
        }
    }

    /** Lookups, exposures and events dropped because too many waited. */
    val metricsDropped: Long get() = synchronized(usage) { usage.dropped }

    /** The values, after counting a lookup of [flag] (and its exposure). */
    private fun looked(flag: String): FlagValues {
        val current = values
        if (status != Status.OFFLINE) {
            val evaluated = current.flags[flag]
            if (evaluated != null) {
                val user = context["targetingKey"] as? String
                synchronized(usage) { usage.looked(evaluated, user) { java.time.Instant.now().toString() } }
            }
        }
        return current
    }

    /** The reporter's thread: report every interval until closed. */
    private fun report() {
        while (!closed) {
            try {
                Thread.sleep(options.metricsIntervalMillis)
            } catch (interrupted: InterruptedException) {
                return
            }
            if (!closed) runCatching { flushMetrics() }
        }
    }

    /** POSTs a JSON body with the client key; whether the service took it (a refusal counts as taken: it would be refused again). */
    private fun post(path: String, body: String): Boolean {
        return try {
            val connection = URL(apiUrl + path).openConnection() as HttpURLConnection
            try {
                connection.requestMethod = "POST"
                connection.connectTimeout = options.requestTimeoutMillis
                connection.readTimeout = options.requestTimeoutMillis
                connection.doOutput = true
                connection.setRequestProperty("X-API-Key", apiKey)
                connection.setRequestProperty("Content-Type", "application/json")
                connection.outputStream.use { it.write(body.toByteArray(Charsets.UTF_8)) }
                connection.responseCode < 500
            } finally {
                connection.disconnect()
            }
        } catch (error: Exception) {
            false
        }
    }

    /** A flag's whole evaluation (value, reason, variant, error code), if the service sent one. */
    fun evaluation(flag: String): EvaluatedFlag? = values.flags[flag]

    /** Every flag's evaluation. */
    fun allFlags(): Map<String, EvaluatedFlag> = values.flags

    /** Calls [listener] (on the client's thread) whenever the values change. */
    fun addChangeListener(listener: () -> Unit) {
        listeners.add(listener)
    }

    /** Waits until the first values arrived (or the client is offline); whether they did. */
    fun awaitReady(timeoutMillis: Long): Boolean = ready.await(timeoutMillis, TimeUnit.MILLISECONDS)

    /** Evaluates for another user (after sign-in, say) and fetches that user's values at once. */
    fun setUser(userId: String?, attributes: Map<String, Any?> = emptyMap()): Refresh {
        context = contextOf(userId, attributes)
        return refresh()
    }

    /** Fetches the values now (the stream does this by itself on every change). */
    fun refresh(): Refresh {
        if (status == Status.OFFLINE) return Refresh.NOT_MODIFIED
        synchronized(refreshLock) {
            return try {
                fetch()
            } catch (error: Exception) {
                fail("cannot evaluate: ${error.message ?: error.javaClass.simpleName}")
                Refresh.FAILED
            }
        }
    }

    /** Stops following the service (a last report is sent in the background); returns at once. */
    override fun close() {
        closed = true
        follower?.interrupt()
        reporter?.interrupt()
        if (status != Status.OFFLINE && !synchronized(usage) { usage.isEmpty() }) {
            Thread({ runCatching { flushMetrics() } }, "feature-flags-last-report").apply {
                isDaemon = true
                start()
            }
        }
        // Disconnecting waits for a reader blocked on the stream (until the
        // next keep-alive): leave that wait to a thread of its own.
        val open = stream ?: return
        Thread({ open.disconnect() }, "feature-flags-close").apply {
            isDaemon = true
            start()
        }
    }

    private fun fetch(): Refresh {
        val query = if (environment != null) "?environment=" + URLEncoder.encode(environment, "UTF-8") else ""
        val connection = URL("$apiUrl/ofrep/v1/evaluate/flags$query").openConnection() as HttpURLConnection
        try {
            connection.requestMethod = "POST"
            connection.connectTimeout = options.requestTimeoutMillis
            connection.readTimeout = options.requestTimeoutMillis
            connection.doOutput = true
            connection.setRequestProperty("X-API-Key", apiKey)
            connection.setRequestProperty("Content-Type", "application/json")
            connection.setRequestProperty("Accept", "application/json")
            val current = values
            current.etag?.let { connection.setRequestProperty("If-None-Match", it) }
            val body = Json.write(mapOf("context" to context))
            connection.outputStream.use { it.write(body.toByteArray(Charsets.UTF_8)) }
            val code = connection.responseCode
            return when (code) {
                200 -> {
                    val text = connection.inputStream.use { it.readBytes().toString(Charsets.UTF_8) }
                    val next = FlagValues.fromBulkAnswer(text, connection.getHeaderField("ETag"))
                    val changed = next.flags != current.flags
                    values = next
                    succeeded()
                    if (changed) listeners.forEach { listener -> runCatching { listener() } }
                    if (changed) Refresh.UPDATED else Refresh.NOT_MODIFIED
                }
                304 -> {
                    succeeded()
                    Refresh.NOT_MODIFIED
                }
                else -> {
                    val text = connection.errorStream?.use { it.readBytes().toString(Charsets.UTF_8) } ?: ""
                    fail("the service answered $code: $text")
                    Refresh.FAILED
                }
            }
        } finally {
            connection.disconnect()
        }
    }

    private fun succeeded() {
        lastError = null
        status = Status.READY
        ready.countDown()
    }

    private fun fail(reason: String) {
        lastError = reason
        status = if (values.flags.isEmpty() && ready.count > 0) Status.CONNECTING else Status.STALE
    }

    /** The client's thread: fetch, then follow the stream; reconnect with backoff. */
    private fun follow() {
        var backoff = options.initialBackoffMillis
        while (!closed) {
            // Also after every reconnection: changes may have been missed.
            val fetched = refresh()
            var notified = false
            try {
                notified = listen()
            } catch (error: Exception) {
                if (closed) return
                fail("the stream broke: ${error.message ?: error.javaClass.simpleName}")
            }
            if (closed) return
            backoff = if (notified && fetched != Refresh.FAILED) options.initialBackoffMillis else backoff
            try {
                Thread.sleep(jittered(backoff))
            } catch (interrupted: InterruptedException) {
                return
            }
            backoff = minOf(backoff * 2, options.maxBackoffMillis)
        }
    }

    /** Reads the OFREP stream until it ends; whether any event arrived. */
    private fun listen(): Boolean {
        val connection = URL("$apiUrl/ofrep/v1/stream").openConnection() as HttpURLConnection
        stream = connection
        try {
            connection.connectTimeout = options.requestTimeoutMillis
            connection.readTimeout = options.streamIdleTimeoutMillis
            connection.setRequestProperty("X-API-Key", apiKey)
            connection.setRequestProperty("Accept", "text/event-stream")
            val code = connection.responseCode
            if (code != 200) {
                val text = connection.errorStream?.use { it.readBytes().toString(Charsets.UTF_8) } ?: ""
                fail("the stream was refused ($code): $text")
                return false
            }
            var any = false
            val data = StringBuilder()
            BufferedReader(InputStreamReader(connection.inputStream, Charsets.UTF_8)).use { reader ->
                while (!closed) {
                    val line = reader.readLine() ?: break
                    if (line.isEmpty()) {
                        // An event ends: refetch on OFREP's notification.
                        if (data.contains("refetchEvaluation")) {
                            any = true
                            refresh()
                        }
                        data.setLength(0)
                    } else if (line.startsWith("data:")) {
                        data.append(line.removePrefix("data:").trim())
                    }
                }
            }
            if (!closed) fail("the service ended the stream")
            return any
        } finally {
            stream = null
            connection.disconnect()
        }
    }

    private fun jittered(wait: Long): Long = wait * (750 + (System.nanoTime() % 500).let { if (it < 0) -it else it }) / 1000
}
