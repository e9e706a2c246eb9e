"""The Python SDK against the real service (started by sdks/python/run):
local evaluations agree with the service's, the seed's async API works,
changes arrive, lookups never raise, offline files serve their values."""

import asyncio
import json
import logging
import time

import pytest

from feature_flags.client import EnvironmentMismatch, EvaluationDetails, FeatureFlagClient
from support import SERVER_KEY, URL, admin, service_revision

def test_local_evaluations_agree_with_the_service(client, flags):
    for user in range(40):
        context = {"user_id": f"user-{user}", "country": ["IT", "DE", "US"][user % 3]}
        for flag in flags.values():
            expected = admin("POST", "/api/v1/evaluate",
                             {"flag_id": flag, "environment": "development", "context": context})
            local = client.evaluate_sync(flag, None, context=context)
            assert isinstance(local, EvaluationDetails)
            assert (local.value, local.reason, local.variant) == (
                expected["value"], expected["reason"], expected.get("variant")), (flag, context)
            assert local.error_code is None


def test_the_seeds_async_api(client, flags):
    async def endpoint(user_id):
        # As in the seed's FastAPI example.
        if await client.is_enabled(flags["checkout"], user_id=user_id, country="IT"):
            return "new"
        return "legacy"

    async def run():
        answers = {await endpoint(f"user-{n}") for n in range(50)}
        assert answers == {"new", "legacy"}, "a 50 % rollout serves both"
        assert await client.get_value(flags["items"], 20) == 50
        assert await client.get_value(flags["config"], {}) == {"theme": "light"}
        details = await client.evaluate(flags["theme"], "classic", user_id="user-7")
        assert details.reason == "SPLIT" and details.variant in ("classic", "bold")
        assert await client.wait_until_ready(1)

    asyncio.run(run())


def test_changes_arrive(client, flags):
    assert client.get_value_sync(flags["items"], 0) == 50
    admin("PATCH", f"/api/v1/flags/{flags['items']}", {"environments": {"development": 75}})
    admin("POST", "/api/v1/emergency/disable",
          {"flag_id": flags["checkout"], "environment": "development"})
    assert client.wait_for_revision_sync(service_revision()), client.status
    assert client.get_value_sync(flags["items"], 0) == 75
    killed = client.evaluate_sync(flags["checkout"], True, user_id="user-1", country="IT")
    assert (killed.value, killed.reason) == (False, "DISABLED")


def test_lookups_never_raise(client, flags):
    assert client.is_enabled_sync("no_such_flag", default=True) is True
    missing = client.evaluate_sync("no_such_flag", 7)
    assert (missing.value, missing.reason, missing.error_code) == (7, "ERROR", "FLAG_NOT_FOUND")
    assert client.get_value_sync(flags["items"], "text") == "text"
    assert client.evaluate_sync(flags["items"], "text").error_code == "TYPE_MISMATCH"
    assert client.is_enabled_sync(flags["checkout"], user_id="u", default=True,
                                  unserialisable=object()) is True
    not_json = object()
    assert client.get_value_sync(flags["items"], not_json) is not_json


def test_a_key_of_another_environment_is_refused_at_construction():
    # With the rules fetched by start_wait (the default), and without them
    # (start_wait=0: the constructor asks the service).
    for start_wait in (5.0, 0):
        with pytest.raises(EnvironmentMismatch) as refused:
            FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, environment="production",
                              start_wait=start_wait)
        assert isinstance(refused.value, ValueError)
        assert (refused.value.actual, refused.value.expected) == ("development", "production")
        assert "belongs to environment 'development', not 'production'" in str(refused.value)
    # The key's own environment is accepted either way.
    for start_wait in (5.0, 0):
        FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, environment="development",
                          start_wait=start_wait)


