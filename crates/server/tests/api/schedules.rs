//! Scheduled changes and gradual rollout plans, driven by the test's clock:
//! `POST /api/v1/schedules/run` applies what is due at the clock's time, so
//! nothing here waits.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{ADMIN_TOKEN, TestApp};

governed_api_tests!(
    schedule_applies_once_at_its_time,
    schedules_fail_cancel_and_hold,
    schedules_survive_a_restart,
    rollout_plan_steps_pause_and_resume,
    held_rollout_steps_follow_their_change_requests,
);

mod background {
    use super::*;
    api_tests!(background_scheduler_applies_due_changes);
}

fn now(app: &TestApp) -> OffsetDateTime {
    use ff_server::Clock as _;
    app.clock.as_ref().expect("a governed app").now()
}

fn set_clock(app: &TestApp, at: OffsetDateTime) {
    app.clock.as_ref().expect("a governed app").set(at);
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn run(app: &TestApp) -> Vec<Value> {
    app.post("/api/v1/schedules/run", ADMIN_TOKEN, &json!({}))
        .await
        .expect_status(200)
        .body["outcomes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn evaluate(app: &TestApp, flag: &str, env: &str, user: &str) -> Value {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": env, "context": {"user_id": user}}),
    )
    .await
    .expect_status(200)
    .body["value"]
        .clone()
}

async fn schedule(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/schedules", ADMIN_TOKEN, &body)
        .await
        .expect_status(201)
        .body
}

