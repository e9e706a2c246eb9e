//! Writes that must do what they say or fail loudly: `flags enable` where
//! the environment inherits a disabled entry, lost updates (`If-Match`),
//! `deploy` under production's rules, and `flags edit`'s question.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Proxy, Setup, client, ff_as, ff_env, ff_tty};

/// What `evaluate -o json` answers for a flag in an environment.
fn evaluated(setup: &Setup, flag: &str, env: &str) -> Value {
    setup
        .ff(&["evaluate", "--flag", flag, "--env", env, "-o", "json"])
        .ok()
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_turns_on_a_flag_that_inherits_a_disabled_entry() {
    let setup = Setup::new().await;
    // staging has no entry of its own and follows development (auto_sync),
    // where the flag is killed.
    setup
        .create_flag(json!({"flag_id": "search_v2", "default_value": true,
                   "environments": {"development": {"enabled": false}}}))
        .await;
    assert_eq!(evaluated(&setup, "search_v2", "staging")["value"], false);

    let run = setup
        .ff(&["flags", "enable", "search_v2", "--environment", "staging"])
        .ok();
    assert!(
        run.stdout.contains("no longer inherits from development"),
        "{}",
        run.stdout
    );
    let flag = setup.flag("search_v2").await;
    assert_eq!(
        flag["environments"]["staging"],
        json!({"value": true, "targeting_rules": []}),
        "what development serves when on, as staging's own entry"
    );
    assert_eq!(
        flag["environments"]["development"],
        json!({"enabled": false}),
        "development is left as it was"
    );
    assert_eq!(evaluated(&setup, "search_v2", "staging")["value"], true);

    // Asked again: nothing to write.
    let again = setup
        .ff(&["flags", "enable", "search_v2", "--environment", "staging"])
        .ok();
    assert!(again.stdout.contains("already on"), "{}", again.stdout);
    assert_eq!(setup.flag("search_v2").await["version"], flag["version"]);

    // An own `enabled: false` is not simply removed when what staging would
    // then inherit is off too.
    setup
        .create_flag(json!({"flag_id": "banner", "default_value": true,
                   "environments": {"development": {"enabled": false}, "staging": {"enabled": false}}}))
        .await;
    setup
        .ff(&["flags", "enable", "banner", "--environment", "staging"])
        .ok();
    assert_eq!(
        setup.flag("banner").await["environments"]["staging"],
        json!({"enabled": true})
    );
    assert_eq!(evaluated(&setup, "banner", "staging")["value"], true);
    // Where the parent is on, enabling removes the entry: it inherits again.
    setup
        .ff(&["flags", "enable", "banner", "--environment", "development"])
        .ok();
    setup
        .ff(&["flags", "disable", "banner", "--environment", "staging"])
        .ok();
    let run = setup
        .ff(&["flags", "enable", "banner", "--environment", "staging"])
        .ok();
    assert!(run.stdout.contains("inherits again"), "{}", run.stdout);
    assert!(
        setup.flag("banner").await["environments"]
            .get("staging")
            .is_none()
    );
    assert_eq!(evaluated(&setup, "banner", "staging")["value"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_between_read_and_write_is_a_conflict() {
    let setup = Setup::new().await;
    setup
        .create_flag(json!({"flag_id": "checkout", "default_value": false}))
        .await;
    // Someone else changes the flag after the CLI read it, before it writes.
    let interfered = Arc::new(AtomicBool::new(false));
    let upstream = setup.server.url.clone();
    let proxy = Proxy::start(&setup.server.url, {
        let interfered = interfered.clone();
        move |seen| {
            let upstream = upstream.clone();
            let first = seen.method == "POST" && !interfered.swap(true, Ordering::SeqCst);
            async move {
                if first {
                    let response = client()
                        .patch(format!("{upstream}/api/v1/flags/checkout"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&json!({"description": "changed meanwhile"}))
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success());
                }
            }
        }
    })
    .await;
    let set = [
        "flags",
        "set-value",
        "checkout",
        "--environment",
        "staging",
        "true",
    ];
    let lost = ff_as(&proxy.url, ADMIN_TOKEN, setup.dir.path(), &set).code(6);
    assert!(
        lost.stderr.contains("changed by someone else"),
        "{}",
        lost.stderr
    );
    let write = proxy
        .seen()
        .into_iter()
        .find(|s| s.method == "POST")
        .unwrap();
    assert_eq!(write.header("if-match"), Some("\"1\""), "the version read");
    let flag = setup.flag("checkout").await;
    assert_eq!(flag["description"], "changed meanwhile", "not overwritten");
    assert!(flag["environments"].get("staging").is_none());

    // Run again (nobody in between): it applies onto the latest version.
    ff_as(&proxy.url, ADMIN_TOKEN, setup.dir.path(), &set).ok();
    let flag = setup.flag("checkout").await;
    assert_eq!(flag["environments"]["staging"], true);
    assert_eq!(flag["description"], "changed meanwhile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_into_production_follows_its_rules() {
    let setup = Setup::new().await;
    for doc in [
        json!({"flag_id": "maintenance_mode", "default_value": true, "environments": {"production": {"enabled": false}}}),
        json!({"flag_id": "new_feature_beta", "default_value": true}),
        json!({"flag_id": "beta_dashboard", "default_value": true, "depends_on": [{"flag": "new_feature_beta"}]}),
        json!({"flag_id": "payment_system", "default_value": true, "environments": {"production": {"enabled": false}}}),
    ] {
        setup.create_flag(doc).await;
    }
    setup.write("deployment.yaml", "deployment:\n  pre_deploy:\n    - enable_flag: \"maintenance_mode\"\n    - disable_flag: \"new_feature_beta\"\n  post_deploy:\n    - verify_flags: [\"payment_system\"]\n");
    let deploy = |phase: &str, more: &[&str]| {
        let mut args = vec![
            "deploy",
            "--file",
            "deployment.yaml",
            "--phase",
            phase,
            "--deployment-id",
            "deploy-7",
            "--environment",
            "production",
        ];
        args.extend_from_slice(more);
        setup.ff(&args)
    };

    // Production is protected: turning off new_feature_beta, which another
    // flag depends on, needs a confirmation (a conflict, with its hint).
    let unconfirmed = deploy("pre", &["--reason", "release 7"]).code(6);
    assert!(
        unconfirmed.stderr.contains("--confirm") && !unconfirmed.stderr.contains("nothing applied"),
        "{}",
        unconfirmed.stderr
    );
    // Production requires approval: held as a change request.
    let held = deploy("pre", &["--reason", "release 7", "--confirm"]).code(8);
    assert!(
        held.stdout
            .contains("held for approval as change request cr_"),
        "{}",
        held.stdout
    );
    assert_eq!(
        setup.flag("maintenance_mode").await["environments"]["production"],
        json!({"enabled": false}),
        "nothing applied before approval"
    );
    let approver = setup.approver("approver");
    let pending = setup.newest_pending();
    let id = pending["id"].as_str().unwrap().to_owned();
    assert!(held.stdout.contains(&id), "{}", held.stdout);
    assert_eq!(pending["reason"], "release 7");
    setup
        .ff_with(&approver, &["change-requests", "approve", &id])
        .ok();
    assert!(
        setup.flag("maintenance_mode").await["environments"]
            .get("production")
            .is_none(),
        "maintenance on in production"
    );
    assert_eq!(
        setup.flag("new_feature_beta").await["environments"]["production"],
        json!({"enabled": false})
    );

    // Only a failed verification is "failed, nothing applied" (exit 1).
    let failed = deploy("post", &["--reason", "release 7"]).code(1);
    assert!(
        failed.stderr.contains("nothing applied") && failed.stderr.contains("payment_system"),
        "{}",
        failed.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_asks_and_prints_through_the_output_options() {
    let setup = Setup::new().await;
    setup
        .create_flag(json!({"flag_id": "beta", "default_value": false}))
        .await;
    let editor = [(
        "EDITOR",
        r#"sed -i 's/"flag_id": "beta",/"flag_id": "beta", "description": "edited",/'"#,
    )];
    let dir = setup.dir.path();

    // On a terminal, without --yes: the diff, the question; "n" changes nothing.
    let declined = ff_tty(
        &setup.server.url,
        dir,
        &["flags", "edit", "beta"],
        &editor,
        "n\n",
    );
    let declined = declined.code(1);
    assert!(
        declined.stdout.contains("description:  -> edited")
            && declined.stdout.contains("apply these changes? [y/N]")
            && declined.stdout.contains("nothing changed"),
        "{}",
        declined.stdout
    );
    assert!(setup.flag("beta").await.get("description").is_none());
    let accepted = ff_tty(
        &setup.server.url,
        dir,
        &["flags", "edit", "beta"],
        &editor,
        "y\n",
    );
    let accepted = accepted.ok();
    assert!(
        accepted.stdout.contains("beta is now version 2"),
        "{}",
        accepted.stdout
    );
    assert_eq!(setup.flag("beta").await["description"], "edited");

    // -o json prints the document only; -q nothing.
    let editor = [(
        "EDITOR",
        r#"sed -i 's/"description": "edited"/"description": "again"/'"#,
    )];
    let json_run = ff_env(
        &setup.server.url,
        ADMIN_TOKEN,
        dir,
        &["flags", "edit", "beta", "--yes", "-o", "json"],
        &editor,
    )
    .ok();
    assert_eq!(json_run.json()["description"], "again");
    let editor = [(
        "EDITOR",
        r#"sed -i 's/"description": "again"/"description": "quiet"/'"#,
    )];
    let quiet = ff_env(
        &setup.server.url,
        ADMIN_TOKEN,
        dir,
        &["flags", "edit", "beta", "--yes", "-q"],
        &editor,
    )
    .ok();
    assert_eq!(quiet.stdout, "");
    assert_eq!(setup.flag("beta").await["description"], "quiet");
}
