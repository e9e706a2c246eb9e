//! TLS in the binary (`--tls-cert`/`--tls-key`): a private CA and the
//! server's certificates are made here (rcgen), and the service is reached
//! with curl, reqwest and a bare rustls client: HTTP/2 and HTTP/1.1 by
//! ALPN, streams on both, HSTS and `Secure` cookies on the interface, a
//! certificate rotation under an open stream, the handshake deadline, and
//! clear errors for files that cannot be used.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ff_server::{ServeConfig, SystemClock};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    https_speaks_http2_and_http1,
    streams_deliver_changes_over_both_protocols,
    certificates_rotate_while_streams_stay_open,
    clients_that_never_speak_are_dropped,
    tls_connections_count_against_the_connection_limit,
    unusable_certificate_files_are_refused_at_start,
);

/// A bound on what takes milliseconds (see `hardening`): only a stall
/// fails it.
const RESPONSIVE: Duration = Duration::from_secs(20);

/// A private CA, and the certificate files a service is started with
/// (`cert.pem`, `key.pem`, rewritten by [`Certificates::issue`]).
struct Certificates {
    dir: tempfile::TempDir,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// The first server certificate (DER).
    first: Vec<u8>,
}

impl Certificates {
    /// A new CA, and a first server certificate (`first`, serial 1).
    fn new() -> Certificates {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a CA key: {e}"));
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("CA parameters: {e}"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "feature-flags test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(params, key)
            .unwrap_or_else(|e| panic!("a CA certificate: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a directory: {e}"));
        let mut certificates = Certificates {
            dir,
            ca,
            first: Vec::new(),
        };
        write(
            &certificates.path("ca.pem"),
            certificates.ca.pem().as_bytes(),
        );
        certificates.first = certificates.issue("first", 1);
        certificates
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server certificate for 127.0.0.1 and localhost, named `name`,
    /// with its new key: (certificate PEM, key PEM, certificate DER).
    fn make(&self, name: &str, serial: u64) -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a key: {e}"));
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap_or_else(|e| panic!("parameters: {e}"));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let certificate = params
            .signed_by(&key, &self.ca)
            .unwrap_or_else(|e| panic!("a certificate: {e}"));
        (
            certificate.pem(),
            key.serialize_pem(),
            certificate.der().to_vec(),
        )
    }

    /// Replaces `cert.pem` and `key.pem` with a new certificate (as a
    /// renewal does: each file written aside, then renamed over the old
    /// one). Returns the certificate's DER.
    fn issue(&self, name: &str, serial: u64) -> Vec<u8> {
        let (certificate, key, der) = self.make(name, serial);
        replace(&self.path("key.pem"), key.as_bytes());
        replace(&self.path("cert.pem"), certificate.as_bytes());
        der
    }

    /// Settings that serve these files.
    fn configure(&self, config: &mut ServeConfig) {
        config.tls_cert = Some(self.path("cert.pem"));
        config.tls_key = Some(self.path("key.pem"));
    }

    /// A client that trusts this CA only and follows no redirects;
    /// `http1` forbids HTTP/2.
    fn client(&self, http1: bool) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca.pem().as_bytes())
            .unwrap_or_else(|e| panic!("the CA as reqwest reads it: {e}"));
        let builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none());
        let builder = if http1 { builder.http1_only() } else { builder };
        builder.build().unwrap_or_else(|e| panic!("a client: {e}"))
    }

    /// The certificate a new TLS connection to `app` is shown (DER), read
    /// by a bare rustls client that trusts this CA.
    async fn presented(&self, app: &TestApp) -> Vec<u8> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca.der().clone())
            .unwrap_or_else(|e| panic!("the CA as a root: {e}"));
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("TLS versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(address(app))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
            .unwrap_or_else(|e| panic!("a server name: {e}"));
        let stream = connector
            .connect(name, tcp)
            .await
            .unwrap_or_else(|e| panic!("the handshake: {e}"));
        let Some([leaf, ..]) = stream.get_ref().1.peer_certificates() else {
            panic!("no certificate presented");
        };
        leaf.to_vec()
    }
}

fn write(path: &std::path::Path, contents: &[u8]) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes `contents` beside `path`, then renames it over `path`.
fn replace(path: &std::path::Path, contents: &[u8]) {
    let aside = path.with_extension("new");
    write(&aside, contents);
    std::fs::rename(&aside, path).unwrap_or_else(|e| panic!("rename {}: {e}", path.display()));
}

/// `host:port` of the app.
fn address(app: &TestApp) -> String {
    app.base
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned()
}

