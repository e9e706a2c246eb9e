//! The admin commands, end to end: the real binary against a real service
//! (first start as a user gets it: production requires approval and is
//! protected), checking what the service holds afterwards, what is printed,
//! and the exit codes scripts rely on.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Setup, ff_as, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_emergency_and_rollback_commands_verbatim() {
    let setup = Setup::new().await;
    setup.write(
        "payment.json",
        r#"{"flag_id": "payment_processing_v2", "default_value": false, "environments": {"production": true}}"#,
    );
    setup.ff(&["flags", "create", "-f", "payment.json"]).ok();

    // feature-flags emergency-disable --flag payment_processing_v2 --environment production
    let run = setup
        .ff(&[
            "emergency-disable",
            "--flag",
            "payment_processing_v2",
            "--environment",
            "production",
        ])
        .ok();
    assert!(
        run.stdout
            .contains("payment_processing_v2 disabled in production"),
        "{}",
        run.stdout
    );
    let flag = setup.flag("payment_processing_v2").await;
    assert_eq!(
        flag["environments"]["production"],
        json!({"enabled": false, "value": true})
    );
    // Turning it back on is an ordinary change: production holds it.
    let held = setup
        .ff(&[
            "emergency-enable",
            "--flag",
            "payment_processing_v2",
            "--environment",
            "production",
            "--reason",
            "fixed in 2.4.1",
        ])
        .code(8);
    assert!(held.stdout.contains("change request"), "{}", held.stdout);
    assert_eq!(
        setup.flag("payment_processing_v2").await["environments"]["production"],
        json!({"enabled": false, "value": true}),
        "still off until approved"
    );

    // Release 1.2.3 created new_checkout_flow; later the kill switch hit it.
    setup
        .call(reqwest::Method::POST, "/api/v1/flags", &[("X-Deployment-Id", "1.2.3")],
              json!({"flag_id": "new_checkout_flow", "default_value": false, "environments": {"production": true}}))
        .await;
    setup
        .ff(&[
            "emergency-disable",
            "--flag",
            "new_checkout_flow",
            "--environment",
            "production",
        ])
        .ok();
    // feature-flags rollback --flag new_checkout_flow --environment production --to-version 1.2.3
    // Release 1.2.3 had it on: rolling back turns it on again, which
    // production holds for approval like any release (exit 8).
    let run = setup
        .ff(&[
            "rollback",
            "--flag",
            "new_checkout_flow",
            "--environment",
            "production",
            "--to-version",
            "1.2.3",
        ])
        .code(8);
    assert!(
        run.stdout.contains("held for approval as change request"),
        "{}",
        run.stdout
    );
    assert_eq!(
        setup.flag("new_checkout_flow").await["environments"]["production"],
        json!({"enabled": false, "value": true}),
        "still off until approved"
    );
    let approver = setup.approver("rollback approver");
    let approve = |setup: &Setup| {
        let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
        setup
            .ff_with(&approver, &["change-requests", "approve", &id])
            .ok()
    };
    approve(&setup);
    assert_eq!(
        setup.flag("new_checkout_flow").await["environments"]["production"],
        true
    );

    // A deployment turned a flag off in production and changed staging.
    setup.ff(&["flags", "create", "-f", "payment.json"]).code(6); // exists: conflict
    setup
        .call(
            reqwest::Method::POST,
            "/api/v1/emergency/disable",
            &[("X-Deployment-Id", "deploy-20240115")],
            json!({"flag_id": "new_checkout_flow", "environment": "production"}),
        )
        .await;
    setup
        .ff(&[
            "flags",
            "set-value",
            "new_checkout_flow",
            "--environment",
            "staging",
            "true",
            "--deployment-id",
            "deploy-20240115",
        ])
        .ok();
    // feature-flags rollback --deployment-id deploy-20240115 --environment production
    // It turns the flag back on in production: held, then approved.
    let run = setup
        .ff(&[
            "rollback",
            "--deployment-id",
            "deploy-20240115",
            "--environment",
            "production",
        ])
        .code(8);
    assert!(
        run.stdout.contains("held for approval as change request"),
        "{}",
        run.stdout
    );
    let approved = approve(&setup);
    assert!(
        approved.stdout.contains("is applied"),
        "{}",
        approved.stdout
    );
    let flag = setup.flag("new_checkout_flow").await;
    assert_eq!(
        flag["environments"]["production"], true,
        "production as before the deployment"
    );
    assert_eq!(
        flag["environments"]["staging"], true,
        "only production was rolled back"
    );

    // Usage errors are clap's code 2.
    setup
        .ff(&["rollback", "--flag", "new_checkout_flow"])
        .code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_auth_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let down = ff_as(
        &format!("http://127.0.0.1:{}", free_port()),
        ADMIN_TOKEN,
        dir.path(),
        &["flags", "list"],
    );
    let down = down.code(3);
    assert!(
        down.stderr.contains("cannot reach the service"),
        "{}",
        down.stderr
    );

    let setup = Setup::new().await;
    let bad = ff_as(
        &setup.server.url,
        "ff_admin_not_a_key",
        setup.dir.path(),
        &["flags", "list"],
    )
    .code(4);
    assert!(bad.stderr.contains("unknown API key"), "{}", bad.stderr);
    setup.ff(&["flags", "get", "nope"]).code(5);

    // A viewer may read but not write: 403 is code 4 too.
    let viewer = setup
        .ff(&[
            "keys", "create", "--name", "reader", "--kind", "admin", "--role", "viewer",
        ])
        .ok();
    let secret = viewer.stdout.trim().to_owned();
    assert!(secret.starts_with("ff_admin_"), "{}", viewer.stdout);
    ff_as(
        &setup.server.url,
        &secret,
        setup.dir.path(),
        &["flags", "list"],
    )
    .ok();
    ff_as(
        &setup.server.url,
        &secret,
        setup.dir.path(),
        &["emergency-disable", "--flag", "x"],
    )
    .code(4);

    // login saves a profile that later commands use without --token.
    let login = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args([
            "login",
            "--name",
            "ci",
            "--url",
            &setup.server.url,
            "--token",
            &secret,
        ])
        .env("XDG_CONFIG_HOME", setup.dir.path().join("profiles"))
        .env_remove("FEATURE_FLAGS_TOKEN")
        .env_remove("FEATURE_FLAGS_URL")
        .output()
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args(["envs", "list", "-o", "json"])
        .env("XDG_CONFIG_HOME", setup.dir.path().join("profiles"))
        .env_remove("FEATURE_FLAGS_TOKEN")
        .env_remove("FEATURE_FLAGS_URL")
        .output()
        .unwrap();
    assert!(listed.status.success());
    let envs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(envs["items"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_flag_commands() {
    let setup = Setup::new().await;
    setup.write(
        "beta.yaml",
        "flag_id: beta_features\ndefault_value: false\ntargeting_rules:\n  - name: gradual_rollout\n    conditions:\n      - {attribute: user_type, operator: equals, value: standard}\n    value: true\n    percentage: 25\n",
    );
    setup.ff(&["flags", "create", "-f", "beta.yaml"]).ok();
    // `flags edit`: the editor changes the file; the diff is shown; --yes applies.
    let edit = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args(["flags", "edit", "beta_features", "--yes"])
        .env("FEATURE_FLAGS_URL", &setup.server.url)
        .env("FEATURE_FLAGS_TOKEN", ADMIN_TOKEN)
        .env("EDITOR", r#"sed -i 's/"flag_id": "beta_features",/"flag_id": "beta_features", "description": "edited",/'"#)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&edit.stdout);
    assert!(
        edit.status.success(),
        "{shown} {}",
        String::from_utf8_lossy(&edit.stderr)
    );
    assert!(shown.contains("description:  -> edited"), "{shown}");
    assert_eq!(setup.flag("beta_features").await["description"], "edited");
    let listed = setup.ff(&["flags", "list", "-o", "json"]).ok().json();
    assert_eq!(listed["items"][0]["flag_id"], "beta_features");
    let yaml = setup
        .ff(&["flags", "get", "beta_features", "-o", "yaml"])
        .ok();
    assert!(
        yaml.stdout.contains("flag_id: beta_features"),
        "{}",
        yaml.stdout
    );

    setup
        .ff(&[
            "flags",
            "rollout",
            "beta_features",
            "--environment",
            "staging",
            "--percentage",
            "50",
        ])
        .ok();
    let flag = setup.flag("beta_features").await;
    assert_eq!(
        flag["environments"]["staging"]["targeting_rules"][0]["percentage"].as_f64(),
        Some(50.0)
    );
    setup
        .ff(&[
            "flags",
            "disable",
            "beta_features",
            "--environment",
            "development",
        ])
        .ok();
    assert_eq!(
        setup.flag("beta_features").await["environments"]["development"],
        json!({"enabled": false})
    );
    setup
        .ff(&[
            "flags",
            "enable",
            "beta_features",
            "--environment",
            "development",
        ])
        .ok();
    assert!(
        setup.flag("beta_features").await["environments"]
            .get("development")
            .is_none()
    );

    let evaluated = setup
        .ff(&[
            "evaluate",
            "--flag",
            "beta_features",
            "--env",
            "staging",
            "--context",
            "user_id=user-7",
            "--context",
            "user_type=beta",
        ])
        .ok();
    assert!(
        evaluated
            .stdout
            .starts_with("beta_features = false (DEFAULT"),
        "{}",
        evaluated.stdout
    );

    // Production requires approval: held (exit 8), then approved by another key.
    let held = setup
        .ff(&[
            "flags",
            "set-value",
            "beta_features",
            "--environment",
            "production",
            "true",
            "--reason",
            "launch",
        ])
        .code(8);
    assert!(
        held.stdout
            .contains("held for approval as change request cr_"),
        "{}",
        held.stdout
    );
    let approver = setup.approver("release manager");
    let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
    setup.ff(&["change-requests", "approve", &id]).code(4); // four eyes: the author
    let approved = setup
        .ff_with(
            &approver,
            &["change-requests", "approve", &id, "--comment", "ok"],
        )
        .ok();
    assert!(
        approved.stdout.contains("is applied"),
        "{}",
        approved.stdout
    );
    assert_eq!(
        setup.flag("beta_features").await["environments"]["production"],
        json!(true)
    );

    let history = setup
        .ff(&["flags", "history", "beta_features", "-o", "json"])
        .ok()
        .json();
    assert_eq!(history["items"].as_array().unwrap().len(), 6);
    let diff = setup
        .ff(&["flags", "diff", "beta_features", "--from", "2", "--to", "3"])
        .ok();
    assert!(
        diff.stdout.contains("environments") && diff.stdout.contains("gradual_rollout"),
        "{}",
        diff.stdout
    );

    // Promotion into production is held too; a rejection leaves it unapplied.
    setup
        .ff(&[
            "flags",
            "set-value",
            "beta_features",
            "--environment",
            "staging",
            "false",
        ])
        .ok();
    let promoted = setup
        .ff(&[
            "envs",
            "promote",
            "production",
            "--flags",
            "beta_features",
            "--reason",
            "release",
        ])
        .code(8);
    assert!(
        promoted.stdout.contains("held for approval"),
        "{}",
        promoted.stdout
    );
    let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
    let rejected = setup
        .ff_with(
            &approver,
            &["change-requests", "reject", &id, "--comment", "not now"],
        )
        .ok();
    assert!(
        rejected.stdout.contains("is rejected"),
        "{}",
        rejected.stdout
    );
    assert_eq!(
        setup.flag("beta_features").await["environments"]["production"],
        json!(true)
    );
    // --quiet prints nothing on success.
    let quiet = setup
        .ff(&[
            "flags",
            "set-value",
            "beta_features",
            "--environment",
            "development",
            "true",
            "-q",
        ])
        .ok();
    assert_eq!(quiet.stdout, "");

    // Protected production: a reason, and a confirmation to delete what is on.
    setup.ff(&["flags", "delete", "beta_features"]).code(7);
    setup
        .ff(&["flags", "delete", "beta_features", "--reason", "done"])
        .code(6);
    setup
        .ff(&[
            "flags",
            "delete",
            "beta_features",
            "--reason",
            "done",
            "--confirm",
        ])
        .code(8);

    // Environments, segments, schedules, audit, keys.
    let diff = setup
        .ff(&[
            "envs",
            "diff",
            "--from",
            "staging",
            "--to",
            "production",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(diff["differences"][0]["flag_id"], "beta_features");
    setup.write("segment.json", r#"{"segment_id": "eu", "conditions": [{"attribute": "country", "operator": "in", "value": ["IT"]}]}"#);
    setup.ff(&["segments", "create", "-f", "segment.json"]).ok();
    assert!(setup.ff(&["segments", "list"]).ok().stdout.contains("eu"));
    let scheduled = setup
        .ff(&[
            "schedule",
            "create",
            "--flag",
            "beta_features",
            "--environment",
            "staging",
            "--at",
            "2099-01-01T00:00:00Z",
            "--action",
            "disable",
            "-o",
            "json",
        ])
        .ok()
        .json();
    let schedule_id = scheduled["id"].as_str().unwrap().to_owned();
    setup.ff(&["schedule", "cancel", &schedule_id]).ok();
    let schedules = setup
        .ff(&["schedule", "list", "--status", "cancelled", "-o", "json"])
        .ok()
        .json();
    assert_eq!(schedules["items"].as_array().unwrap().len(), 1);
    let audit = setup
        .ff(&["audit", "--flag", "beta_features", "-o", "json"])
        .ok()
        .json();
    assert!(audit["items"].as_array().unwrap().len() >= 5);
    setup.ff(&["audit", "verify"]).ok();
    let keys = setup.ff(&["keys", "list", "-o", "json"]).ok().json();
    let approver_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "release manager")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    setup.ff(&["keys", "revoke", &approver_id]).ok();
    ff_as(
        &setup.server.url,
        &approver,
        setup.dir.path(),
        &["flags", "list"],
    )
    .code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_environment_yaml_is_validated_and_applied() {
    let setup = Setup::new().await;
    // The product description's hierarchy, as written there, plus a flag.
    setup.write(
        "config/environments.yaml",
        "environments:\n  development:\n    parent: null\n    description: \"Local development environment\"\n    auto_sync: false\n\n  staging:\n    parent: development\n    description: \"Staging environment for testing\"\n    auto_sync: true\n\n  production:\n    parent: staging\n    description: \"Production environment\"\n    auto_sync: false\n    approval_required: true\n\n  qa:\n    parent: staging\n    auto_sync: true\n",
    );
    setup.write(
        "config/flags.yaml",
        "flags:\n  - flag_id: qa_banner\n    default_value: false\n    environments: {qa: true}\n",
    );
    let valid = setup.ff(&["validate", "-f", "config"]).ok();
    assert!(
        valid
            .stdout
            .contains("valid: 1 flag(s), 0 segment(s), 4 environment(s)"),
        "{}",
        valid.stdout
    );
    let plan = setup.ff(&["apply", "-f", "config", "--dry-run"]).ok();
    assert!(plan.stdout.contains("qa"), "{}", plan.stdout);
    setup.ff(&["apply", "-f", "config", "--yes"]).ok();
    assert_eq!(setup.flag("qa_banner").await["environments"]["qa"], true);
    // A shape nothing understands is an error, not "valid: 0 flags".
    setup.write("odd/environments.yaml", "environments: production\n");
    let odd = setup.ff(&["validate", "-f", "odd"]).code(7);
    assert!(
        odd.stderr.contains("environments must be"),
        "{}",
        odd.stderr
    );
    setup.write("odd/environments.yaml", "flags: {flag_id: x}\n");
    let odd = setup.ff(&["validate", "-f", "odd"]).code(7);
    assert!(
        odd.stderr.contains("flags must be a list"),
        "{}",
        odd.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_as_code_validate_apply_export_import() {
    let setup = Setup::new().await;
    setup.write(
        "flags/payment.json",
        r#"{"flag_id": "new_payment_flow", "type": "boolean", "default_value": false,
        "environments": {"development": true, "staging": true, "production": false}}"#,
    );
    setup.write("flags/timeout.yaml", "flag_id: api_timeout_seconds\ntype: number\ndefault_value: 30\nenvironments: {development: 60}\n");
    setup.ff(&["validate", "-f", "flags"]).ok();

    // Offline, path-precise messages with the file name.
    setup.write("bad/broken.json", r#"{"flag_id": "checkout_v2", "targeting_rules": [{"conditions": [{"attribute": "plan", "operator": "equal", "value": "pro"}], "percentage": 120}]}"#);
    let bad = setup.ff(&["validate", "-f", "bad"]).code(7);
    assert!(
        bad.stderr
            .contains("broken.json: targeting_rules[0].conditions[0].operator"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("did you mean \"equals\""),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("targeting_rules[0].percentage"),
        "{}",
        bad.stderr
    );
    setup.ff(&["apply", "-f", "bad", "--yes"]).code(7);

    let plan = setup.ff(&["apply", "-f", "flags", "--dry-run"]).ok();
    assert!(
        plan.stdout.contains("create") && plan.stdout.contains("new_payment_flow"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        setup.flag("new_payment_flow").await["error"]["code"],
        "not_found",
        "a dry run changes nothing"
    );
    // Without a terminal it will not ask: --yes is needed.
    setup.ff(&["apply", "-f", "flags"]).code(2);
    setup.ff(&["apply", "-f", "flags", "--yes"]).ok();
    assert_eq!(
        setup.flag("api_timeout_seconds").await["environments"]["development"],
        60
    );
    let again = setup.ff(&["apply", "-f", "flags", "--dry-run"]).ok();
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);

    // A change to an existing flag shows its diff.
    setup.write("flags/timeout.yaml", "flag_id: api_timeout_seconds\ntype: number\ndefault_value: 30\nenvironments: {development: 90}\n");
    let plan = setup.ff(&["apply", "-f", "flags", "--dry-run"]).ok();
    assert!(
        plan.stdout.contains("environments.development") && plan.stdout.contains("60 -> 90"),
        "{}",
        plan.stdout
    );

    // Export, then import into the same service: nothing to do.
    setup
        .ff(&["export", "--format", "yaml", "--out", "export.yaml"])
        .ok();
    let exported = std::fs::read_to_string(setup.dir.path().join("export.yaml")).unwrap();
    assert!(exported.contains("new_payment_flow"));
    let dry = setup.ff(&["import", "-f", "export.yaml", "--dry-run"]).ok();
    assert!(dry.stdout.contains("no changes"), "{}", dry.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_deploy_and_dependencies() {
    let setup = Setup::new().await;
    for doc in [
        json!({"flag_id": "new_payment_flow", "default_value": false, "environments": {"production": true}}),
        json!({"flag_id": "api_timeout_seconds", "type": "number", "default_value": 30, "environments": {"production": 45}}),
        json!({"flag_id": "maintenance_mode", "default_value": true, "environments": {"staging": {"enabled": false}}}),
        json!({"flag_id": "new_feature_beta", "default_value": true}),
        json!({"flag_id": "critical_feature", "default_value": true}),
        json!({"flag_id": "payment_system", "default_value": true}),
        json!({"flag_id": "dashboard_api_v2", "default_value": true}),
        json!({"flag_id": "new_dashboard_ui", "default_value": false}),
    ] {
        setup.create_flag(doc).await;
    }

    // Snapshots, online and offline from an export.
    setup
        .ff(&["snapshot", "--scenario", "all_flags_on", "--out", "on.json"])
        .ok();
    let on: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.dir.path().join("on.json")).unwrap())
            .unwrap();
    assert_eq!(on["scenario"], "all_flags_on");
    assert_eq!(on["flags"]["new_payment_flow"]["value"], true);
    assert_eq!(
        on["flags"]["api_timeout_seconds"]["value"], 30,
        "non-booleans serve their default"
    );
    setup
        .ff(&["export", "--format", "json", "--out", "export.json"])
        .ok();
    let offline = ff_as(
        "http://127.0.0.1:9",
        "none",
        setup.dir.path(),
        &[
            "snapshot",
            "--scenario",
            "production_flags",
            "--from",
            "export.json",
            "--out",
            "prod.json",
        ],
    )
    .ok();
    assert!(offline.stdout.contains("8 flags"), "{}", offline.stdout);
    let prod: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.dir.path().join("prod.json")).unwrap())
            .unwrap();
    assert_eq!(
        prod["flags"]["new_payment_flow"],
        json!({"value": true, "reason": "STATIC"})
    );
    assert_eq!(prod["flags"]["api_timeout_seconds"]["value"], 45);
    ff_as(
        "http://127.0.0.1:9",
        "none",
        setup.dir.path(),
        &[
            "snapshot",
            "--scenario",
            "all_flags_off",
            "--from",
            "export.json",
            "--out",
            "off.json",
        ],
    )
    .ok();
    let off: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.dir.path().join("off.json")).unwrap())
            .unwrap();
    assert!(
        off["flags"]
            .as_object()
            .unwrap()
            .values()
            .filter(|f| f["value"].is_boolean())
            .all(|f| f["value"] == false)
    );

    // The seed's deployment automation, in staging.
    setup.write("deployment.yaml", "deployment:\n  pre_deploy:\n    - enable_flag: \"maintenance_mode\"\n    - disable_flag: \"new_feature_beta\"\n  post_deploy:\n    - disable_flag: \"maintenance_mode\"\n    - enable_flag: \"new_feature_beta\"\n    - verify_flags: [\"critical_feature\", \"payment_system\"]\n");
    let deploy = |phase: &str| {
        setup.ff(&[
            "deploy",
            "--file",
            "deployment.yaml",
            "--phase",
            phase,
            "--deployment-id",
            "deploy-42",
            "--environment",
            "staging",
        ])
    };
    deploy("pre").ok();
    assert!(
        setup.flag("maintenance_mode").await["environments"]
            .get("staging")
            .is_none(),
        "maintenance on in staging"
    );
    assert_eq!(
        setup.flag("new_feature_beta").await["environments"]["staging"],
        json!({"enabled": false})
    );
    setup
        .ff(&[
            "emergency-disable",
            "--flag",
            "payment_system",
            "--environment",
            "staging",
        ])
        .ok();
    let failed = deploy("post").code(1);
    assert!(
        failed.stderr.contains("payment_system"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        setup.flag("new_feature_beta").await["environments"]["staging"],
        json!({"enabled": false}),
        "nothing applied"
    );
    setup
        .ff(&[
            "emergency-enable",
            "--flag",
            "payment_system",
            "--environment",
            "staging",
        ])
        .ok();
    deploy("post").ok();
    assert!(
        setup.flag("new_feature_beta").await["environments"]
            .get("staging")
            .is_none()
    );
    setup.ff(&["rollback", "--deployment-id", "deploy-42"]).ok();
    assert_eq!(
        setup.flag("maintenance_mode").await["environments"]["staging"],
        json!({"enabled": false}),
        "as before deploy-42"
    );

    // The seed's flag-dependencies.yaml: exit 1 when one does not hold.
    setup.write("flag-dependencies.yaml", "dependencies:\n  - flag: \"new_dashboard_ui\"\n    depends_on:\n      - repository: \"PratikoAi-BE\"\n        flag: \"dashboard_api_v2\"\n        required_value: true\n      - repository: \"PratikoAi-BE\"\n        flag: \"user_preferences_api\"\n        required_value: true\n");
    let check = setup
        .ff(&[
            "deps",
            "check",
            "--file",
            "flag-dependencies.yaml",
            "--environment",
            "production",
        ])
        .code(1);
    assert!(
        check.stdout.contains("dashboard_api_v2") && check.stdout.contains("holds"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("user_preferences_api") && check.stdout.contains("broken"),
        "{}",
        check.stdout
    );
    setup
        .create_flag(json!({"flag_id": "user_preferences_api", "default_value": true}))
        .await;
    setup
        .ff(&[
            "deps",
            "check",
            "--file",
            "flag-dependencies.yaml",
            "--environment",
            "production",
        ])
        .ok();
}

#[test]
fn completions_and_the_reference_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let run = ff_as(
            "http://127.0.0.1:9",
            "none",
            dir.path(),
            &["completions", shell],
        )
        .ok();
        assert!(run.stdout.contains("emergency-disable"), "{shell}");
    }
    let generated = ff_as("http://127.0.0.1:9", "none", dir.path(), &["docs"])
        .ok()
        .stdout;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CLI.md");
    if std::env::var_os("UPDATE_CLI_DOCS").is_some() {
        std::fs::write(&file, &generated).unwrap();
    }
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        current == generated,
        "docs/CLI.md is stale: run `UPDATE_CLI_DOCS=1 cargo test -p feature-flags --test cli reference`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_prints_new_entries() {
    use std::io::{BufRead, BufReader};
    let setup = Setup::new().await;
    let mut follower = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .args(["audit", "--follow", "--action", "flag.create"])
        .env("FEATURE_FLAGS_URL", &setup.server.url)
        .env("FEATURE_FLAGS_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The first page (a table, empty here) comes first; then the change.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    setup
        .create_flag(json!({"flag_id": "followed_flag", "default_value": true}))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut seen = Vec::new();
    let found = loop {
        match received.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) if line.contains("followed_flag") => break true,
            Ok(line) => seen.push(line),
            Err(_) if std::time::Instant::now() > deadline => break false,
            Err(_) => {}
        }
    };
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(found, "no entry for the new flag; saw: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_managed_with_passwords_on_standard_input() {
    let setup = Setup::new().await;
    let with_input = |args: &[&str], input: &str| {
        crate::support::ff_input(
            &setup.server.url,
            ADMIN_TOKEN,
            setup.dir.path(),
            args,
            input,
        )
    };
    let create = [
        "users",
        "create",
        "--email",
        "Ada@Example.com",
        "--name",
        "Ada Lovelace",
        "--role",
        "editor",
    ];
    let created = with_input(&create, "correct horse battery\n").ok();
    assert!(
        created.stdout.contains("created ada@example.com (editor)"),
        "{}",
        created.stdout
    );
    // No password, a short one, or the same email again: refused, with the reason.
    let empty = with_input(&create, "").code(7);
    assert!(empty.stderr.contains("standard input"), "{}", empty.stderr);
    let weak = with_input(&create, "short\n").code(7);
    assert!(
        weak.stderr.contains("at least 10 characters"),
        "{}",
        weak.stderr
    );
    with_input(&create, "correct horse battery\n").code(6);

    let list = setup.ff(&["users", "list", "-o", "json"]).ok().json();
    let users = list["items"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "ada@example.com");
    assert!(!list.to_string().contains("argon2"));
    let table = setup.ff(&["users", "list"]).ok();
    assert!(
        table.stdout.contains("Ada Lovelace") && table.stdout.contains("active"),
        "{}",
        table.stdout
    );

    let updated = setup
        .ff(&[
            "users",
            "update",
            "ada@example.com",
            "--role",
            "approver",
            "--disable",
        ])
        .ok();
    assert!(
        updated.stdout.contains("approver, disabled"),
        "{}",
        updated.stdout
    );
    setup.ff(&["users", "update", "ada@example.com"]).code(7);
    setup
        .ff(&["users", "update", "nobody@example.com", "--enable"])
        .code(5);

    // The password given on standard input is the one that signs in.
    with_input(
        &[
            "users",
            "update",
            "ada@example.com",
            "--enable",
            "--password-stdin",
        ],
        "a new long password\n",
    )
    .ok();
    let client = reqwest::Client::new();
    let sign_in = |password: &str| {
        client
            .post(format!("{}/api/v1/sessions", setup.server.url))
            .json(&json!({"email": "ada@example.com", "password": password}))
            .send()
    };
    assert_eq!(sign_in("a new long password").await.unwrap().status(), 201);
    assert_eq!(
        sign_in("correct horse battery").await.unwrap().status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_experiments_and_privacy_requests_from_the_command_line() {
    let setup = Setup::new().await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", setup.server.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("x-change-reason", "cli test")
            .json(&body)
            .send()
    };
    assert!(post("/api/v1/flags", json!({
        "flag_id": "theme", "type": "string", "default_value": "a", "variants": {"a": "a", "b": "b"},
        "targeting_rules": [{"conditions": [], "variants": [{"variant": "a", "weight": 50}, {"variant": "b", "weight": 50}]}],
        "environments": {"development": "a"}
    })).await.unwrap().status().is_success());
    setup
        .ff(&[
            "experiments",
            "create",
            "theme_test",
            "--flag",
            "theme",
            "--env",
            "development",
            "--control",
            "a",
            "--metric",
            "signup",
            "--secondary",
            "revenue:numeric",
        ])
        .ok();
    for i in 0..20 {
        let reply = post(
            "/api/v1/evaluate",
            json!({"flag_id": "theme", "environment": "development",
                                                     "context": {"user_id": format!("u{i}")}}),
        )
        .await
        .unwrap();
        assert_eq!(reply.status(), 200);
    }
    post(
        "/api/v1/track",
        json!({"events": [{"event": "signup", "user_id": "u1"},
                                            {"event": "revenue", "user_id": "u1", "value": 9.5}]}),
    )
    .await
    .unwrap();

    let metrics = setup
        .ff(&["metrics", "theme", "--env", "development", "--since", "2h"])
        .ok();
    assert!(
        metrics.stdout.contains("20 evaluations of theme"),
        "{}",
        metrics.stdout
    );
    assert!(metrics.stdout.contains('█'), "a chart: {}", metrics.stdout);
    assert!(metrics.stdout.contains("SPLIT"), "{}", metrics.stdout);
    setup.ff(&["metrics", "theme", "--since", "soon"]).code(7);

    let list = setup.ff(&["experiments", "list"]).ok();
    assert!(
        list.stdout.contains("theme_test") && list.stdout.contains("running"),
        "{}",
        list.stdout
    );
    let results = setup.ff(&["experiments", "results", "theme_test"]).ok();
    assert!(
        results.stdout.contains("not enough data"),
        "{}",
        results.stdout
    );
    assert!(
        results.stdout.contains("signup (conversion)")
            && results.stdout.contains("revenue (numeric)"),
        "{}",
        results.stdout
    );
    let json = setup
        .ff(&["experiments", "results", "theme_test", "-o", "json"])
        .ok()
        .json();
    let users: u64 = json["metrics"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposed_users"].as_u64().unwrap())
        .sum();
    assert_eq!(users, 20);
    setup.ff(&["experiments", "stop", "theme_test"]).ok();

    let export = setup.ff(&["subjects", "export", "u1"]).ok().json();
    assert_eq!(export["events"].as_array().unwrap().len(), 2);
    assert_eq!(export["exposures"].as_array().unwrap().len(), 1);
    // Erasing asks first; scripts pass --yes.
    setup.ff(&["subjects", "erase", "u1"]).code(2);
    let erased = setup.ff(&["subjects", "erase", "u1", "--yes"]).ok();
    assert!(
        erased.stdout.contains("erased 1 exposures and 2 events"),
        "{}",
        erased.stdout
    );
    let after = setup.ff(&["subjects", "export", "u1"]).ok().json();
    assert_eq!(after["events"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_references_are_found_in_a_tree() {
    let setup = Setup::new().await;
    for flag in ["new_checkout", "dark_mode", "unused_flag"] {
        let file = format!("{flag}.json");
        setup.write(
            &file,
            &format!(r#"{{"flag_id": "{flag}", "default_value": false}}"#),
        );
        setup.ff(&["flags", "create", "-f", &file]).ok();
    }
    let tree = setup.dir.path().join("repo");
    let write = |path: &str, text: &str| {
        let path = tree.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    std::fs::create_dir_all(tree.join(".git")).unwrap();
    write(".gitignore", "generated/\n");
    write(
        "android/app/Main.kt",
        "if (flags.isEnabled(\"new_checkout\")) show()\n",
    );
    write(
        "backend/api.py",
        "import x\n\nif await flags.is_enabled(\"dark_mode\"):\n    pass\nnew_checkout_v2 = 1\n",
    );
    write("generated/Flags.kt", "\"unused_flag\"\n");
    let tree_path = tree.to_str().unwrap();

    let found = setup
        .ff(&["code-refs", tree_path, "-o", "json"])
        .ok()
        .json();
    assert_eq!(found["files_scanned"], 2, "{found}");
    assert_eq!(
        found["references"]["new_checkout"],
        json!([{"path": "android/app/Main.kt", "line": 1}])
    );
    assert_eq!(
        found["references"]["dark_mode"],
        json!([{"path": "backend/api.py", "line": 3}])
    );
    assert_eq!(found["unreferenced"], json!(["unused_flag"]));
    let table = setup.ff(&["code-refs", tree_path]).ok();
    assert!(
        table.stdout.contains("android/app/Main.kt:1"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("2 flags referenced in 2 files scanned; 1 not referenced: unused_flag"),
        "{}",
        table.stdout
    );
    // Keys given on the command line need no service.
    let offline = setup
        .ff(&[
            "code-refs",
            tree_path,
            "--key",
            "dark_mode",
            "--url",
            "http://127.0.0.1:9",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(offline["references"].as_object().unwrap().len(), 1);
    // Against the stale list (none is stale yet).
    let stale = setup.ff(&["code-refs", tree_path, "--stale"]).ok();
    assert!(
        stale.stdout.contains("0 stale flags still have references"),
        "{}",
        stale.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_registered_tested_and_removed() {
    let setup = Setup::new().await;
    // Nothing listens on port 9 (discard): the ping fails and says why.
    let created = setup
        .ff(&[
            "webhooks",
            "create",
            "http://127.0.0.1:9/hook",
            "--event",
            "flag.killed,flag.changed",
            "--environment",
            "production",
            "--format",
            "slack",
        ])
        .ok();
    let secret = created.stdout.trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{}", created.stdout);
    let listed = setup.ff(&["webhooks", "list", "-o", "json"]).ok().json();
    let Some(endpoint) = listed["items"].as_array().and_then(|items| items.first()) else {
        panic!("no endpoint listed: {listed}");
    };
    assert_eq!(endpoint["events"], json!(["flag.killed", "flag.changed"]));
    assert_eq!(endpoint["environments"], json!(["production"]));
    assert_eq!(endpoint["format"], "slack");
    assert!(endpoint.get("secret").is_none(), "{endpoint}");
    let Some(id) = endpoint["id"].as_str() else {
        panic!("no id: {endpoint}");
    };
    let table = setup.ff(&["webhooks", "list"]).ok();
    assert!(table.stdout.contains(id), "{}", table.stdout);
    let ping = setup
        .ff(&["webhooks", "test", id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(ping["event"], "ping");
    let deliveries = setup
        .ff(&["webhooks", "deliveries", id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(deliveries["items"].as_array().map(Vec::len), Some(1));
    setup.ff(&["webhooks", "deliveries", id]).ok();
    // Bad input is refused with the invalid-input exit code.
    setup
        .ff(&["webhooks", "create", "ftp://x", "--event", "flag.killed"])
        .code(7);
    setup
        .ff(&["webhooks", "create", "http://x", "--event", "flag.exploded"])
        .code(7);
    setup.ff(&["webhooks", "delete", id]).ok();
    setup.ff(&["webhooks", "delete", id]).code(5);
}
