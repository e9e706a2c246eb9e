//! What the CLI shows when the service refuses, what it prints where no one
//! looks at a terminal, whole-document imports, and where a saved key goes.

use std::process::Command;

use serde_json::json;

use crate::support::{ADMIN_TOKEN, Proxy, Setup, ff_tty};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_validation_problems_are_listed_with_their_paths() {
    let setup = Setup::new().await;
    // Well-formed, so only the service can tell: the segment does not exist.
    setup.write(
        "vip.json",
        r#"{"flag_id": "vip_banner", "default_value": false, "targeting_rules": [
            {"name": "vips", "value": true,
             "conditions": [{"operator": "in_segment", "value": "no_such_segment"}]}]}"#,
    );
    let refused = setup.ff(&["flags", "create", "-f", "vip.json"]).code(7);
    assert!(
        refused
            .stderr
            .contains("the service refused it: 1 problem(s)"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("error: targeting_rules[0].conditions[0]")
            && refused.stderr.contains("no_such_segment"),
        "{}",
        refused.stderr
    );
    assert_eq!(setup.flag("vip_banner").await["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_a_version_number() {
    let setup = Setup::new().await;
    setup.write(
        "payment.json",
        r#"{"flag_id": "payment_processing_v2", "default_value": false, "environments": {"production": true}}"#,
    );
    setup.ff(&["flags", "create", "-f", "payment.json"]).ok();
    setup
        .ff(&[
            "emergency-disable",
            "--flag",
            "payment_processing_v2",
            "--environment",
            "production",
        ])
        .ok();
    let run = setup
        .ff(&[
            "rollback",
            "--flag",
            "payment_processing_v2",
            "--environment",
            "production",
            "--to-version",
            "1",
        ])
        .code(8);
    assert!(
        run.stdout.contains("held for approval as change request"),
        "turning it back on in production is held: {}",
        run.stdout
    );
    let approver = setup.approver("approver");
    let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
    setup
        .ff_with(&approver, &["change-requests", "approve", &id])
        .ok();
    assert_eq!(
        setup.flag("payment_processing_v2").await["environments"]["production"],
        true
    );
    // Rolling back to the killed version turns it off: an emergency
    // procedure, applied at once.
    let run = setup
        .ff(&[
            "rollback",
            "--flag",
            "payment_processing_v2",
            "--environment",
            "production",
            "--to-version",
            "2",
        ])
        .ok();
    assert!(
        run.stdout
            .contains("payment_processing_v2 rolled back to 2 in production (now version 4)"),
        "{}",
        run.stdout
    );
    // A version the flag never had.
    setup
        .ff(&[
            "rollback",
            "--flag",
            "payment_processing_v2",
            "--to-version",
            "99",
        ])
        .code(5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_on_a_terminal() {
    let setup = Setup::new().await;
    setup
        .create_flag(json!({"flag_id": "dark_mode", "default_value": false}))
        .await;
    let piped = setup.ff(&["flags", "list"]).ok();
    assert!(piped.stdout.contains("dark_mode"), "{}", piped.stdout);
    assert!(!piped.stdout.contains('\u{1b}'), "{:?}", piped.stdout);
    let piped = setup.ff(&["flags", "get", "nope"]).code(5);
    assert!(!piped.stderr.contains('\u{1b}'), "{:?}", piped.stderr);
    // The same table on a terminal is coloured ("false" in red): the check
    // above is about the output being piped, not about a table without colour.
    let tty = ff_tty(
        &setup.server.url,
        setup.dir.path(),
        &["flags", "list"],
        &[],
        "",
    )
    .ok();
    assert!(
        tty.stdout.contains("dark_mode") && tty.stdout.contains("\u{1b}["),
        "{:?}",
        tty.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_applies_a_document_and_prune_deletes() {
    let setup = Setup::new().await;
    for flag in ["kept_flag", "dropped_flag"] {
        setup
            .create_flag(json!({"flag_id": flag, "default_value": false}))
            .await;
    }
    setup
        .ff(&["export", "--format", "json", "--out", "export.json"])
        .ok();
    let mut document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(setup.dir.path().join("export.json")).unwrap(),
    )
    .unwrap();
    let flags = document["flags"].as_array_mut().unwrap();
    flags.retain(|f| f["flag_id"] != "dropped_flag");
    flags.push(json!({"flag_id": "imported_flag", "default_value": true}));
    setup.write("import.json", &document.to_string());

    // Without --prune: the new flag, nothing deleted.
    let run = setup.ff(&["import", "-f", "import.json"]).ok();
    assert!(run.stdout.contains("applied at revision"), "{}", run.stdout);
    assert_eq!(setup.flag("imported_flag").await["default_value"], true);
    assert!(setup.flag("dropped_flag").await.get("deleted").is_none());

    // With --prune: the flag the file does not have is deleted (restorable)
    // — in production too, which is protected and requires approval.
    let prune = ["import", "-f", "import.json", "--prune"];
    let plan = setup.ff(&prune).code(7);
    assert!(
        plan.stdout.contains("delete") && plan.stdout.contains("dropped_flag"),
        "the plan first: {}",
        plan.stdout
    );
    assert!(plan.stderr.contains("--reason"), "{}", plan.stderr);
    let held = setup
        .ff(&[&prune[..], &["--reason", "cleanup", "--confirm"]].concat())
        .code(8);
    assert!(
        held.stdout.contains("change request cr_"),
        "{}",
        held.stdout
    );
    assert!(setup.flag("dropped_flag").await.get("deleted").is_none());
    let approver = setup.approver("approver");
    let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
    setup
        .ff_with(&approver, &["change-requests", "approve", &id])
        .ok();
    assert_eq!(setup.flag("dropped_flag").await["deleted"], true);
    assert!(setup.flag("kept_flag").await.get("deleted").is_none());
    let deleted = setup
        .ff(&["flags", "list", "--deleted", "-o", "json"])
        .ok()
        .json();
    assert_eq!(deleted["items"][0]["flag_id"], "dropped_flag");

    // `flags restore` brings it back, under the same rules.
    let held = setup
        .ff(&["flags", "restore", "dropped_flag", "--reason", "still used"])
        .code(8);
    assert!(
        held.stdout.contains("change request cr_"),
        "{}",
        held.stdout
    );
    let id = setup.newest_pending()["id"].as_str().unwrap().to_owned();
    setup
        .ff_with(&approver, &["change-requests", "approve", &id])
        .ok();
    assert!(setup.flag("dropped_flag").await.get("deleted").is_none());
    setup.ff(&["flags", "restore", "kept_flag"]).code(6); // not deleted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiles_key_is_only_sent_to_its_own_service() {
    let setup = Setup::new().await;
    let profiles = setup.dir.path().join("profiles");
    let ff = |args: &[&str], token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_feature-flags"));
        command
            .args(args)
            .env("XDG_CONFIG_HOME", &profiles)
            .env_remove("FEATURE_FLAGS_URL")
            .env_remove("FEATURE_FLAGS_TOKEN")
            .env_remove("FEATURE_FLAGS_PROFILE");
        if let Some(token) = token {
            command.env("FEATURE_FLAGS_TOKEN", token);
        }
        command.output().unwrap()
    };
    let login = ff(
        &["login", "--name", "prod", "--url", &setup.server.url],
        Some(ADMIN_TOKEN),
    );
    assert!(login.status.success(), "{login:?}");
    // Another service (here a recording proxy in front of the same one).
    let other = Proxy::start(&setup.server.url, |_| async {}).await;

    let refused = ff(&["flags", "list", "--url", &other.url], None);
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    let seen = other.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), None, "the key stayed home");

    // A key given for that URL is sent to it.
    ff(&["flags", "list", "--url", &other.url], Some(ADMIN_TOKEN));
    assert_eq!(
        other.seen()[1].header("authorization"),
        Some(format!("Bearer {ADMIN_TOKEN}").as_str())
    );
    // The profile's own URL (given or not) still gets the profile's key.
    for args in [
        &["flags", "list"][..],
        &["flags", "list", "--url", &format!("{}/", setup.server.url)],
    ] {
        let listed = ff(args, None);
        assert!(listed.status.success(), "{args:?}: {listed:?}");
    }
}
