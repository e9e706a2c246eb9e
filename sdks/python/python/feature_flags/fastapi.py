"""FastAPI integration: each request's flags as a dependency.

    from fastapi import Depends, FastAPI, Request
    from feature_flags.fastapi import FlagsDependency, RequestFlags

    flags = FlagsDependency(flag_client, context=lambda request: {
        "user_id": request.headers.get("x-user-id"),
        "country": request.headers.get("x-country"),
    })

    @app.get("/dashboard")
    async def dashboard(user_flags: RequestFlags = Depends(flags)):
        if await user_flags.is_enabled("new_dashboard_api"):
            ...

Needs FastAPI (``pip install feature-flags-sdk[fastapi]``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from fastapi import Request

from .client import EvaluationDetails, FeatureFlagClient


class RequestFlags:
    """The client with one request's evaluation context bound."""

    def __init__(self, client: FeatureFlagClient, context: Mapping[str, Any]) -> None:
        self._client = client
        self.context = {name: value for name, value in context.items() if value is not None}

    async def is_enabled(self, flag: str, default: bool = False) -> bool:
        """Whether a boolean flag is on for this request's user."""
        return self._client.is_enabled_sync(flag, default=default, context=self.context)

    async def get_value(self, flag: str, default: Any) -> Any:
        """A flag's value for this request's user, or ``default``."""
        return self._client.get_value_sync(flag, default, context=self.context)

    async def evaluate(self, flag: str, default: Any = None) -> EvaluationDetails:
        """The whole evaluation for this request's user."""
        return self._client.evaluate_sync(flag, default, context=self.context)


class FlagsDependency:
    """A FastAPI dependency giving endpoints a :class:`RequestFlags`.

    ``context`` makes a request's evaluation context (attributes whose value
    is ``None`` are left out); without it the context is empty. An exception
    in it gives the empty context rather than failing the request.
    """

    def __init__(
        self,
        client: FeatureFlagClient,
        context: Optional[Callable[[Request], Mapping[str, Any]]] = None,
    ) -> None:
        self._client = client
        self._context = context

    def __call__(self, request: Request) -> RequestFlags:
        context: Mapping[str, Any] = {}
        if self._context is not None:
            try:
                context = self._context(request)
            except Exception:  # flags must never fail a request
                context = {}
        return RequestFlags(self._client, context)
