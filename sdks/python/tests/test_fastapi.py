"""FastAPI: the seed's endpoint as written, and the per-request dependency."""

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from feature_flags.fastapi import FlagsDependency, RequestFlags


def test_the_seeds_endpoint_and_the_dependency(client, flags):
    app = FastAPI()
    flag_client = client

    # The seed's example, unchanged but for the flag's name.
    @app.get("/dashboard")
    async def get_dashboard(user_id: str):
        if await flag_client.is_enabled(flags["checkout"], user_id=user_id, country="IT"):
            return {"dashboard": "new"}
        return {"dashboard": "legacy"}

    user_flags = FlagsDependency(client, context=lambda request: {
        "user_id": request.headers.get("x-user-id"),
        "country": request.headers.get("x-country"),
    })

    @app.get("/page")
    async def page(request_flags: RequestFlags = Depends(user_flags)):
        details = await request_flags.evaluate(flags["checkout"], False)
        return {
            "items": await request_flags.get_value(flags["items"], 20),
            "checkout": await request_flags.is_enabled(flags["checkout"]),
            "reason": details.reason,
        }

    broken = FlagsDependency(client, context=lambda request: request.headers["missing"])

    @app.get("/broken")
    async def broken_context(request_flags: RequestFlags = Depends(broken)):
        return {"checkout": await request_flags.is_enabled(flags["checkout"], default=True)}

    http = TestClient(app)
    seen = {http.get("/dashboard", params={"user_id": f"user-{n}"}).json()["dashboard"]
            for n in range(40)}
    assert seen == {"new", "legacy"}, "a 50 % rollout in Italy"
    for n in range(20):
        user = f"user-{n}"
        answer = http.get("/page", headers={"x-user-id": user, "x-country": "DE"}).json()
        expected = client.evaluate_sync(flags["checkout"], False, user, country="DE")
        assert answer == {"items": 50, "checkout": expected.value, "reason": expected.reason}
    outside = http.get("/page", headers={"x-user-id": "user-1", "x-country": "US"}).json()
    assert outside == {"items": 50, "checkout": False, "reason": "DEFAULT"}
    assert http.get("/broken").json() == {"checkout": False}, "an empty context still evaluates"
