package featureflags

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.net.InetSocketAddress
import java.net.URL

/** The Kotlin SDK against the real service (started by sdks/kotlin/run). */
class FeatureFlagClientTest {
    /** A fresh set of flags, with unique ids. */
    private class Flags {
        val dashboard = Service.unique("new_dashboard_ui")
        val items = Service.unique("max_items_per_page")
        val ratio = Service.unique("sample_ratio")
        val theme = Service.unique("checkout_theme")
        val config = Service.unique("ui_theme_config")

        init {
            Service.call("POST", "/api/v1/flags", mapOf(
                "flag_id" to dashboard, "type" to "boolean", "default_value" to false,
                "targeting_rules" to listOf(mapOf(
                    "name" to "europe",
                    "conditions" to listOf(mapOf("attribute" to "country", "operator" to "in", "value" to listOf("IT", "DE"))),
                    "value" to true, "percentage" to 50))))
            Service.call("POST", "/api/v1/flags", mapOf(
                "flag_id" to items, "type" to "number", "default_value" to 20,
                "environments" to mapOf("development" to 50)))
            Service.call("POST", "/api/v1/flags", mapOf(
                "flag_id" to ratio, "type" to "number", "default_value" to 0.25))
            Service.call("POST", "/api/v1/flags", mapOf(
                "flag_id" to theme, "type" to "string", "default_value" to "classic",
                "variants" to mapOf("classic" to "classic", "bold" to "bold"),
                "targeting_rules" to listOf(mapOf("name" to "split", "conditions" to emptyList<Any>(),
                    "variants" to listOf(mapOf("variant" to "classic", "weight" to 50), mapOf("variant" to "bold", "weight" to 50))))))
            Service.call("POST", "/api/v1/flags", mapOf(
                "flag_id" to config, "type" to "json", "default_value" to mapOf("theme" to "light")))
        }

        val all get() = listOf(dashboard, items, ratio, theme, config)
    }

    private fun client(userId: String, attributes: Map<String, Any?> = emptyMap(), url: String = Service.url) =
        FeatureFlagClient(url, Service.clientKey, "development", userId, attributes).also {
            assertTrue(it.awaitReady(10_000), "ready: ${it.status} ${it.lastError}")
        }

    @Test
    fun valuesAreTheServicesForThisUser() {
        val flags = Flags()
        for (n in 0 until 12) {
            val country = if (n % 2 == 0) "IT" else "US"
            client("user-$n", mapOf("country" to country)).use { client ->
                for (flag in flags.all) {
                    val expected = Service.evaluate(flag, mapOf("targetingKey" to "user-$n", "country" to country))
                    val local = client.evaluation(flag)!!
                    assertEquals(expected["value"], local.value, "$flag for user-$n")
                    assertEquals(expected["reason"], local.reason, "$flag for user-$n")
                    assertEquals(expected["variant"], local.variant, "$flag for user-$n")
                }
            }
        }
        client("user-1", mapOf("country" to "IT")).use { client ->
            assertEquals(50, client.getValue(flags.items, 20))
            assertEquals(50L, client.getValue(flags.items, 20L))
            assertEquals(50.0, client.getValue(flags.items, 1.0))
            assertEquals(0.25, client.getValue(flags.ratio, 1.0))
            assertEquals(mapOf("theme" to "light"), client.getValue(flags.config, emptyMap<String, Any>()))
            assertTrue(client.getValue(flags.theme, "none") in setOf("classic", "bold"))
            assertEquals(Status.READY, client.status)
        }
    }

    @Test
    fun lookupsNeverThrow() {
        val flags = Flags()
        client("user-2").use { client ->
            assertFalse(client.isEnabled("no_such_flag"))
            assertEquals(7, client.getValue("no_such_flag", 7))
            assertEquals("text", client.getValue(flags.items, "text"))
            assertEquals(3, client.getValue(flags.ratio, 3), "an integer default takes no fraction")
            assertEquals(true, client.getValue(flags.theme, true))
            assertNull(client.evaluation("no_such_flag"))
        }
    }

    @Test
    fun changesArriveThroughTheStream() {
        val flags = Flags()
        client("user-3").use { client ->
            var notified = 0
            client.addChangeListener { notified++ }
            assertEquals(50, client.getValue(flags.items, 0))
            Service.call("PUT", "/api/v1/flags/${flags.items}/environments/development", 75)
            assertTrue(Service.eventually { client.getValue(flags.items, 0) == 75 }, "the change arrives: ${client.lastError}")
            assertTrue(notified >= 1)
            Service.call("POST", "/api/v1/emergency/disable", mapOf("flag_id" to flags.config, "environment" to "development"))
            assertTrue(Service.eventually { client.evaluation(flags.config)?.reason == "DISABLED" })
        }
    }

