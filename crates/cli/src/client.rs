//! The HTTP client of the admin commands, and what can go wrong, as
//! messages for people and exit codes for scripts.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use ff_api_types::ErrorBody;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Exit codes scripts can rely on (documented in `docs/CLI.md`).
pub mod exit {
    /// A check did not hold (`deps check`, `deploy` verification,
    /// `audit verify`), or an unexpected failure.
    pub const FAILED: u8 = 1;
    /// Bad usage (unknown option, missing argument) — clap's code.
    pub const USAGE: u8 = 2;
    /// The service cannot be reached.
    pub const UNREACHABLE: u8 = 3;
    /// The key is missing, unknown or revoked (401) or lacks the role (403).
    pub const AUTH: u8 = 4;
    /// Not found (404).
    pub const NOT_FOUND: u8 = 5;
    /// A conflict (409): a stale version, a confirmation needed, a failed
    /// verification of a deployment phase.
    pub const CONFLICT: u8 = 6;
    /// Invalid input (400, 422, or an invalid local file).
    pub const INVALID: u8 = 7;
    /// The change is held for approval as a change request (202).
    pub const HELD: u8 = 8;
    /// Refused by a change window (403 `outside_change_window`).
    pub const WINDOW: u8 = 9;
}

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// What to tell the user.
    pub message: String,
    /// The exit code.
    pub code: u8,
    /// The service's error `code` (`verify_failed`, `version_conflict` …),
    /// when the service refused the request: commands that give one refusal
    /// a meaning of their own match on it, not on the exit code alone.
    pub api_code: Option<String>,
}

impl CliError {
    /// A failure with a code.
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code,
            api_code: None,
        }
    }

    /// Invalid input.
    pub fn invalid(message: impl Into<String>) -> CliError {
        CliError::new(exit::INVALID, message)
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Headers a write may carry.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `X-Change-Reason`.
    pub reason: Option<String>,
    /// `X-Confirm: true`.
    pub confirm: bool,
    /// `X-Override-Change-Window: true`.
    pub override_window: bool,
    /// `X-Deployment-Id`.
    pub deployment_id: Option<String>,
    /// `If-Match: "<version>"`: the version the change was made against, so
    /// that a concurrent change is a conflict instead of a lost update.
    pub if_match: Option<i64>,
}

/// A client of one service with one key.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// An answer that succeeded (2xx).
#[derive(Debug)]
pub struct Answer {
    /// The status (200, 201, 202 …).
    pub status: u16,
    /// The JSON body (or the text as a string, or null).
    pub body: Value,
}

impl Client {
    /// A client of `base` (e.g. `http://localhost:8001`), trusting the CA
    /// certificates in the PEM file `ca_cert` besides the system's (for a
    /// service with a certificate from a private CA).
    pub fn new(base: &str, token: Option<String>, ca_cert: Option<&Path>) -> CliResult<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if let Some(path) = ca_cert {
            builder = builder.tls_certs_merge(ca_certificates(path)?);
        }
        let http = builder.build().map_err(|e| {
            CliError::invalid(format!("cannot set up the HTTP client: {}", root_cause(&e)))
        })?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> CliResult<Value> {
        self.send(Method::GET, path, None, &WriteOptions::default())
            .await
            .map(|a| a.body)
    }

