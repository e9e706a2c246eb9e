"""The OpenFeature provider: the standard API (openfeature-sdk) answering
from the local client."""

import datetime

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from feature_flags.openfeature import FeatureFlagsProvider


@pytest.fixture()
def of_client(client):
    api.set_provider(FeatureFlagsProvider(client))
    yield api.get_client()
    api.clear_providers()


def test_typed_resolutions(of_client, client, flags):
    for user in range(20):
        context = EvaluationContext(f"user-{user}", {"country": ["IT", "US"][user % 2]})
        details = of_client.get_boolean_details(flags["checkout"], False, context)
        local = client.evaluate_sync(flags["checkout"], False, f"user-{user}",
                                     country=["IT", "US"][user % 2])
        assert (details.value, details.reason, details.error_code) == (local.value, local.reason, None)
    assert of_client.get_integer_value(flags["items"], 0) == 50
    as_float = of_client.get_float_value(flags["items"], 0.0)
    assert as_float == 50.0 and isinstance(as_float, float)
    theme = of_client.get_string_details(flags["theme"], "none", EvaluationContext("user-3"))
    assert theme.reason == "SPLIT" and theme.variant == theme.value
    assert of_client.get_object_value(flags["config"], {}) == {"theme": "light"}


def test_dates_in_the_context(of_client, flags):
    early = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
    late = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
    on = of_client.get_boolean_details(flags["early"], False,
                                       EvaluationContext("user-1", {"signup": early}))
    assert (on.value, on.reason) == (True, "TARGETING_MATCH")
    assert of_client.get_boolean_value(flags["early"], True,
                                       EvaluationContext("user-1", {"signup": late})) is False


def test_errors_are_openfeature_errors(of_client, flags):
    missing = of_client.get_boolean_details("no_such_flag", True)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    mismatch = of_client.get_string_details(flags["checkout"], "text")
    assert (mismatch.value, mismatch.error_code) == ("text", ErrorCode.TYPE_MISMATCH)
    not_integer = of_client.get_integer_details(flags["config"], 3)
    assert (not_integer.value, not_integer.error_code) == (3, ErrorCode.TYPE_MISMATCH)
