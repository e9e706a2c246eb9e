//! `serve --tls-cert --tls-key` as an operator starts it, and the admin
//! commands reaching it over https with `--ca-cert` / `FEATURE_FLAGS_CA_CERT`
//! (a certificate from a private CA, made here with rcgen).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{ADMIN_TOKEN, Server, ff_env, free_port, serve};

/// A private CA, a server certificate for 127.0.0.1 signed by it, and its
/// key, as PEM files in `dir`.
struct Files {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a directory: {e}"));
        let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a CA key: {e}"));
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("CA parameters: {e}"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "feature-flags CLI test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key)
            .unwrap_or_else(|e| panic!("a CA certificate: {e}"));
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a key: {e}"));
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap_or_else(|e| panic!("parameters: {e}"));
        let certificate = params
            .signed_by(&key, &ca)
            .unwrap_or_else(|e| panic!("a certificate: {e}"));
        let files = Files {
            dir,
            ca_pem: ca.pem(),
        };
        for (name, text) in [
            ("ca.pem", files.ca_pem.clone()),
            ("cert.pem", certificate.pem()),
            ("key.pem", key.serialize_pem()),
        ] {
            std::fs::write(files.path(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client that trusts the CA.
    fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())
            .unwrap_or_else(|e| panic!("the CA: {e}"));
        reqwest::Client::builder()
            .tls_certs_merge([ca])
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("a client: {e}"))
    }
}

/// Starts `serve` with the TLS files in the environment and waits until it
/// answers over https.
async fn start_https(files: &Files) -> Server {
    let database = format!("sqlite://{}", files.path("flags.db").display());
    serve(&database, files.dir.path())
        .setting("FEATURE_FLAGS_TLS_CERT", files.path("cert.pem"))
        .setting("FEATURE_FLAGS_TLS_KEY", files.path("key.pem"))
        .https(files.client())
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_over_https_with_a_private_ca() {
    let files = Files::new();
    let server = start_https(&files).await;
    let dir = files.dir.path();
    let ca = files.path("ca.pem");
    let ca = ca.to_str().unwrap_or_else(|| panic!("a UTF-8 path"));

    // curl, trusting the CA, is answered over HTTP/2.
    let curl = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "--http2"])
        .args(["--cacert", ca, "-w", "\n%{http_version}"])
        .arg(format!("{}/health/ready", server.url))
        .output()
        .unwrap_or_else(|e| panic!("curl runs: {e}"));
    let answer = String::from_utf8_lossy(&curl.stdout);
    assert!(curl.status.success(), "{answer}");
    assert!(answer.ends_with("\n2"), "{answer}");

    // The CLI with the CA from the environment, then as an option.
    let document = r#"{"flag_id": "over_https", "type": "boolean", "default_value": false}"#;
    std::fs::write(dir.join("over_https.json"), document)
        .unwrap_or_else(|e| panic!("a flag file: {e}"));
    let created = ff_env(
        &server.url,
        ADMIN_TOKEN,
        dir,
        &["flags", "create", "-f", "over_https.json"],
        &[("FEATURE_FLAGS_CA_CERT", ca)],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let listed = ff_env(
        &server.url,
        ADMIN_TOKEN,
        dir,
        &["--ca-cert", ca, "flags", "list", "-o", "json"],
        &[],
    )
    .ok();
    assert!(listed.stdout.contains("over_https"), "{}", listed.stdout);

    // Without the CA, the certificate is refused: the service cannot be
    // reached (exit 3), and the message says why.
    let refused = ff_env(&server.url, ADMIN_TOKEN, dir, &["flags", "list"], &[]).code(3);
    assert!(
        refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
    // A CA file that cannot be read is invalid input (exit 7).
    let missing = ff_env(
        &server.url,
        ADMIN_TOKEN,
        dir,
        &["--ca-cert", "/nonexistent/ca.pem", "flags", "list"],
        &[],
    )
    .code(7);
    assert!(
        missing.stderr.contains("cannot read the CA file"),
        "{}",
        missing.stderr
    );
}

/// Runs `serve` with `args` and the TLS settings in `env`; returns its exit
/// code and stderr. It must exit by itself.
async fn serve_refused(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .arg("serve")
        .args(["--bind", "127.0.0.1", "--port", &free_port().to_string()])
        .args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("refused.db").display()),
        )
        .env("FEATURE_FLAGS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("the binary starts: {e}"));
    let output = match tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await
    {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => panic!("waiting for serve: {error}"),
        Err(_) => panic!("serve kept running with unusable TLS settings"),
    };
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_tls_settings_stop_serve_with_a_clear_error() {
    let files = Files::new();
    let dir = files.dir.path();
    let cert = files.path("cert.pem");
    let key = files.path("key.pem");
    let cert_arg = cert.to_str().unwrap_or_else(|| panic!("a UTF-8 path"));
    // A certificate without its key is a usage error (clap's exit 2).
    let (code, stderr) = serve_refused(dir, &["--tls-cert", cert_arg], &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    // A missing file, and a key where the certificate belongs: exit 1 with
    // the reason, no panic, no database created.
    let missing = files.path("missing.pem");
    for (certificate, says) in [
        (missing.as_path(), "cannot read the TLS certificate file"),
        (key.as_path(), "holds no PEM certificate"),
    ] {
        let (code, stderr) = serve_refused(
            dir,
            &[],
            &[
                ("FEATURE_FLAGS_TLS_CERT", certificate),
                ("FEATURE_FLAGS_TLS_KEY", key.as_path()),
            ],
        )
        .await;
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!dir.join("refused.db").exists());
    }
}
