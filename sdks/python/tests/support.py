"""What the tests share: the service started by sdks/python/run, admin
calls, and the flags and client fixtures (conftest.py)."""

import json
import os
import urllib.request
import uuid

import pytest

from feature_flags.client import FeatureFlagClient

URL = os.environ["FF_URL"]
ADMIN = os.environ["FF_ADMIN_TOKEN"]
SERVER_KEY = os.environ["FF_SERVER_KEY"]  # a development key


def admin(method, path, body=None):
    request = urllib.request.Request(
        URL + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {ADMIN}",
            "Content-Type": "application/json",
            "X-Change-Reason": "python sdk tests",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201), response.status
        text = response.read()
        return json.loads(text) if text else None


def service_revision():
    return admin("GET", "/health/ready")["revision"]


def unique(name):
    return f"{name}_{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def flags():
    """A fresh set of flags (unique ids), created before the client starts."""
    ids = {
        "checkout": unique("new_checkout"),
        "theme": unique("checkout_theme"),
        "items": unique("max_items_per_page"),
        "config": unique("ui_theme_config"),
        "early": unique("early_adopter_perks"),
    }
    admin("POST", "/api/v1/flags", {
        "flag_id": ids["checkout"], "type": "boolean", "default_value": False,
        "targeting_rules": [{"name": "europe", "conditions": [
            {"attribute": "country", "operator": "in", "value": ["IT", "DE"]}],
            "value": True, "percentage": 50}],
    })
    admin("POST", "/api/v1/flags", {
        "flag_id": ids["theme"], "type": "string", "default_value": "classic",
        "variants": {"classic": "classic", "bold": "bold"},
        "targeting_rules": [{"name": "split", "conditions": [],
            "variants": [{"variant": "classic", "weight": 50}, {"variant": "bold", "weight": 50}]}],
    })
    admin("POST", "/api/v1/flags", {
        "flag_id": ids["items"], "type": "number", "default_value": 20,
        "environments": {"development": 50},
    })
    admin("POST", "/api/v1/flags", {
        "flag_id": ids["config"], "type": "json", "default_value": {"theme": "light"},
    })
    admin("POST", "/api/v1/flags", {
        "flag_id": ids["early"], "type": "boolean", "default_value": False,
        "targeting_rules": [{"name": "signed up in 2025", "conditions": [
            {"attribute": "signup", "operator": "before", "value": "2026-01-01T00:00:00Z"}],
            "value": True}],
    })
    return ids


@pytest.fixture()
def client(flags):
    client = FeatureFlagClient(api_url=URL, api_key=SERVER_KEY, environment="development")
    assert client.wait_until_ready_sync(10), client.status
    assert client.wait_for_revision_sync(service_revision()), client.status
    assert client.status == "connected"
    return client
