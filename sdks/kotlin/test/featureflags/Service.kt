package featureflags

import java.net.HttpURLConnection
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URL
import java.util.UUID

/** The service started by sdks/kotlin/run, and admin calls to it. */
object Service {
    val url: String = System.getenv("FF_URL") ?: error("FF_URL is not set (run sdks/kotlin/run)")
    private val admin: String = System.getenv("FF_ADMIN_TOKEN") ?: error("FF_ADMIN_TOKEN is not set")
    /** A client key of `development`. */
    val clientKey: String = System.getenv("FF_CLIENT_KEY") ?: error("FF_CLIENT_KEY is not set")

    fun unique(name: String) = name + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8)

    /** An admin call; fails unless 200/201. Returns the parsed answer. */
    fun call(method: String, path: String, body: Any? = null): Any? =
        request(method, path, body, mapOf("Authorization" to "Bearer $admin", "X-Change-Reason" to "kotlin sdk tests"))

    /** What the service's OFREP single-flag evaluation answers for [context]. */
    fun evaluate(flag: String, context: Map<String, Any?>): Map<*, *> =
        request("POST", "/ofrep/v1/evaluate/flags/$flag", mapOf("context" to context), mapOf("X-API-Key" to clientKey)) as Map<*, *>

    private fun request(method: String, path: String, body: Any?, headers: Map<String, String>): Any? {
        val connection = URL(url + path).openConnection() as HttpURLConnection
        connection.requestMethod = method
        headers.forEach { (name, value) -> connection.setRequestProperty(name, value) }
        if (body != null) {
            connection.doOutput = true
            connection.setRequestProperty("Content-Type", "application/json")
            connection.outputStream.use { it.write(Json.write(body).toByteArray()) }
        }
        val code = connection.responseCode
        val stream = if (code < 400) connection.inputStream else connection.errorStream
        val text = stream?.use { String(it.readBytes()) } ?: ""
        check(code == 200 || code == 201) { "$method $path: $code $text" }
        return if (text.isEmpty()) null else Json.parse(text)
    }

    /** Polls [condition] for up to [millis]; whether it became true. */
    fun eventually(millis: Long = 10_000, condition: () -> Boolean): Boolean {
        val until = System.currentTimeMillis() + millis
        while (System.currentTimeMillis() < until) {
            if (condition()) return true
            Thread.sleep(20)
        }
        return condition()
    }
}

/**
 * A TCP relay in front of the service that a test can cut and restore, on
 * the same port: a service outage as the app would see it.
 */
class Relay(private val target: InetSocketAddress) : java.io.Closeable {
    private var server = ServerSocket(0)
    val port: Int = server.localPort
    private val open = mutableListOf<Socket>()

    init {
        accept(server)
    }

    val url get() = "http://127.0.0.1:$port"

    private fun accept(listening: ServerSocket) {
        Thread {
            while (!listening.isClosed) {
                val client = try { listening.accept() } catch (e: Exception) { break }
                val upstream = Socket(target.hostString, target.port)
                synchronized(open) {
                    // Accepted just before a cut: the cut applies to it too.
                    if (listening.isClosed) {
                        runCatching { client.close() }
                        runCatching { upstream.close() }
                        return@Thread
                    }
                    open.add(client)
                    open.add(upstream)
                }
                pipe(client, upstream)
                pipe(upstream, client)
            }
        }.apply { isDaemon = true; start() }
    }

    private fun pipe(from: Socket, to: Socket) {
        Thread {
            try {
                from.getInputStream().copyTo(to.getOutputStream())
            } catch (e: Exception) {
            } finally {
                runCatching { from.close() }
                runCatching { to.close() }
            }
        }.apply { isDaemon = true; start() }
    }

    /** Refuses new connections and drops the open ones. */
    fun cut() {
        synchronized(open) {
            server.close()
            open.forEach { runCatching { it.close() } }
            open.clear()
        }
    }

    /** Accepts again on the same port. */
    fun restore() {
        server = ServerSocket()
        server.reuseAddress = true
        server.bind(InetSocketAddress("127.0.0.1", port))
        accept(server)
    }

    override fun close() = cut()
}