    @Test
    fun anUnchangedAnswerIsNotModifiedAndAnotherUserIsFetchedAtOnce() {
        val flags = Flags()
        client("user-4", mapOf("country" to "US")).use { client ->
            assertEquals(Refresh.NOT_MODIFIED, client.refresh(), "the ETag answers 304")
            assertFalse(client.isEnabled(flags.dashboard))
            val italians = (0 until 20).map { n ->
                client.setUser("user-$n", mapOf("country" to "IT"))
                client.isEnabled(flags.dashboard)
            }
            assertEquals(setOf(true, false), italians.toSet(), "a 50 % rollout in Italy")
        }
    }

    @Test
    fun anOutageKeepsTheLastValuesAndRecovers() {
        val flags = Flags()
        val service = URL(Service.url)
        Relay(InetSocketAddress(service.host, service.port)).use { relay ->
            val client = client("user-5", url = relay.url)
            client.use {
                relay.cut()
                assertTrue(Service.eventually { client.status == Status.STALE }, "${client.status}")
                assertEquals(50, client.getValue(flags.items, 0), "the last values")
                Service.call("PUT", "/api/v1/flags/${flags.items}/environments/development", 60)
                relay.restore()
                assertTrue(Service.eventually(20_000) { client.getValue(flags.items, 0) == 60 },
                    "caught up after the outage: ${client.status} ${client.lastError}")
                assertEquals(Status.READY, client.status)
            }
        }
    }

    @Test
    fun aKeyOfAnotherEnvironmentIsReported() {
        FeatureFlagClient(Service.url, Service.clientKey, "production", "user-6").use { client ->
            assertFalse(client.awaitReady(1_000))
            assertTrue(Service.eventually { client.lastError?.contains("403") == true }, "${client.lastError}")
            assertFalse(client.isEnabled("anything"))
        }
    }

    @Test
    fun offlineFilesServeTheirValues() {
        val file = File.createTempFile("flags", ".json")
        file.deleteOnExit()
        file.writeText("""{"format": "feature-flags-snapshot", "version": 1, "scenario": "all_flags_on",
            "environment": "production", "generated_at": "2026-12-04T00:00:00Z",
            "flags": {"new_dashboard_ui": {"value": true, "reason": "STATIC"},
                      "max_items_per_page": {"value": 30, "reason": "STATIC"}}}""")
        FeatureFlagClient.offline(file.path).use { client ->
            assertEquals(Status.OFFLINE, client.status)
            assertTrue(client.awaitReady(0))
            assertTrue(client.isEnabled("new_dashboard_ui"))
            assertEquals(30, client.getValue("max_items_per_page", 20))
            assertEquals(20, client.getValue("other", 20))
        }
    }

    @Test
    fun lookupsExposuresAndEventsAreReported() {
        val flags = Flags()
        val experiment = Service.unique("theme_test")
        Service.call("POST", "/api/v1/experiments", mapOf(
            "id" to experiment, "flag_id" to flags.theme, "environment" to "development", "control" to "classic",
            "primary_metric" to mapOf("event" to "purchase", "kind" to "conversion")))
        val user = Service.unique("phone-user")
        client(user).use { client ->
            repeat(5) { client.getValue(flags.theme, "classic") }
            client.isEnabled(flags.dashboard)
            client.track("purchase", 9.5)
            assertTrue(client.flushMetrics())
            assertEquals(0L, client.metricsDropped)
        }
        val counts = Service.call("GET", "/api/v1/flags/${flags.theme}/metrics?environment=development") as Map<*, *>
        assertEquals(5L, (counts["totals"] as Map<*, *>)["evaluations"], "$counts")
        val results = Service.call("GET", "/api/v1/experiments/$experiment/results") as Map<*, *>
        val primary = (results["metrics"] as List<*>)[0] as Map<*, *>
        val variants = primary["variants"] as List<*>
        assertEquals(1L, variants.map { (it as Map<*, *>)["exposed_users"] as Long }.sum(), "$results")
        assertEquals(1L, variants.map { (it as Map<*, *>)["conversions"] as Long }.sum(), "$results")
        val held = Service.call("GET", "/api/v1/subjects/$user") as Map<*, *>
        assertEquals(listOf("purchase"), (held["events"] as List<*>).map { (it as Map<*, *>)["event"] })
    }
}
