//! `rollout-plans`: a rule's percentage raised step by step, created,
//! listed, paused with a reason and resumed from the command line.

use serde_json::json;

use crate::support::Setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_plan_is_created_listed_paused_and_resumed() {
    let setup = Setup::new().await;
    setup
        .create_flag(json!({"flag_id": "new_checkout", "default_value": false, "targeting_rules": [
                {"name": "gradual", "value": true, "percentage": 0,
                 "conditions": [{"attribute": "user_type", "operator": "equals", "value": "standard"}]}]}))
        .await;
    // Far in the future: the scheduler applies no step during the test.
    let create = [
        "rollout-plans",
        "create",
        "--flag",
        "new_checkout",
        "--environment",
        "staging",
        "--rule",
        "gradual",
        "--percentages",
        "5,25,50,100",
        "--start-at",
        "2099-01-01T09:00:00Z",
        "--every-hours",
        "24",
        "--reason",
        "slow start",
    ];
    let created = setup.ff(&create).ok();
    assert!(
        created.stdout.contains("of new_checkout in staging is active: 5 → 25 → 50 → 100 % (next step at 2099-01-01T09:00:00Z)"),
        "{}",
        created.stdout
    );
    let plans = setup
        .ff(&["rollout-plans", "list", "-o", "json"])
        .ok()
        .json();
    let plan = &plans["items"][0];
    let id = plan["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("plan_"), "{id}");
    assert!(created.stdout.contains(&id), "{}", created.stdout);
    assert_eq!(plan["rule"], "gradual");
    assert_eq!(plan["reason"], "slow start");
    assert_eq!(plan["steps"][1]["at"], "2099-01-02T09:00:00Z");
    assert_eq!(plan["steps"][3]["percentage"].as_f64(), Some(100.0));

    let table = setup.ff(&["rollout-plans", "list"]).ok();
    assert!(
        table.stdout.contains(&id)
            && table.stdout.contains("5,25,50,100")
            && table.stdout.contains("0/4"),
        "{}",
        table.stdout
    );
    let yaml = setup
        .ff(&[
            "rollout-plans",
            "list",
            "--flag",
            "new_checkout",
            "-o",
            "yaml",
        ])
        .ok();
    assert!(
        yaml.stdout.contains(&format!("id: {id}")),
        "{}",
        yaml.stdout
    );
    let elsewhere = setup
        .ff(&[
            "rollout-plans",
            "list",
            "--environment",
            "production",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(elsewhere["items"], json!([]));

    // Paused with a reason, which `get` shows.
    let paused = setup
        .ff(&["rollout-plans", "pause", &id, "--reason", "error rate up"])
        .ok();
    assert!(
        paused
            .stdout
            .contains("is paused: 5 → 25 → 50 → 100 % (no step due)")
            && paused.stdout.contains("paused because: error rate up"),
        "{}",
        paused.stdout
    );
    let shown = setup.ff(&["rollout-plans", "get", &id]).ok();
    assert!(
        shown.stdout.contains(&format!(
            "rollout plan {id} of new_checkout in staging: paused, rule gradual"
        )) && shown.stdout.contains("paused because: error rate up")
            && shown.stdout.contains("2099-01-04T09:00:00Z"),
        "{}",
        shown.stdout
    );
    let listed = setup
        .ff(&["rollout-plans", "list", "--status", "paused", "-o", "json"])
        .ok()
        .json();
    assert_eq!(listed["items"][0]["id"], id.as_str());
    setup.ff(&["rollout-plans", "pause", &id]).code(6);

    let resumed = setup.ff(&["rollout-plans", "resume", &id]).ok();
    assert!(resumed.stdout.contains("is active"), "{}", resumed.stdout);
    let plan = setup
        .ff(&["rollout-plans", "get", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["due_at"], "2099-01-01T09:00:00Z");
    assert!(plan.get("paused_reason").is_none(), "{plan}");

    // What the service refuses, and what it does not know.
    let mut invalid = create;
    invalid[9] = "5,150";
    let refused = setup.ff(&invalid).code(7);
    assert!(
        refused.stderr.contains("between 0 and 100"),
        "{}",
        refused.stderr
    );
    setup.ff(&["rollout-plans", "get", "plan_nope"]).code(5);
}
