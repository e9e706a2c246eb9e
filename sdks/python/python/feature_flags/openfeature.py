"""An OpenFeature provider over the local client: the standard OpenFeature
API (``openfeature-sdk``) with this SDK's local evaluation behind it.

    from openfeature import api
    from feature_flags.client import FeatureFlagClient
    from feature_flags.openfeature import FeatureFlagsProvider

    api.set_provider(FeatureFlagsProvider(FeatureFlagClient(url, server_key)))
    flags = api.get_client()
    flags.get_boolean_value("new_dashboard_api", False,
                            EvaluationContext("user-123", {"country": "IT"}))

Needs ``openfeature-sdk`` (``pip install feature-flags-sdk[openfeature]``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider import AbstractProvider, Metadata

from .client import FeatureFlagClient


class FeatureFlagsProvider(AbstractProvider):
    """Resolves flags with a :class:`FeatureFlagClient` (from memory)."""

    def __init__(self, client: FeatureFlagClient, ready_timeout: float = 5.0) -> None:
        super().__init__()
        self._client = client
        self._ready_timeout = ready_timeout

    def get_metadata(self) -> Metadata:
        return Metadata(name="feature-flags")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        # Ready means rules arrived; lookups before that give defaults.
        self._client.wait_until_ready_sync(self._ready_timeout)

    def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, evaluation_context,
                             lambda v: isinstance(v, bool))

    def resolve_string_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, evaluation_context,
                             lambda v: isinstance(v, str))

    def resolve_integer_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, evaluation_context,
                             lambda v: isinstance(v, int) and not isinstance(v, bool))

    def resolve_float_details(self, flag_key, default_value, evaluation_context=None):
        details = self._resolve(flag_key, default_value, evaluation_context,
                                lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if details.error_code is None:
            details.value = float(details.value)
        return details

    def resolve_object_details(self, flag_key, default_value, evaluation_context=None):
        return self._resolve(flag_key, default_value, evaluation_context,
                             lambda v: isinstance(v, (dict, list)))

    def _resolve(
        self,
        flag_key: str,
        default_value: Any,
        evaluation_context: Optional[EvaluationContext],
        of_type: Callable[[Any], bool],
    ) -> FlagResolutionDetails:
        details = self._client.evaluate_sync(
            flag_key, default_value, context=_context(evaluation_context)
        )
        if details.error_code is None and not of_type(details.value):
            details_code, message = "TYPE_MISMATCH", f"flag '{flag_key}' is of another type"
        elif details.error_code == "GENERAL" and details.revision is None \
                and self._client.status != "offline":
            details_code, message = "PROVIDER_NOT_READY", "no rules received yet"
        else:
            details_code = details.error_code
            message = f"flag '{flag_key}': {details_code}" if details_code else None
        if details_code is not None:
            return FlagResolutionDetails(
                value=default_value,
                reason="ERROR",
                error_code=ErrorCode(details_code),
                error_message=message,
            )
        return FlagResolutionDetails(
            value=details.value, reason=details.reason, variant=details.variant
        )


def _context(evaluation_context: Optional[EvaluationContext]) -> Mapping[str, Any]:
    if evaluation_context is None:
        return {}
    context = dict(evaluation_context.attributes)
    if evaluation_context.targeting_key is not None:
        context["targetingKey"] = evaluation_context.targeting_key
    return context