    /// A request; a non-2xx answer is a [`CliError`] with the server's
    /// message (and, for validation, every problem with its path).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        options: &WriteOptions,
    ) -> CliResult<Answer> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(reason) = &options.reason {
            request = request.header("X-Change-Reason", reason);
        }
        if options.confirm {
            request = request.header("X-Confirm", "true");
        }
        if options.override_window {
            request = request.header("X-Override-Change-Window", "true");
        }
        if let Some(deployment) = &options.deployment_id {
            request = request.header("X-Deployment-Id", deployment);
        }
        if let Some(version) = options.if_match {
            request = request.header("If-Match", format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(request).await
    }

    /// A request with a raw body of a content type.
    pub async fn send_text(
        &self,
        path: &str,
        content_type: &str,
        text: String,
        options: &WriteOptions,
    ) -> CliResult<Answer> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(text);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(reason) = &options.reason {
            request = request.header("X-Change-Reason", reason);
        }
        self.finish(request).await
    }

    async fn finish(&self, request: reqwest::RequestBuilder) -> CliResult<Answer> {
        let response = request.send().await.map_err(|e| {
            CliError::new(
                exit::UNREACHABLE,
                format!(
                    "cannot reach the service at {}: {}\n(is it running? set --url or FEATURE_FLAGS_URL)",
                    self.base,
                    root_cause(&e)
                ),
            )
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            CliError::new(exit::UNREACHABLE, format!("the answer was cut off: {e}"))
        })?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(Answer { status, body });
        }
        Err(error_of(status, &body))
    }
}

/// The certificates of a PEM file given with `--ca-cert`.
fn ca_certificates(path: &Path) -> CliResult<Vec<reqwest::Certificate>> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| {
        CliError::invalid(format!("cannot read the CA file {shown} (--ca-cert): {e}"))
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        CliError::invalid(format!("the CA file {shown} (--ca-cert) is not PEM: {e}"))
    })?;
    if certificates.is_empty() {
        return Err(CliError::invalid(format!(
            "the CA file {shown} (--ca-cert) holds no PEM certificate"
        )));
    }
    Ok(certificates)
}

/// The innermost cause of a connection error ("Connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// A JSON answer read as its wire type (`ff_api_types`): what the
/// commands print in tables. (`--output json` prints the answer as it came.)
pub fn typed<T: DeserializeOwned>(value: &Value) -> CliResult<T> {
    T::deserialize(value).map_err(|e| {
        CliError::new(
            exit::FAILED,
            format!("the service's answer does not have the expected shape: {e}"),
        )
    })
}

/// The service's error envelope ([`ErrorBody`]) as a message and exit
/// code; anything else (a proxy's page) is shown as it came.
fn error_of(status: u16, body: &Value) -> CliError {
    let envelope = ErrorBody::deserialize(body).ok();
    let code = envelope.as_ref().map_or("", |e| e.error.code.as_str());
    let message = envelope
        .as_ref()
        .map_or_else(|| body.to_string(), |e| e.error.message.clone());
    let mut text = format!("{message} ({status} {code})");
    let has_problems = envelope
        .as_ref()
        .is_some_and(|e| e.error.details.get("problems").is_some());
    if has_problems {
        let problems = envelope
            .as_ref()
            .map(ErrorBody::problems)
            .unwrap_or_default();
        text = format!("the service refused it: {} problem(s)", problems.len());
        for problem in problems {
            text.push_str(&format!(
                "\n  {}: {}{}",
                problem.severity,
                located(&problem.path),
                problem.message
            ));
        }
    }
    let exit_code = match (status, code) {
        (401, _) => {
            text.push_str("\n(check --token, FEATURE_FLAGS_TOKEN or `feature-flags login`)");
            exit::AUTH
        }
        (403, "outside_change_window") => exit::WINDOW,
        (403, _) => exit::AUTH,
        (404, _) => exit::NOT_FOUND,
        (409, "confirmation_required") => {
            text.push_str("\n(repeat with --confirm if you mean it)");
            exit::CONFLICT
        }
        (409, _) => exit::CONFLICT,
        (422, "reason_required") => {
            text.push_str("\n(give --reason \"...\")");
            exit::INVALID
        }
        (400 | 413 | 422, _) => exit::INVALID,
        _ => exit::FAILED,
    };
    CliError {
        api_code: (!code.is_empty()).then(|| code.to_owned()),
        ..CliError::new(exit_code, text)
    }
}

fn located(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// A path segment, percent-encoded.
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
