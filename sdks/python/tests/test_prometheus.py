"""The service's /metrics parsed by the reference Prometheus client's own
OpenMetrics parser: every family reads, and the evaluations an SDK reported
appear under their flag."""

import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from support import URL


def test_metrics_parse_with_the_reference_parser(client, flags):
    client.get_value_sync(flags["items"], 0, user_id="prometheus")
    client.flush_metrics_sync()
    # Reading a flag's metrics flushes the service's counts at once.
    from support import admin
    admin("GET", f"/api/v1/flags/{flags['items']}/metrics")
    with urllib.request.urlopen(URL + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = response.read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in ("feature_flags_http_requests", "feature_flags_http_request_duration_seconds",
                 "feature_flags_evaluations", "feature_flags_open_streams",
                 "feature_flags_configuration_revision", "feature_flags_change_requests_pending"):
        assert name in families, sorted(families)
    evaluated = [s for s in families["feature_flags_evaluations"].samples
                 if s.labels.get("flag") == flags["items"]]
    assert evaluated and all(s.value >= 1 for s in evaluated), evaluated
    assert families["feature_flags_open_streams"].samples[0].value >= 1, "the SDK's stream is open"