def test_start_wait_serves_real_values_from_the_first_lookup(flags):
    # The seed's snippet as written: no wait_until_ready, and the first
    # lookup already answers the service's value, not the default.
    started = time.monotonic()
    client = FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, environment="development")
    assert time.monotonic() - started < 5
    assert client.status == "connected"
    assert client.get_value_sync(flags["items"], 20) == 50
    details = client.evaluate_sync(flags["config"], {})
    assert (details.value, details.error_code) == ({"theme": "light"}, None)


def test_start_wait_gives_up_on_time_and_serves_defaults(caplog):
    # Nothing listens on port 9 (discard) on loopback: the service is down.
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="feature_flags"):
        client = FeatureFlagClient(api_url="http://127.0.0.1:9", api_key=SERVER_KEY,
                                   environment="development", start_wait=0.5)
    waited = time.monotonic() - started
    assert 0.4 <= waited < 5, waited
    assert client.status.startswith(("connecting", "reconnecting")), client.status
    assert client.get_value_sync("anything", 20) == 20
    assert "start_wait=0.5" in caplog.text
    # The environment could not be checked: left to wait_until_ready.
    assert "cannot check the key's environment" in caplog.text
    # start_wait=0 does not wait at all.
    started = time.monotonic()
    FeatureFlagClient(api_url="http://127.0.0.1:9", api_key=SERVER_KEY, start_wait=0)
    assert time.monotonic() - started < 0.4


def test_bad_settings_are_refused():
    for start_wait in (-1, "5", None):
        with pytest.raises(ValueError, match="start_wait"):
            FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, start_wait=start_wait)
    with pytest.raises(ValueError, match="environment"):
        FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, environment="")


def test_settings_are_required(monkeypatch):
    for name in ("FEATURE_FLAGS_URL", "FEATURE_FLAGS_API_KEY", "FEATURE_FLAGS_OFFLINE_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="api_url"):
        FeatureFlagClient()
    with pytest.raises(ValueError, match="http"):
        FeatureFlagClient(api_url="flags.example.com", api_key="k")


def test_offline_files(tmp_path, monkeypatch):
    snapshot = tmp_path / "flags.json"
    snapshot.write_text(json.dumps({
        "format": "feature-flags-snapshot", "version": 1, "scenario": "all_flags_on",
        "environment": "production", "generated_at": "2026-12-04T00:00:00Z",
        "flags": {"new_dashboard_api": {"value": True, "reason": "STATIC"},
                  "max_items_per_page": {"value": 30, "reason": "STATIC"}},
    }))
    monkeypatch.setenv("FEATURE_FLAGS_OFFLINE_FILE", str(snapshot))
    client = FeatureFlagClient()
    assert client.status == "offline"
    assert client.is_enabled_sync("new_dashboard_api", user_id="anyone")
    assert client.get_value_sync("max_items_per_page", 20) == 30
    assert client.evaluate_sync("other", False).error_code == "FLAG_NOT_FOUND"
    snapshot.write_text("{}")
    with pytest.raises(ValueError, match="snapshot"):
        FeatureFlagClient()


def test_local_evaluations_are_reported(client, flags):
    client.flush_metrics_sync()  # what earlier tests evaluated
    for user in range(25):
        client.get_value_sync(flags["items"], 0, user_id=f"user-{user}")
    assert client.flush_metrics_sync() == 25
    counts = admin("GET", f"/api/v1/flags/{flags['items']}/metrics?environment=development")
    assert counts["totals"]["by_outcome"].get("50", 0) + counts["totals"]["by_outcome"].get("75", 0) >= 25
    assert asyncio.run(client.flush_metrics()) == 0


def test_tracked_events_reach_the_service(client, flags):
    client.track("signup", "user-track-1")
    client.track("revenue", "user-track-1", 12.5)
    client.flush_metrics_sync()
    held = admin("GET", "/api/v1/subjects/user-track-1")
    assert sorted(e["event"] for e in held["events"]) == ["revenue", "signup"]
    assert [e["value"] for e in held["events"] if e["event"] == "revenue"] == [12.5]