async fn schedule_applies_once_at_its_time(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "scheduled_launch",
        "default_value": false,
        "environments": {"development": {"enabled": false, "value": true}}
    }))
    .await;
    let at = now(&app) + time::Duration::hours(1);
    let created = schedule(
        &app,
        json!({"flag_id": "scheduled_launch", "environment": "development",
               "at": rfc3339(at), "action": {"type": "enable"}, "reason": "launch day"}),
    )
    .await;
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["due_at"], rfc3339(at));
    let id = created["id"].as_str().unwrap().to_owned();

    // Not yet.
    assert_eq!(run(&app).await, Vec::<Value>::new());
    assert_eq!(
        evaluate(&app, "scheduled_launch", "development", "u").await,
        false
    );

    set_clock(&app, at);
    let outcomes = run(&app).await;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["id"], id.as_str());
    assert_eq!(outcomes[0]["result"], "applied");
    assert_eq!(
        evaluate(&app, "scheduled_launch", "development", "u").await,
        true
    );
    // Exactly once: nothing is due any more.
    assert_eq!(run(&app).await, Vec::<Value>::new());

    let stored = app
        .get(&format!("/api/v1/schedules/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    assert_eq!(stored["status"], "applied");
    assert_eq!(stored["applied_at"], rfc3339(at));
    assert!(stored.get("due_at").is_none());

    // In the flag's history, with the schedule's author and reason.
    let versions = app
        .get("/api/v1/flags/scheduled_launch/versions", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let newest = &versions.items()[0];
    assert_eq!(newest["action"], "schedule.apply");
    assert_eq!(newest["reason"], "launch day");
    let entries = app.audit("action=schedule.apply").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["request_id"], id.as_str());

    let listed = app
        .get(
            "/api/v1/schedules?status=applied&flag_id=scheduled_launch",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(listed.items().len(), 1);
}

async fn schedules_fail_cancel_and_hold(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "beta_checkout",
        "default_value": false,
        "environments": {
            "development": {"targeting_rules": [{"name": "beta", "conditions": [], "value": true, "percentage": 10}]},
            "production": true
        }
    }))
    .await;
    let at = now(&app) + time::Duration::minutes(30);

    // Refused at once when it cannot apply to the flag as it is.
    let reply = app
        .post(
            "/api/v1/schedules",
            ADMIN_TOKEN,
            &json!({"flag_id": "beta_checkout", "environment": "development", "at": rfc3339(at),
                    "action": {"type": "percentage", "percentage": 50, "rule": "gamma"}}),
        )
        .await;
    reply.expect_error(400, "unknown_rule");
    app.post(
        "/api/v1/schedules",
        ADMIN_TOKEN,
        &json!({"flag_id": "beta_checkout", "at": rfc3339(at), "action": {"type": "enable"}}),
    )
    .await
    .expect_error(400, "environment_required");
    app.post(
        "/api/v1/schedules",
        ADMIN_TOKEN,
        &json!({"flag_id": "beta_checkout", "environment": "development", "at": rfc3339(at),
                "action": {"type": "explode"}}),
    )
    .await
    .expect_error(400, "invalid_body");
    // Production is protected: a reason is needed.
    app.post(
        "/api/v1/schedules",
        ADMIN_TOKEN,
        &json!({"flag_id": "beta_checkout", "environment": "production", "at": rfc3339(at),
                "action": {"type": "disable"}}),
    )
    .await
    .expect_error(422, "reason_required");

    // Valid when made, invalid when due: marked failed, flag untouched.
    let doomed = schedule(
        &app,
        json!({"flag_id": "beta_checkout", "environment": "development", "at": rfc3339(at),
               "action": {"type": "percentage", "percentage": 50, "rule": "beta"}}),
    )
    .await;
    // The rule goes away meanwhile.
    app.put(
        "/api/v1/flags/beta_checkout/environments/development",
        ADMIN_TOKEN,
        &json!({"targeting_rules": [{"name": "everyone", "conditions": [], "value": true}]}),
    )
    .await
    .expect_status(200);
    let before = app
        .get("/api/v1/flags/beta_checkout", ADMIN_TOKEN)
        .await
        .body;

    // Cancelled before its time: never applied.
    let cancelled = schedule(
        &app,
        json!({"flag_id": "beta_checkout", "environment": "development", "at": rfc3339(at),
               "action": {"type": "set_value", "value": true}}),
    )
    .await;
    let cancelled_id = cancelled["id"].as_str().unwrap();
    let reply = app
        .delete(&format!("/api/v1/schedules/{cancelled_id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "cancelled");

    // Production needs approval: at its time it becomes a change request.
    let held = schedule(
        &app,
        json!({"flag_id": "beta_checkout", "environment": "production", "at": rfc3339(at),
               "action": {"type": "disable"}, "reason": "end of beta"}),
    )
    .await;

    set_clock(&app, at);
    let outcomes = run(&app).await;
    let result = |id: &Value| {
        outcomes
            .iter()
            .find(|o| o["id"] == *id)
            .map(|o| o["result"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        result(&doomed["id"]).as_deref(),
        Some("failed"),
        "{outcomes:?}"
    );
    assert_eq!(result(&held["id"]).as_deref(), Some("held"), "{outcomes:?}");
    assert_eq!(
        result(&cancelled["id"]),
        None,
        "a cancelled schedule never runs"
    );
    assert_eq!(outcomes.len(), 2);

    let failed = app
        .get(
            &format!("/api/v1/schedules/{}", doomed["id"].as_str().unwrap()),
            ADMIN_TOKEN,
        )
        .await
        .body;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("no such rule"),
        "{failed}"
    );
    let after = app
        .get("/api/v1/flags/beta_checkout", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(
        after, before,
        "neither the failed nor the held schedule changed the flag"
    );

    let waiting = app
        .get(
            &format!("/api/v1/schedules/{}", held["id"].as_str().unwrap()),
            ADMIN_TOKEN,
        )
        .await
        .body;
    assert_eq!(waiting["status"], "held");
    let request_id = waiting["change_request_id"].as_str().unwrap();
    let request = app
        .get(
            &format!("/api/v1/change-requests/{request_id}"),
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(request["status"], "pending");
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(request["reason"], "end of beta");
    assert_eq!(
        request["changes"][0]["after"]["environments"]["production"],
        json!({"enabled": false, "value": true})
    );

    // The approval applies the change and the schedule with it.
    let (_, approver) = app
        .create_key(json!({"name": "approver", "kind": "admin", "role": "approver"}))
        .await;
    app.post(
        &format!("/api/v1/change-requests/{request_id}/approve"),
        &approver,
        &json!({"comment": "beta is over"}),
    )
    .await
    .expect_status(200);
    let applied = app
        .get(
            &format!("/api/v1/schedules/{}", held["id"].as_str().unwrap()),
            ADMIN_TOKEN,
        )
        .await
        .body;
    assert_eq!(applied["status"], "applied", "{applied}");
    assert_eq!(applied["change_request_id"], request_id);
    assert_eq!(
        evaluate(&app, "beta_checkout", "production", "u").await,
        false
    );
    let history = app.audit("action=schedule.applied").await;
    assert!(
        history
            .iter()
            .any(|e| e["actor"].is_string() && e["reason"] == "end of beta"),
        "{history:?}"
    );

    // Cancelling what already ran is a conflict.
    app.delete(
        &format!("/api/v1/schedules/{}", doomed["id"].as_str().unwrap()),
        ADMIN_TOKEN,
    )
    .await
    .expect_error(409, "not_scheduled");
    assert_eq!(run(&app).await, Vec::<Value>::new());
}

async fn schedules_survive_a_restart(app: TestApp) {
    app.create_flag(&json!({"flag_id": "restart_survivor", "type": "number", "default_value": 1}))
        .await;
    let at = now(&app) + time::Duration::days(2);
    let created = schedule(
        &app,
        json!({"flag_id": "restart_survivor", "environment": "staging", "at": rfc3339(at),
               "action": {"type": "set_value", "value": 2}}),
    )
    .await;
    let app = app.restart().await;
    set_clock(&app, at + time::Duration::seconds(1));
    let outcomes = run(&app).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["id"], created["id"]);
    assert_eq!(evaluate(&app, "restart_survivor", "staging", "u").await, 2);
    assert_eq!(
        evaluate(&app, "restart_survivor", "development", "u").await,
        1
    );
}

async fn rollout_plan_steps_pause_and_resume(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "gradual_search",
        "default_value": false,
        "targeting_rules": [{"name": "everyone", "conditions": [], "value": true, "percentage": 0}]
    }))
    .await;
    let start = now(&app) + time::Duration::hours(1);
    let plan = app
        .post(
            "/api/v1/rollout-plans",
            ADMIN_TOKEN,
            &json!({"flag_id": "gradual_search", "environment": "staging", "rule": "everyone",
                    "percentages": [5, 25, 50, 100], "start_at": rfc3339(start), "every_hours": 24}),
        )
        .await
        .expect_status(201)
        .body;
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["steps"].as_array().unwrap().len(), 4);
    assert_eq!(
        plan["steps"][3]["at"],
        rfc3339(start + time::Duration::hours(72))
    );
    let id = plan["id"].as_str().unwrap().to_owned();
    let staging_percentage =
        |flag: &Value| flag["environments"]["staging"]["targeting_rules"][0]["percentage"].clone();

    for (step, percentage) in [(0, 5), (1, 25)] {
        set_clock(&app, start + time::Duration::hours(24 * step));
        let outcomes = run(&app).await;
        assert_eq!(outcomes.len(), 1, "step {step}: {outcomes:?}");
        assert_eq!(outcomes[0]["result"], "applied");
        let flag = app
            .get("/api/v1/flags/gradual_search", ADMIN_TOKEN)
            .await
            .body;
        assert_eq!(
            staging_percentage(&flag).as_f64(),
            Some(f64::from(percentage))
        );
        // The flag level and other environments are untouched.
        assert_eq!(flag["targeting_rules"][0]["percentage"].as_f64(), Some(0.0));
        assert!(flag["environments"].get("development").is_none());
    }

    app.post(
        &format!("/api/v1/rollout-plans/{id}/pause"),
        ADMIN_TOKEN,
        &json!({"reason": "error rate up"}),
    )
    .await
    .expect_status(200);
    set_clock(&app, start + time::Duration::hours(48));
    assert_eq!(
        run(&app).await,
        Vec::<Value>::new(),
        "a paused plan does not advance"
    );
    app.post(
        &format!("/api/v1/rollout-plans/{id}/pause"),
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(409, "invalid_state");
    let resumed = app
        .post(
            &format!("/api/v1/rollout-plans/{id}/resume"),
            ADMIN_TOKEN,
            &json!({}),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(resumed["status"], "active");
    assert_eq!(run(&app).await.len(), 1);
    let flag = app
        .get("/api/v1/flags/gradual_search", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(staging_percentage(&flag).as_f64(), Some(50.0));

    // The kill switch pauses the plan.
    let killed = app
        .post(
            "/api/v1/emergency/disable",
            ADMIN_TOKEN,
            &json!({"flag_id": "gradual_search", "environment": "staging"}),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(killed["paused_rollout_plans"], json!([id]));
    let paused = app
        .get(&format!("/api/v1/rollout-plans/{id}"), ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["paused_reason"], "paused by the kill switch");
    assert_eq!(paused["next_step"], 3);
    assert_eq!(paused["history"].as_array().unwrap().len(), 3);
    set_clock(&app, start + time::Duration::hours(72));
    assert_eq!(run(&app).await, Vec::<Value>::new());

    // Resumed after the fix: the last step completes the plan.
    app.post(
        "/api/v1/emergency/enable",
        ADMIN_TOKEN,
        &json!({"flag_id": "gradual_search", "environment": "staging"}),
    )
    .await
    .expect_status(200);
    app.post(
        &format!("/api/v1/rollout-plans/{id}/resume"),
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_status(200);
    assert_eq!(run(&app).await.len(), 1);
    let done = app
        .get(&format!("/api/v1/rollout-plans/{id}"), ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(done["status"], "completed");
    let flag = app
        .get("/api/v1/flags/gradual_search", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(staging_percentage(&flag).as_f64(), Some(100.0));
    assert_eq!(
        evaluate(&app, "gradual_search", "staging", "anyone").await,
        true
    );

    // Bad plans.
    for (body, mentions) in [
        (
            json!({"flag_id": "gradual_search", "environment": "staging", "steps": []}),
            "at least one step",
        ),
        (
            json!({"flag_id": "gradual_search", "environment": "staging", "percentages": [5, 150],
                "start_at": rfc3339(start), "every_hours": 1}),
            "between 0 and 100",
        ),
        (
            json!({"flag_id": "gradual_search", "environment": "staging", "percentages": [5]}),
            "start_at",
        ),
        // Dates past year 9999 are refused, not an overflow that drops the
        // connection.
        (
            json!({"flag_id": "gradual_search", "environment": "staging", "percentages": [5, 10],
                "start_at": rfc3339(start), "every_hours": 1e15}),
            "after year 9999",
        ),
        (
            json!({"flag_id": "gradual_search", "environment": "staging", "percentages": [5, 10],
                "start_at": "9999-12-31T12:00:00Z", "every_hours": 24}),
            "after year 9999",
        ),
    ] {
        let reply = app.post("/api/v1/rollout-plans", ADMIN_TOKEN, &body).await;
        let error = reply.expect_error(400, "invalid_plan");
        assert!(
            error["message"].as_str().unwrap().contains(mentions),
            "{reply}"
        );
    }
}

/// Without anyone calling `run`: the scheduler's own loop applies a due
/// change within a few of its ticks.
async fn background_scheduler_applies_due_changes(app: TestApp) {
    let app = app.fresh(|config| config.scheduler_interval_ms = 50).await;
    app.create_flag(&json!({"flag_id": "ticking", "default_value": false}))
        .await;
    schedule(
        &app,
        json!({"flag_id": "ticking", "environment": "development",
               "at": rfc3339(OffsetDateTime::now_utc()), "action": {"type": "set_value", "value": true}}),
    )
    .await;
    for _ in 0..200 {
        if evaluate(&app, "ticking", "development", "u").await == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the scheduler did not apply the due change within 5 s");
}

/// A plan step that production holds for approval: approving the change
/// request applies the step and moves the plan on; rejecting one pauses
/// the plan with the rejection as its reason, and resuming proposes the step
/// again.
async fn held_rollout_steps_follow_their_change_requests(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "gradual_payments",
        "default_value": false,
        "environments": {"production": {"targeting_rules": [
            {"name": "everyone", "value": true, "percentage": 0}]}}
    }))
    .await;
    let (_, approver) = app
        .create_key(json!({"name": "approver", "kind": "admin", "role": "approver"}))
        .await;
    let start = now(&app) + time::Duration::hours(1);
    let plan = app
        .post(
            "/api/v1/rollout-plans",
            ADMIN_TOKEN,
            &json!({"flag_id": "gradual_payments", "environment": "production", "rule": "everyone",
                    "percentages": [10, 100], "start_at": rfc3339(start), "every_hours": 24,
                    "reason": "payments v2 rollout"}),
        )
        .await
        .expect_status(201)
        .body;
    let id = plan["id"].as_str().unwrap().to_owned();
    let get_plan = || async {
        app.get(&format!("/api/v1/rollout-plans/{id}"), ADMIN_TOKEN)
            .await
            .expect_status(200)
            .body
    };
    let production_percentage = || async {
        app.get("/api/v1/flags/gradual_payments", ADMIN_TOKEN)
            .await
            .body["environments"]["production"]["targeting_rules"][0]["percentage"]
            .as_f64()
    };

    // Step 1 is held; approving it applies 10 % and schedules step 2.
    decide_held_step(&app, &id, start, "approve", &approver, "10 % is fine").await;
    assert_eq!(production_percentage().await, Some(10.0));
    let moved = get_plan().await;
    assert_eq!(moved["status"], "active", "{moved}");
    assert_eq!(moved["next_step"], 1, "{moved}");
    assert_eq!(
        moved["due_at"],
        rfc3339(start + time::Duration::hours(24)),
        "{moved}"
    );

    // Step 2 is held too; rejecting it pauses the plan, nothing changes.
    let request = decide_held_step(
        &app,
        &id,
        start + time::Duration::hours(24),
        "reject",
        &approver,
        "error budget spent",
    )
    .await;
    assert_eq!(production_percentage().await, Some(10.0));
    let paused = get_plan().await;
    assert_eq!(paused["status"], "paused", "{paused}");
    assert!(
        paused["paused_reason"]
            .as_str()
            .is_some_and(|r| r.contains(&request) && r.contains("error budget spent")),
        "{paused}"
    );
    let rejected = app.audit("action=change_request.reject").await;
    assert_eq!(rejected[0]["reason"], "error budget spent");

    // Resuming proposes the step again (a new change request).
    app.post(
        &format!("/api/v1/rollout-plans/{id}/resume"),
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_status(200);
    let outcomes = run(&app).await;
    assert_eq!(outcomes[0]["result"], "held", "{outcomes:?}");
    assert_ne!(get_plan().await["change_request_id"], request);
}

/// At `at`, the plan's due step is held for approval; `decision`
/// (`approve` or `reject`) is taken on its change request, whose id is
/// returned.
async fn decide_held_step(
    app: &TestApp,
    plan_id: &str,
    at: OffsetDateTime,
    decision: &str,
    approver: &str,
    comment: &str,
) -> String {
    set_clock(app, at);
    let outcomes = run(app).await;
    assert_eq!(outcomes[0]["result"], "held", "{outcomes:?}");
    let waiting = app
        .get(&format!("/api/v1/rollout-plans/{plan_id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    assert_eq!(waiting["status"], "held", "{waiting}");
    let request = waiting["change_request_id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/change-requests/{request}/{decision}"),
        approver,
        &json!({"comment": comment}),
    )
    .await
    .expect_status(200);
    request
}
