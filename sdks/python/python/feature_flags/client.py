"""The client: ``from feature_flags.client import FeatureFlagClient``."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ._native import NativeClient

log = logging.getLogger("feature_flags")


#: Seconds the constructor's environment check waits for the service, when
#: ``start_wait`` did not already bring the rules.
ENVIRONMENT_CHECK_TIMEOUT = 5.0


class EnvironmentMismatch(ValueError):
    """The key belongs to another environment than the one the client was
    told (``environment=``)."""

    def __init__(self, actual: Optional[str], expected: str, detail: str = "") -> None:
        shown = repr(actual) if actual else "another environment"
        super().__init__(
            f"this API key belongs to {'environment ' if actual else ''}{shown}, not "
            f"{expected!r}: use a server key of {expected!r}"
            + (f", or environment={actual!r}" if actual else "")
            + (f" (the service said: {detail})" if detail else "")
        )
        #: The key's environment (``None`` when the service did not name it).
        self.actual = actual
        #: The environment the client was given.
        self.expected = expected


def _refuse_other_environment(actual: Optional[str], expected: str) -> None:
    if actual is not None and actual != expected:
        raise EnvironmentMismatch(actual, expected)


def _key_environment(api_url: str, api_key: str, expected: str) -> Optional[str]:
    """The key's environment, asked of the service: an evaluation of no flag
    in ``expected``, which the service refuses (403, naming the key's own
    environment) for a key of another one; raises :class:`EnvironmentMismatch`
    then. ``None`` when it cannot be told (the service unreachable, the key
    unknown): then the check waits for the first rules
    (:meth:`FeatureFlagClient.wait_until_ready`)."""
    request = urllib.request.Request(
        api_url.rstrip("/") + "/api/v1/evaluate",
        method="POST",
        data=json.dumps({"flag_ids": [], "environment": expected}).encode(),
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=ENVIRONMENT_CHECK_TIMEOUT):
            return expected
    except urllib.error.HTTPError as error:
        if error.code == 403:
            try:
                message = json.loads(error.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = ""
            # The service's message: `this key belongs to environment "x", not "y"`.
            found = re.search(r'environment "([^"]+)"', message)
            raise EnvironmentMismatch(found.group(1) if found else None, expected, message) from None
        log.warning("feature flags: cannot check the key's environment now (HTTP %s)", error.code)
    except (OSError, ValueError) as error:
        log.warning("feature flags: cannot check the key's environment now (%s)", error)
    return None


@dataclass(frozen=True)
class EvaluationDetails:
    """One evaluation in full.

    ``value`` is the flag's value, or the caller's default when it could not
    be served (then ``reason`` is ``"ERROR"`` and ``error_code`` says why:
    ``FLAG_NOT_FOUND``, ``TYPE_MISMATCH``, ``GENERAL`` before any rules).
    """

    flag: str
    value: Any
    reason: str
    variant: Optional[str]
    error_code: Optional[str]
    revision: Optional[int]


class FeatureFlagClient:
    """A feature flag client with local evaluation.

    Online it needs the service URL and a **server key** (the key picks the
    environment); it starts following the rules at once, in the background.
    With ``offline_file`` (or ``FEATURE_FLAGS_OFFLINE_FILE``) it serves the
    values of a snapshot file written by ``feature-flags snapshot`` and never
    contacts a service: for tests and CI.

    Arguments left out are read from ``FEATURE_FLAGS_URL``,
    ``FEATURE_FLAGS_API_KEY`` and ``FEATURE_FLAGS_OFFLINE_FILE``.

    ``start_wait`` (seconds, 5 by default, as LaunchDarkly's SDK) blocks the
    constructor until the first rules arrived, so that the first request is
    served real values; when they have not arrived in time it logs a warning
    and returns (lookups answer defaults until they do). ``start_wait=0``
    returns at once.

    ``environment``, when given, is checked at construction against the
    key's environment: :class:`EnvironmentMismatch` (a ``ValueError``) when
    they differ. The rules fetched by ``start_wait`` tell the key's
    environment; without them the constructor asks the service (one request,
    at most ``ENVIRONMENT_CHECK_TIMEOUT`` seconds). Only when the service
    cannot be reached at all is the check left to :meth:`wait_until_ready`.

    Lookups (``is_enabled``, ``get_value``, ``evaluate`` and their ``_sync``
    forms) answer from memory and never raise: an unknown flag, a value of
    another type or a service that cannot be reached gives the default.
    """

    def __init__(
        self,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        environment: Optional[str] = None,
        *,
        offline_file: Optional[str] = None,
        start_wait: float = 5.0,
    ) -> None:
        offline_file = offline_file or os.environ.get("FEATURE_FLAGS_OFFLINE_FILE") or None
        api_url = api_url or os.environ.get("FEATURE_FLAGS_URL", "")
        api_key = api_key or os.environ.get("FEATURE_FLAGS_API_KEY", "")
        if not offline_file and not (api_url and api_key):
            raise ValueError(
                "FeatureFlagClient needs api_url and api_key (or FEATURE_FLAGS_URL and "
                "FEATURE_FLAGS_API_KEY), or an offline_file (FEATURE_FLAGS_OFFLINE_FILE)"
            )
        if not isinstance(start_wait, (int, float)) or start_wait < 0:
            raise ValueError(f"start_wait is seconds (0 or more), not {start_wait!r}")
        if environment is not None and not (isinstance(environment, str) and environment):
            raise ValueError(f"environment is an environment's key, not {environment!r}")
        self._environment = environment
        self._native = NativeClient(api_url, api_key, offline_file)
        if offline_file:
            return
        ready = start_wait > 0 and self._native.wait_until_ready(float(start_wait))
        if start_wait > 0 and not ready:
            log.warning(
                "feature flags: no rules from %s within start_wait=%ss (%s); "
                "serving defaults until they arrive",
                api_url, start_wait, self.status,
            )
        if environment is not None:
            actual = self._native.environment() if ready else _key_environment(
                api_url, api_key, environment
            )
            _refuse_other_environment(actual, environment)

    # -- state ---------------------------------------------------------------

    @property
    def status(self) -> str:
        """``connecting``, ``connected``, ``reconnecting: <why>`` or ``offline``."""
        return self._native.status()

    @property
    def revision(self) -> Optional[int]:
        """The service revision of the rules in use (``None`` before any)."""
        return self._native.revision()

    async def flush_metrics(self) -> int:
        """Reports the evaluations made since the last report to the service
        now (it is also done every minute in the background); answers how many
        were counted. Call it before the process exits. Raises ``RuntimeError``
        when the service cannot be reached (the counts are kept for next time).
        """
        return await asyncio.to_thread(self._native.flush_metrics)

    def track(self, event: str, user_id: str, value: Optional[float] = None) -> None:
        """Records that ``user_id`` did ``event`` (with a ``value`` for numeric
        metrics such as revenue), for experiments. Never blocks: events are sent
        with the metrics report (every minute and on :meth:`flush_metrics`).
        """
        self._native.track(event, user_id, None if value is None else float(value))

    def flush_metrics_sync(self) -> int:
        """:meth:`flush_metrics`, blocking."""
        return self._native.flush_metrics()

    async def wait_until_ready(self, timeout: float = 5.0) -> bool:
        """Waits until the first rules arrived; whether they did in time."""
        ready = await asyncio.to_thread(self._native.wait_until_ready, timeout)
        self._check_environment(ready)
        return ready

    def wait_until_ready_sync(self, timeout: float = 5.0) -> bool:
        """:meth:`wait_until_ready`, blocking."""
        ready = self._native.wait_until_ready(timeout)
        self._check_environment(ready)
        return ready

    async def wait_for_revision(self, revision: int, timeout: float = 5.0) -> bool:
        """Waits until the rules in use are at least at ``revision``."""
        return await asyncio.to_thread(self._native.wait_for_revision, revision, timeout)

    def wait_for_revision_sync(self, revision: int, timeout: float = 5.0) -> bool:
        """:meth:`wait_for_revision`, blocking."""
        return self._native.wait_for_revision(revision, timeout)

    def _check_environment(self, ready: bool) -> None:
        if ready and self._environment:
            _refuse_other_environment(self._native.environment(), self._environment)

    # -- lookups ---------------------------------------------------------------

    async def is_enabled(
        self,
        flag: str,
        user_id: Optional[str] = None,
        *,
        default: bool = False,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> bool:
        """Whether a boolean flag is on for this user (``default`` when it
        cannot be told)."""
        return self.is_enabled_sync(flag, user_id, default=default, context=context, **attributes)

    def is_enabled_sync(
        self,
        flag: str,
        user_id: Optional[str] = None,
        *,
        default: bool = False,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> bool:
        """:meth:`is_enabled`, without ``await``."""
        encoded = _context(user_id, context, attributes)
        if encoded is None:
            return default
        try:
            return self._native.bool_value(flag, encoded, default)
        except Exception:  # never into the application
            log.exception("feature flag %r could not be evaluated", flag)
            return default

    async def get_value(
        self,
        flag: str,
        default: Any,
        user_id: Optional[str] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> Any:
        """A flag's value, or ``default`` (also when the value is not of
        ``default``'s JSON type; ``None`` accepts any)."""
        return self.get_value_sync(flag, default, user_id, context=context, **attributes)

    def get_value_sync(
        self,
        flag: str,
        default: Any,
        user_id: Optional[str] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> Any:
        """:meth:`get_value`, without ``await``."""
        return self.evaluate_sync(flag, default, user_id, context=context, **attributes).value

    async def evaluate(
        self,
        flag: str,
        default: Any = None,
        user_id: Optional[str] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> EvaluationDetails:
        """The whole evaluation: value, reason, variant, error code."""
        return self.evaluate_sync(flag, default, user_id, context=context, **attributes)

    def evaluate_sync(
        self,
        flag: str,
        default: Any = None,
        user_id: Optional[str] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        **attributes: Any,
    ) -> EvaluationDetails:
        """:meth:`evaluate`, without ``await``."""
        failed = EvaluationDetails(flag, default, "ERROR", None, "GENERAL", self.revision)
        encoded = _context(user_id, context, attributes)
        if encoded is None:
            return EvaluationDetails(flag, default, "ERROR", None, "INVALID_CONTEXT", self.revision)
        try:
            default_json = json.dumps(default)
        except (TypeError, ValueError):
            log.error("the default for feature flag %r is not JSON: %r", flag, default)
            return failed
        try:
            value, reason, variant, error_code, revision = self._native.evaluate(
                flag, encoded, default_json
            )
            return EvaluationDetails(flag, json.loads(value), reason, variant, error_code, revision)
        except Exception:  # never into the application
            log.exception("feature flag %r could not be evaluated", flag)
            return failed


def _context(
    user_id: Optional[str], context: Optional[Mapping[str, Any]], attributes: Mapping[str, Any]
) -> Optional[str]:
    """The evaluation context as JSON: ``context``, then the keyword
    attributes, then ``user_id``; ``None`` when it cannot be encoded."""
    merged: dict = dict(context or {})
    merged.update(attributes)
    if user_id is not None:
        merged["user_id"] = user_id
    try:
        return json.dumps(merged, default=_as_json)
    except (TypeError, ValueError):
        log.error("a feature flag context is not JSON-serialisable: %r", merged)
        return None


def _as_json(value: Any) -> Any:
    """Dates and times as ISO 8601 text (what the `before`/`after`
    operators compare); anything else is refused."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            return value.isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