/// Runs curl trusting the CA only: (exit code, stdout, stderr). On a
/// blocking thread: the service runs on this test's two workers.
async fn curl(certificates: &Certificates, args: &[&str]) -> (i32, String, String) {
    let mut command = std::process::Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20", "--cacert"])
        .arg(certificates.path("ca.pem"))
        .args(args);
    run(command).await
}

/// Runs `command` on a blocking thread: (exit code, stdout, stderr).
async fn run(mut command: std::process::Command) -> (i32, String, String) {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("the command's thread: {e}"))
        .unwrap_or_else(|e| panic!("the command runs: {e}"));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Reads a response body until `wanted` appears in it; returns all read.
async fn read_until(response: &mut reqwest::Response, wanted: &str) -> String {
    let reading = async {
        let mut seen = String::new();
        while !seen.contains(wanted) {
            match response.chunk().await {
                Ok(Some(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) => panic!("the stream ended before {wanted:?}: {seen}"),
                Err(error) => panic!("the stream failed before {wanted:?}: {error}; {seen}"),
            }
        }
        seen
    };
    match tokio::time::timeout(RESPONSIVE, reading).await {
        Ok(seen) => seen,
        Err(_) => panic!("{wanted:?} did not arrive"),
    }
}

/// Opens `path` as an event stream with `key`; panics unless 200.
async fn open_stream(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    key: &str,
) -> reqwest::Response {
    let response = client
        .get(format!("{}{path}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(response.status(), 200, "GET {path}");
    response
}

async fn create_flag(client: &reqwest::Client, app: &TestApp, flag: &str) {
    let response = client
        .post(format!("{}/api/v1/flags", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&crate::support::simple_flag(flag))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/v1/flags: {e}"));
    assert_eq!(response.status(), 201, "creating {flag}");
}

async fn https_speaks_http2_and_http1(app: TestApp) {
    let certificates = Certificates::new();
    let app = app.fresh(|config| certificates.configure(config)).await;
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);
    let ready = format!("{}/health/ready", app.base);

    // curl, trusting the private CA: HTTP/2 by ALPN, and HTTP/1.1 on request.
    let (code, out, err) = curl(
        &certificates,
        &["--http2", "-w", "\n%{http_version}", &ready],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("\n2"), "{out}");
    assert!(out.contains("\"status\""), "{out}");
    let (code, out, err) = curl(
        &certificates,
        &["--http1.1", "-w", "\n%{http_version}", &ready],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("\n1.1"), "{out}");
    // Without the CA, curl refuses the certificate (60: peer certificate).
    let mut without_ca = std::process::Command::new("curl");
    without_ca.args(["--silent", "--max-time", "20", &ready]);
    let (code, _, _) = run(without_ca).await;
    assert_eq!(code, 60);
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::Client::new()
        .get(ready.replacen("https://", "http://", 1))
        .send()
        .await;
    assert!(
        plain.as_ref().is_err() || plain.as_ref().is_ok_and(|r| r.status() != 200),
        "{plain:?}"
    );

    let h2 = certificates.client(false);
    let h1 = certificates.client(true);
    for (client, version) in [
        (&h2, reqwest::Version::HTTP_2),
        (&h1, reqwest::Version::HTTP_11),
    ] {
        let response = client
            .get(&ready)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(
            (response.status().as_u16(), response.version()),
            (200, version)
        );
        // The API sends no HSTS (programs keep none); the interface does.
        assert_eq!(response.headers().get("strict-transport-security"), None);
        let page = client
            .get(format!("{}/sign-in", app.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /sign-in: {e}"));
        assert_eq!(page.status(), 200);
        assert_eq!(
            page.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000"),
            "{version:?}"
        );
    }

    // Signing in through the form over HTTP/2 (no `Host` header there:
    // the origin check reads `:authority`), without --public-url: the
    // cookie is Secure because the service itself speaks TLS.
    let created = h2
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor",
                       "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/v1/users: {e}"));
    assert_eq!(created.status(), 201);
    let origin = app.base.clone();
    let signed_in = h2
        .post(format!("{}/sign-in", app.base))
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=ed%40example.com&password=correct+horse+battery&next=%2F")
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /sign-in: {e}"));
    assert_eq!(
        (signed_in.status().as_u16(), signed_in.version()),
        (303, reqwest::Version::HTTP_2)
    );
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        signed_in
            .headers()
            .contains_key("strict-transport-security"),
        "HSTS on the interface's answers"
    );
    // Another site's form is still refused.
    let forged = h2
        .post(format!("{}/sign-in", app.base))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=ed%40example.com&password=correct+horse+battery&next=%2F")
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /sign-in: {e}"));
    assert_eq!(forged.status(), 403);

    // With an http --public-url, a TLS service still marks cookies Secure;
    // with an https one, plain HTTP does (as before; `people` signs in so).
    let mut plain = ServeConfig::for_tests("sqlite::memory:", ADMIN_TOKEN);
    assert!(!plain.serves_https());
    plain.public_url = Some("https://flags.example.com".into());
    assert!(plain.serves_https());
    certificates.configure(&mut plain);
    plain.public_url = Some("http://flags.example.com".into());
    assert!(plain.serves_https());
}

async fn streams_deliver_changes_over_both_protocols(app: TestApp) {
    let certificates = Certificates::new();
    let app = app.fresh(|config| certificates.configure(config)).await;
    let h2 = certificates.client(false);
    let h1 = certificates.client(true);
    let key = server_key(&h2, &app).await;
    let mut rules_h2 = open_stream(&h2, &app, "/api/v1/stream", &key).await;
    let mut rules_h1 = open_stream(&h1, &app, "/api/v1/stream", &key).await;
    let mut ofrep_h2 = open_stream(&h2, &app, "/ofrep/v1/stream", &key).await;
    assert_eq!(rules_h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(rules_h1.version(), reqwest::Version::HTTP_11);
    assert_eq!(ofrep_h2.version(), reqwest::Version::HTTP_2);
    read_until(&mut rules_h2, "event: put").await;
    read_until(&mut rules_h1, "event: put").await;
    create_flag(&h2, &app, "over_tls").await;
    read_until(&mut rules_h2, "over_tls").await;
    read_until(&mut rules_h1, "over_tls").await;
    read_until(&mut ofrep_h2, "refetchEvaluation").await;
}

/// A server key of `development`, made over `client`.
async fn server_key(client: &reqwest::Client, app: &TestApp) -> String {
    let created = client
        .post(format!("{}/api/v1/api-keys", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "sdk", "kind": "server", "environment": "development"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/v1/api-keys: {e}"));
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created
        .json()
        .await
        .unwrap_or_else(|e| panic!("a key: {e}"));
    match body["key"].as_str() {
        Some(key) => key.to_owned(),
        None => panic!("no key in {body}"),
    }
}

async fn certificates_rotate_while_streams_stay_open(app: TestApp) {
    let certificates = Certificates::new();
    let app = app.fresh(|config| certificates.configure(config)).await;
    let first = certificates.first.clone();
    assert_eq!(certificates.presented(&app).await, first);

    // Clients connected before the renewal: a stream on HTTP/2 and one on
    // HTTP/1.1.
    let h2 = certificates.client(false);
    let h1 = certificates.client(true);
    let key = server_key(&h2, &app).await;
    let mut held_h2 = open_stream(&h2, &app, "/api/v1/stream", &key).await;
    let mut held_h1 = open_stream(&h1, &app, "/api/v1/stream", &key).await;
    read_until(&mut held_h2, "event: put").await;
    read_until(&mut held_h1, "event: put").await;

    // The renewal: another subject, serial and key. The next connection
    // is shown the new certificate, without a restart.
    let second = certificates.issue("second", 2);
    assert_ne!(second, first);
    assert_eq!(certificates.presented(&app).await, second);
    let (code, _, err) = curl(&certificates, &[&format!("{}/health/live", app.base)]).await;
    assert_eq!(code, 0, "{err}");

    // The streams opened before it still deliver.
    create_flag(&h2, &app, "after_rotation").await;
    read_until(&mut held_h2, "after_rotation").await;
    read_until(&mut held_h1, "after_rotation").await;

    // A broken change keeps the certificate in use: a certificate file
    // that is not PEM, then a key of another certificate.
    replace(&certificates.path("cert.pem"), b"not a certificate\n");
    assert_eq!(certificates.presented(&app).await, second);
    let (third_pem, _, third) = certificates.make("third", 3);
    let (_, other_key, _) = certificates.make("other", 4);
    replace(&certificates.path("cert.pem"), third_pem.as_bytes());
    replace(&certificates.path("key.pem"), other_key.as_bytes());
    assert_eq!(certificates.presented(&app).await, second);
    // Once both files are right again, the new one is used.
    let fourth = certificates.issue("fourth", 5);
    assert_ne!(fourth, third);
    assert_eq!(certificates.presented(&app).await, fourth);
    create_flag(&h2, &app, "after_repair").await;
    read_until(&mut held_h2, "after_repair").await;
}

async fn clients_that_never_speak_are_dropped(app: TestApp) {
    let certificates = Certificates::new();
    let app = app
        .fresh(|config| {
            certificates.configure(config);
            config.header_read_timeout_secs = 1;
        })
        .await;
    // A socket that never says hello is closed (the handshake deadline is
    // the header-read timeout).
    let mut silent = TcpStream::connect(address(&app))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut received = Vec::new();
    let closed = tokio::time::timeout(RESPONSIVE, silent.read_to_end(&mut received)).await;
    assert!(closed.is_ok(), "a silent socket was kept open");
    assert!(received.is_empty(), "{received:?}");

    // A finished handshake followed by nothing: HTTP/1.1 and HTTP/2
    // connections that never send a request are closed too.
    for protocol in [b"http/1.1".as_slice(), b"h2".as_slice()] {
        let mut stream = handshake(&certificates, &app, protocol).await;
        let mut received = Vec::new();
        let closed = tokio::time::timeout(RESPONSIVE, stream.read_to_end(&mut received)).await;
        assert!(
            closed.is_ok(),
            "an idle {} connection was kept open",
            String::from_utf8_lossy(protocol)
        );
    }

    // An open stream is not idle: well past the timeout, it delivers.
    let h2 = certificates.client(false);
    let key = server_key(&h2, &app).await;
    let mut stream = open_stream(&h2, &app, "/api/v1/stream", &key).await;
    read_until(&mut stream, "event: put").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    create_flag(&h2, &app, "after_quiet").await;
    read_until(&mut stream, "after_quiet").await;
    // The service still answers.
    let live = h2
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /health/live: {e}"));
    assert_eq!(live.status(), 200);
}

async fn tls_connections_count_against_the_connection_limit(app: TestApp) {
    let certificates = Certificates::new();
    let app = app
        .fresh(|config| {
            certificates.configure(config);
            config.max_connections = 2;
            config.header_read_timeout_secs = 600;
        })
        .await;
    // Two connections, one mid-handshake (a bare socket) and one after it,
    // take every place...
    let mut held = vec![
        TcpStream::connect(address(&app))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}")),
    ];
    let after_handshake = handshake(&certificates, &app, b"http/1.1").await;
    // ...so another client's request is not served...
    let client = certificates.client(false);
    let url = format!("{}/health/live", app.base);
    let waiting = tokio::spawn(async move {
        client
            .get(url)
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "served beyond the connection limit");
    // ...until one of them goes away.
    drop(held.pop());
    let status = match tokio::time::timeout(RESPONSIVE, waiting).await {
        Ok(Ok(Ok(status))) => status,
        other => panic!("not served once a place was free: {other:?}"),
    };
    assert_eq!(status, 200);
    drop(after_handshake);
}

/// A TLS connection to `app` offering only `protocol` by ALPN.
async fn handshake(
    certificates: &Certificates,
    app: &TestApp,
    protocol: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(certificates.ca.der().clone())
        .unwrap_or_else(|e| panic!("the CA as a root: {e}"));
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("TLS versions: {e}"))
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![protocol.to_vec()];
    let tcp = TcpStream::connect(address(app))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
        .unwrap_or_else(|e| panic!("a server name: {e}"));
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("the handshake: {e}"));
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(protocol));
    stream
}

async fn unusable_certificate_files_are_refused_at_start(app: TestApp) {
    let certificates = Certificates::new();
    let refusal = |change: &dyn Fn(&mut ServeConfig)| {
        let mut config = app.config.clone();
        certificates.configure(&mut config);
        change(&mut config);
        async move {
            match ff_server::prepare(config, Arc::new(SystemClock)).await {
                Ok(_) => panic!("the service started with unusable TLS files"),
                Err(error) => error.to_string(),
            }
        }
    };
    let missing = certificates.path("missing.pem");
    let error = refusal(&|config| config.tls_cert = Some(missing.clone())).await;
    assert!(
        error.contains("cannot read the TLS certificate file") && error.contains("missing.pem"),
        "{error}"
    );
    let error = refusal(&|config| config.tls_key = Some(missing.clone())).await;
    assert!(error.contains("cannot read the TLS key file"), "{error}");
    // The key file where the certificate belongs, and the other way round.
    let key = certificates.path("key.pem");
    let certificate = certificates.path("cert.pem");
    let error = refusal(&|config| config.tls_cert = Some(key.clone())).await;
    assert!(error.contains("holds no PEM certificate"), "{error}");
    let error = refusal(&|config| config.tls_key = Some(certificate.clone())).await;
    assert!(error.contains("holds no PEM private key"), "{error}");
    // A key of another certificate.
    let (_, other_key, _) = certificates.make("other", 9);
    let other = certificates.path("other-key.pem");
    write(&other, other_key.as_bytes());
    let error = refusal(&|config| config.tls_key = Some(other.clone())).await;
    assert!(error.contains("does not fit the certificate"), "{error}");
    // Only one of the two.
    let error = refusal(&|config| config.tls_key = None).await;
    assert!(
        error.contains("--tls-cert and --tls-key go together"),
        "{error}"
    );
}
