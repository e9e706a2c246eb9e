-- wrk script for scripts/bench-streams: the same POST for the OFREP
-- evaluation and the axum baseline. FF_LOADTEST_KEY is the API key (the
-- baseline ignores it).
wrk.method = "POST"
wrk.body = '{"context":{"targetingKey":"user-4711","country":"CA","plan":"pro"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("FF_LOADTEST_KEY") or ""
