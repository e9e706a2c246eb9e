//! `feature-flags serve` refuses settings that would start it unsafely,
//! saying why, before it touches the database.

use std::process::Stdio;
use std::time::Duration;

use crate::support::free_port;

/// Runs `serve` with the admin token `token`; returns its exit status and
/// what it wrote on stderr. It must exit by itself.
async fn serve_with_token(token: &str) -> (std::process::ExitStatus, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("flags.db");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .arg("serve")
        .args(["--bind", "127.0.0.1", "--port", &free_port().to_string()])
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .env("FEATURE_FLAGS_ADMIN_TOKEN", token)
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // A generous bound: a refused setting ends the process at once, a
    // wrongly accepted one would serve until killed.
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("serve exits when its admin token is refused")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status, stderr, database.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_or_padded_admin_tokens_are_refused_at_start() {
    for (token, says) in [
        ("", "0 characters"),
        ("admin", "5 characters"),
        (
            " ff_admin_0123456789abcdef0123456789abcdef",
            "spaces or a newline",
        ),
        (
            "ff_admin_0123456789abcdef0123456789abcdef\n",
            "spaces or a newline",
        ),
    ] {
        let (status, stderr, database_created) = serve_with_token(token).await;
        assert!(!status.success(), "{token:?} was accepted");
        assert!(stderr.contains(says), "{token:?}: {stderr}");
        assert!(stderr.contains("FEATURE_FLAGS_ADMIN_TOKEN"), "{stderr}");
        assert!(
            !database_created,
            "{token:?}: a database was created with an unusable key"
        );
    }
}

/// Starts `serve` with `settings`, waits until it answers, stops it and
/// returns what it logged on standard output.
async fn logs_of(database_url: &str, settings: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .arg("serve")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", database_url)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .envs(settings.iter().copied())
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = crate::support::client();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !http.get(&url).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let mut stdout = child.stdout.take().unwrap();
    let mut logged = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut logged),
    )
    .await
    .expect("serve stops on SIGTERM")
    .unwrap();
    logged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_have_no_colour_codes_or_passwords_off_a_terminal() {
    // PostgreSQL takes a password as a query parameter too (trust
    // authentication here ignores it).
    let Some(database) = ff_testkit::scratch_postgres().await else {
        return;
    };
    let url = format!("{}?password=hunter2-in-the-url", database.url());
    let text = logs_of(&url, &[]).await;
    assert!(text.contains("serving"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in a pipe: {text:?}");
    assert!(!text.contains("hunter2"), "a password was logged: {text}");
    assert!(text.contains("password=<redacted>"), "{text}");

    let json = logs_of(&url, &[("FEATURE_FLAGS_LOG_FORMAT", "json")]).await;
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "serving" && line["level"] == "INFO"),
        "{json}"
    );
    assert!(!json.contains("hunter2"), "a password was logged: {json}");
    database.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelt_settings_are_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("flags.db").display());
    let text = logs_of(
        &url,
        &[
            ("FEATURE_FLAGS_RATE_LIMT", "10"),
            ("FEATURE_FLAGS_RATE_BURST", "20"),
        ],
    )
    .await;
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert!(
        warnings.iter().any(|line| line.contains(
            "FEATURE_FLAGS_RATE_LIMT is not a setting; did you mean FEATURE_FLAGS_RATE_LIMIT?"
        )),
        "{text}"
    );
    // A setting that exists is not warned about.
    assert!(
        !warnings
            .iter()
            .any(|line| line.contains("FEATURE_FLAGS_RATE_BURST")),
        "{text}"
    );
}
