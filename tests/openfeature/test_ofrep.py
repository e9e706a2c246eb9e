"""The real Python OpenFeature client against a running feature-flags service.

`openfeature-sdk` with `openfeature-provider-ofrep` (server-side: one
`POST /ofrep/v1/evaluate/flags/{key}` per evaluation), unchanged. Every
assertion is on what the SDK reports to an application: value, reason,
variant and error code.

Run by tests/openfeature/run, which starts the service, creates the flags in
tests/openfeature/flags/ (two of them turned off by the kill switch) and the
keys, and passes them in FF_OFREP_URL, FF_SERVER_KEY, FF_CLIENT_KEY and
FF_REVOKED_KEY. Every test runs with a server key and with a client key (both
of the production environment).
"""

import os

import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

URL = os.environ["FF_OFREP_URL"]


def provider(headers):
    return OFREPProvider(URL, headers_factory=lambda: dict(headers))


# One OpenFeature domain per way of calling: the server key sends
# `Authorization: Bearer`, the client key `X-API-Key` (both are accepted).
DOMAINS = {
    "server-key": {"Authorization": f"Bearer {os.environ['FF_SERVER_KEY']}"},
    "client-key": {"X-API-Key": os.environ["FF_CLIENT_KEY"]},
    "invalid-key": {"X-API-Key": "ff_server_this_key_was_never_issued_000000000"},
    "revoked-key": {"X-API-Key": os.environ["FF_REVOKED_KEY"]},
}


@pytest.fixture(scope="module", autouse=True)
def providers():
    for domain, headers in DOMAINS.items():
        api.set_provider(provider(headers), domain=domain)
    yield
    api.clear_providers()


@pytest.fixture(params=["server-key", "client-key"])
def client(request):
    return api.get_client(domain=request.param)


def assert_success(details, value, reason, variant):
    """A successful evaluation as the application sees it."""
    assert details.error_code is None, details.error_message
    assert details.value == value
    assert type(details.value) is type(value)
    assert details.reason == reason
    assert details.variant == variant


def assert_error(details, default, error_code):
    """A failed evaluation: the default value, reason ERROR and the code."""
    assert details.value == default
    assert details.reason == Reason.ERROR
    assert details.error_code == error_code


# --- the five flag types -------------------------------------------------


def test_boolean(client):
    details = client.get_boolean_details("new_payment_flow", False)
    assert_success(details, True, Reason.STATIC, "default")


def test_string(client):
    details = client.get_string_details("checkout_button_color", "red")
    assert_success(details, "green", Reason.STATIC, "default")


def test_integer(client):
    details = client.get_integer_details("cart_max_items", 1)
    assert_success(details, 25, Reason.STATIC, "default")


def test_float_with_a_fraction(client):
    details = client.get_float_details("pricing_discount_rate", 0.0)
    assert_success(details, 10.5, Reason.STATIC, "default")


def test_float_written_as_10_0_arrives_as_a_float(client):
    # The provider refuses an int for a float flag (TYPE_MISMATCH), so the
    # service must send 10.0, not 10.
    details = client.get_float_details("shipping_base_fee", 0.0)
    assert_success(details, 10.0, Reason.STATIC, "default")


def test_object(client):
    details = client.get_object_details("ui_theme_config", {"theme": "none"})
    assert_success(
        details,
        {
            "theme": "dark",
            "density": "compact",
            "sidebar": ["home", "orders"],
            "font_scale": 1.25,
        },
        Reason.STATIC,
        "default",
    )


# --- targeting -----------------------------------------------------------


def test_targeting_on_context_attributes(client):
    beta = EvaluationContext("user-1", {"user_type": "beta", "country": "CA"})
    details = client.get_boolean_details("beta_features", False, beta)
    assert_success(details, True, Reason.TARGETING_MATCH, "beta_users")
    assert details.flag_metadata["ruleName"] == "beta_users"

    elsewhere = EvaluationContext("user-1", {"user_type": "beta", "country": "FR"})
    details = client.get_boolean_details("beta_features", True, elsewhere)
    assert_success(details, False, Reason.DEFAULT, "default")


def test_targeting_on_the_targeting_key(client):
    details = client.get_string_details(
        "checkout_experience", "none", EvaluationContext("user-42")
    )
    assert_success(details, "express", Reason.TARGETING_MATCH, "express")

    details = client.get_string_details(
        "checkout_experience", "none", EvaluationContext("user-7")
    )
    assert_success(details, "classic", Reason.DEFAULT, "default")


def test_split_names_the_variant_served(client):
    served = set()
    for user in range(40):
        details = client.get_string_details(
            "search_ranking", "none", EvaluationContext(f"user-{user}")
        )
        assert details.error_code is None, details.error_message
        assert details.reason == Reason.SPLIT
        assert (details.variant, details.value) in {
            ("control", "bm25"),
            ("treatment", "learned"),
        }
        # Sticky: the same user gets the same variant again.
        again = client.get_string_details(
            "search_ranking", "none", EvaluationContext(f"user-{user}")
        )
        assert again.variant == details.variant
        served.add(details.variant)
    assert served == {"control", "treatment"}


# --- errors and the kill switch ------------------------------------------


def test_missing_flag_gives_the_default(client):
    details = client.get_boolean_details("no_such_flag", True)
    assert_error(details, True, ErrorCode.FLAG_NOT_FOUND)


def test_kill_switch_boolean(client):
    # On in production, then turned off by POST /api/v1/emergency/disable.
    details = client.get_boolean_details("legacy_checkout", True)
    assert_success(details, False, Reason.DISABLED, "disabled")


def test_kill_switch_string_serves_the_default_value(client):
    details = client.get_string_details("checkout_banner", "fallback")
    assert_success(details, "none", Reason.DISABLED, "disabled")


def test_wrong_type_is_a_type_mismatch(client):
    details = client.get_string_details("new_payment_flow", "not a boolean")
    assert_error(details, "not a boolean", ErrorCode.TYPE_MISMATCH)


@pytest.mark.parametrize("domain", ["invalid-key", "revoked-key"])
def test_refused_key_gives_the_default_with_an_error(domain):
    details = api.get_client(domain=domain).get_boolean_details(
        "new_payment_flow", False
    )
    assert_error(details, False, ErrorCode.GENERAL)
    assert details.error_message == "unauthorized"
