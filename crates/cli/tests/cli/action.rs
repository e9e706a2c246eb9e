//! The GitHub action's script (`actions/setup-flags/setup.sh`), run the way
//! the runner runs it: inputs in the environment, a `$GITHUB_ENV` file to
//! append to. Offline from flag files, and online from a running service.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, free_port, start};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../actions/setup-flags/setup.sh")
}

/// Runs the script in `workspace` with `inputs`; returns the exported
/// variables and the exit status.
fn run(workspace: &Path, inputs: &[(&str, &str)]) -> (bool, Vec<(String, String)>, String) {
    let github_env = workspace.join("github_env");
    std::fs::write(&github_env, "").unwrap();
    let output = Command::new("bash")
        .arg(script())
        .envs(inputs.iter().copied())
        .env("GITHUB_ENV", &github_env)
        .env("GITHUB_WORKSPACE", workspace)
        .env("RUNNER_TEMP", workspace)
        .env("FEATURE_FLAGS_BIN", env!("CARGO_BIN_EXE_feature-flags"))
        .env_remove("FEATURE_FLAGS_URL")
        .env_remove("FEATURE_FLAGS_TOKEN")
        .output()
        .unwrap();
    let exported = std::fs::read_to_string(&github_env)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (
        output.status.success(),
        exported,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn snapshot_of(exported: &[(String, String)]) -> Value {
    let path = &exported
        .iter()
        .find(|(k, _)| k == "FEATURE_FLAGS_OFFLINE_FILE")
        .expect("exported")
        .1;
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn offline_from_the_repository_flag_files() {
    let workspace = tempfile::tempdir().unwrap();
    let flags = workspace.path().join("feature-flags/flags");
    std::fs::create_dir_all(&flags).unwrap();
    std::fs::write(
        flags.join("new_payment_flow.json"),
        r#"{"flag_id": "new_payment_flow", "type": "boolean", "default_value": false,
            "environments": {"development": true, "staging": true, "production": false}}"#,
    )
    .unwrap();
    std::fs::write(
        flags.join("max_items.yaml"),
        "flag_id: max_items_per_page\ndefault_value: 20\nenvironments: {production: 50}\n",
    )
    .unwrap();

    for (scenario, payment, items) in [
        ("all_flags_off", false, 20),
        ("all_flags_on", true, 20),
        ("production_flags", false, 50),
    ] {
        let (ok, exported, stderr) = run(workspace.path(), &[("INPUT_SCENARIO", scenario)]);
        assert!(ok, "{scenario}: {stderr}");
        assert!(exported.contains(&("FEATURE_FLAGS_SCENARIO".to_owned(), scenario.to_owned())));
        let snapshot = snapshot_of(&exported);
        assert_eq!(snapshot["scenario"], scenario);
        assert_eq!(
            snapshot["flags"]["new_payment_flow"]["value"], payment,
            "{scenario}"
        );
        assert_eq!(
            snapshot["flags"]["max_items_per_page"]["value"], items,
            "{scenario}"
        );
    }

    // Nothing to read: a clear failure, nothing exported.
    let empty = tempfile::tempdir().unwrap();
    let (ok, exported, stderr) = run(empty.path(), &[("INPUT_SCENARIO", "all_flags_on")]);
    assert!(!ok);
    assert!(exported.is_empty());
    assert!(stderr.contains("no flags to read"), "{stderr}");
    let (ok, _, stderr) = run(workspace.path(), &[]);
    assert!(
        !ok && stderr.contains("scenario input is required"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_from_a_running_service() {
    let workspace = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", workspace.path().join("flags.db").display());
    let server = start(&database, free_port(), workspace.path()).await;
    let created = crate::support::client()
        .post(format!("{}/api/v1/flags", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"flag_id": "ui_theme_config", "type": "json", "default_value": {"theme": "light"},
                      "environments": {"production": {"theme": "dark"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (ok, exported, stderr) = run(
        workspace.path(),
        &[
            ("INPUT_SCENARIO", "production_flags"),
            ("INPUT_URL", &server.url),
            ("INPUT_TOKEN", ADMIN_TOKEN),
        ],
    );
    assert!(ok, "{stderr}");
    let snapshot = snapshot_of(&exported);
    assert_eq!(snapshot["environment"], "production");
    assert_eq!(
        snapshot["flags"]["ui_theme_config"]["value"],
        json!({"theme": "dark"})
    );
}
