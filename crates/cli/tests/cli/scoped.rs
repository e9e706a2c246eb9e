//! Roles scoped to environments from the command line: `keys create …
//! --environment development --environment staging`, `--environment-role
//! ENV=ROLE`, and the same for `users`.

use crate::support::{ADMIN_TOKEN, Setup, ff_input};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_users_scoped_to_environments() {
    let setup = Setup::new().await;
    let secret = setup
        .ff(&[
            "keys",
            "create",
            "--name",
            "dev editor",
            "--kind",
            "admin",
            "--role",
            "editor",
            "--environment",
            "development",
            "--environment",
            "staging",
        ])
        .ok()
        .stdout
        .trim()
        .to_owned();
    let keys = setup.ff(&["keys", "list", "-o", "json"]).ok().json();
    let scoped = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "dev editor")
        .cloned()
        .unwrap();
    assert_eq!(
        scoped["environment_roles"],
        serde_json::json!({"development": "editor", "staging": "editor"})
    );
    let table = setup.ff(&["keys", "list"]).ok().stdout;
    assert!(
        table.contains("development=editor,staging=editor"),
        "{table}"
    );

    // In scope it writes; out of scope it is refused (exit code 4), naming
    // the environment.
    setup.write(
        "dev.json",
        r#"{"flag_id": "dev_only", "default_value": false, "environments": {"development": true}}"#,
    );
    setup
        .ff_with(&secret, &["flags", "create", "-f", "dev.json"])
        .ok();
    let refused = setup
        .ff_with(
            &secret,
            &[
                "emergency-disable",
                "--flag",
                "dev_only",
                "--environment",
                "production",
            ],
        )
        .code(4);
    assert!(
        refused.stderr.contains("out of scope") && refused.stderr.contains("\"production\""),
        "{}",
        refused.stderr
    );

    // A malformed --environment-role is invalid input (exit code 7),
    // refused before any request.
    setup
        .ff(&[
            "keys",
            "create",
            "--name",
            "x",
            "--kind",
            "admin",
            "--environment-role",
            "production",
        ])
        .code(7);

    // People: a role per environment, then unscoped again.
    let dir = setup.dir.path();
    let created = ff_input(
        &setup.server.url,
        ADMIN_TOKEN,
        dir,
        &[
            "users",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana",
            "--role",
            "viewer",
            "--environment-role",
            "development=editor,production=viewer",
            "-o",
            "json",
        ],
        "correct horse battery\n",
    )
    .ok()
    .json();
    assert_eq!(
        created["environment_roles"],
        serde_json::json!({"development": "editor", "production": "viewer"})
    );
    let updated = setup
        .ff(&[
            "users",
            "update",
            "ana@example.com",
            "--unscoped",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert!(updated.get("environment_roles").is_none(), "{updated}");
}
