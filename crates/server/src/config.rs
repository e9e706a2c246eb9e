//! The service's configuration: every setting is a command-line flag with an
//! environment variable, read here and nowhere else.

use std::fmt;
use std::net::IpAddr;

/// Settings of `feature-flags serve`.
#[derive(Clone, clap::Args)]
pub struct ServeConfig {
    /// Port to listen on.
    #[arg(long, env = "FEATURE_FLAGS_PORT", default_value_t = 8001)]
    pub port: u16,

    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, env = "FEATURE_FLAGS_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Where flags are stored: a SQLite file (`sqlite://feature-flags.db`, the
    /// default, created if missing) or PostgreSQL (`postgres://user@host/db`).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://feature-flags.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// A file holding the database URL (as `--database-url`, for secrets
    /// mounted as files: a PostgreSQL URL may carry a password; one trailing
    /// newline is ignored).
    #[arg(long, env = "DATABASE_URL_FILE", conflicts_with = "database_url")]
    pub database_url_file: Option<std::path::PathBuf>,

    /// The admin API key to create on first start (with an empty database):
    /// at least 32 characters, no surrounding spaces. Without it a random
    /// key is created and printed once. Ignored once the database has keys.
    #[arg(long, env = "FEATURE_FLAGS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// A file holding the admin API key to create on first start (as
    /// `--admin-token`, for secrets mounted as files; one trailing newline
    /// is ignored).
    #[arg(
        long,
        env = "FEATURE_FLAGS_ADMIN_TOKEN_FILE",
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<std::path::PathBuf>,

    /// Requests per second allowed per API key (sustained); per device
    /// (key and client address, see `--trusted-proxy-header`) for client
    /// keys, which every install of an app shares.
    #[arg(long, env = "FEATURE_FLAGS_RATE_LIMIT", default_value_t = 20_000)]
    pub rate_limit: u32,

    /// Requests per API key (per device for client keys) allowed in a burst
    /// above the sustained rate.
    #[arg(long, env = "FEATURE_FLAGS_RATE_BURST", default_value_t = 40_000)]
    pub rate_burst: u32,

    /// The header a reverse proxy in front of the service writes the
    /// client's address in (`X-Forwarded-For`, `X-Real-IP`, `Forwarded`):
    /// its last entry then counts as the client's address for per-device
    /// limits (client keys' request rate, failed sign-ins per address).
    /// Off by default: the connection's peer counts, and such headers are
    /// ignored, since any client can send them. Set it only behind a proxy
    /// that always writes the header.
    #[arg(long, env = "FEATURE_FLAGS_TRUSTED_PROXY_HEADER", value_parser = parse_header_name)]
    pub trusted_proxy_header: Option<axum::http::HeaderName>,

    /// Advertise the OFREP event stream (`/ofrep/v1/stream`) in bulk
    /// evaluation answers, so that OpenFeature providers re-fetch on change.
    #[arg(long, env = "FEATURE_FLAGS_OFREP_EVENT_STREAM", default_value_t = true, action = clap::ArgAction::Set)]
    pub ofrep_event_stream: bool,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FEATURE_FLAGS_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest flag document accepted, in bytes (serialised). Long lists
    /// of users belong in segments.
    #[arg(long, env = "FEATURE_FLAGS_MAX_FLAG_BYTES", default_value_t = 256 * 1024)]
    pub max_flag_bytes: usize,

    /// Flags with one of these tags always need approval in protected
    /// environments (SOX-style four eyes), whatever the environment's
    /// `approval_required` says. Comma-separated.
    #[arg(
        long,
        env = "FEATURE_FLAGS_COMPLIANCE_TAGS",
        default_value = "sox",
        value_delimiter = ','
    )]
    pub compliance_tags: Vec<String>,

    /// How often the scheduler looks for due schedules and rollout steps,
    /// in milliseconds.
    #[arg(
        long,
        env = "FEATURE_FLAGS_SCHEDULER_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub scheduler_interval_ms: u64,

    /// How often the webhook dispatcher turns new audit entries into
    /// deliveries and sends the due ones, in milliseconds.
    #[arg(
        long,
        env = "FEATURE_FLAGS_WEBHOOK_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub webhook_interval_ms: u64,

    /// The first retry of a failed webhook delivery waits about this long
    /// (milliseconds); each further one twice as long (with jitter).
    #[arg(
        long,
        env = "FEATURE_FLAGS_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 10_000
    )]
    pub webhook_retry_base_ms: u64,

    /// The longest wait between two attempts of a webhook delivery, in
    /// milliseconds.
    #[arg(
        long,
        env = "FEATURE_FLAGS_WEBHOOK_RETRY_MAX_MS",
        default_value_t = 3_600_000
    )]
    pub webhook_retry_max_ms: u64,

    /// Attempts of a webhook delivery before it is marked failed.
    #[arg(long, env = "FEATURE_FLAGS_WEBHOOK_MAX_ATTEMPTS", default_value_t = 12)]
    pub webhook_max_attempts: u32,

    /// How long one webhook request may take (connect, send, answer), in
    /// milliseconds.
    #[arg(long, env = "FEATURE_FLAGS_WEBHOOK_TIMEOUT_MS", default_value_t = 5000)]
    pub webhook_timeout_ms: u64,

    /// Seconds a client has to send a request's headers, and to start its
    /// next request on an idle kept-alive connection (open streams are not
    /// idle: they send keep-alives).
    #[arg(
        long,
        env = "FEATURE_FLAGS_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub header_read_timeout_secs: u64,

    /// Seconds a client has to send a request's whole body.
    #[arg(
        long,
        env = "FEATURE_FLAGS_BODY_READ_TIMEOUT_SECS",
        default_value_t = 60
    )]
    pub body_read_timeout_secs: u64,

    /// Most connections open at once; further ones wait to be accepted.
    /// 0: the open-file limit less a reserve for the database and files.
    #[arg(long, env = "FEATURE_FLAGS_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Seconds that shutting down waits for requests in flight before it
    /// closes their connections.
    #[arg(
        long,
        env = "FEATURE_FLAGS_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub shutdown_timeout_secs: u64,

    /// How log lines are written: `text` (colours only on a terminal) or
    /// `json` (one object per line, for log collectors).
    #[arg(long, env = "FEATURE_FLAGS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The address people and apps reach the service at
    /// (`https://flags.example.com`), when it differs from what requests
    /// show: an https URL marks session cookies `Secure`; the interface
    /// uses it in the snippets it shows.
    #[arg(long, env = "FEATURE_FLAGS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// A PEM file with the server's certificate (then any intermediates):
    /// with `--tls-key`, the service speaks HTTPS itself (HTTP/2 and
    /// HTTP/1.1, chosen by ALPN) instead of plain HTTP. Both files are read
    /// again when they change, so a renewed certificate needs no restart.
    #[arg(long, env = "FEATURE_FLAGS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// A PEM file with the private key of `--tls-cert` (PKCS#8, RSA or EC).
    #[arg(long, env = "FEATURE_FLAGS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Hours a sign-in lasts, whatever happens (sign-out ends it sooner).
    #[arg(long, env = "FEATURE_FLAGS_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,

    /// With `--admin-password`: the email of an admin user to create at
    /// start if no account has it (an existing account is left as it is).
    #[arg(long, env = "FEATURE_FLAGS_ADMIN_EMAIL", requires = "admin_password")]
    pub admin_email: Option<String>,

    /// The password of the `--admin-email` user (at least 10 characters).
    #[arg(
        long,
        env = "FEATURE_FLAGS_ADMIN_PASSWORD",
        hide_env_values = true,
        requires = "admin_email"
    )]
    pub admin_password: Option<String>,

    /// Count every evaluation per flag, environment, outcome and reason
    /// (`GET /api/v1/flags/{id}/metrics`). Off only to measure its cost.
    #[arg(long, env = "FEATURE_FLAGS_COUNT_EVALUATIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub count_evaluations: bool,

    /// Most flags labelled by name in `GET /metrics`; evaluations of others
    /// are counted under `flag="_other"`.
    #[arg(
        long,
        env = "FEATURE_FLAGS_PROMETHEUS_MAX_FLAGS",
        default_value_t = 500
    )]
    pub prometheus_max_flags: usize,

    /// A bearer token `GET /metrics` requires (without it, the metrics are
    /// public, as Prometheus usually expects).
    #[arg(long, env = "FEATURE_FLAGS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Store user ids in exposures and events as they are, instead of as
    /// keyed hashes (the default).
    #[arg(long, env = "FEATURE_FLAGS_CLEAR_SUBJECT_IDS", default_value_t = false, action = clap::ArgAction::Set)]
    pub clear_subject_ids: bool,

    /// Hours of per-minute evaluation counts kept.
    #[arg(
        long,
        env = "FEATURE_FLAGS_METRICS_MINUTE_RETENTION_HOURS",
        default_value_t = 48
    )]
    pub metrics_minute_retention_hours: u32,

    /// Days of per-hour evaluation counts kept.
    #[arg(
        long,
        env = "FEATURE_FLAGS_METRICS_HOUR_RETENTION_DAYS",
        default_value_t = 31
    )]
    pub metrics_hour_retention_days: u32,

    /// Days of per-day evaluation counts kept.
    #[arg(
        long,
        env = "FEATURE_FLAGS_METRICS_DAY_RETENTION_DAYS",
        default_value_t = 400
    )]
    pub metrics_day_retention_days: u32,

    /// Serve the admin web interface at `/` (`false` for API-only nodes:
    /// then `/` answers 404).
    #[arg(long, env = "FEATURE_FLAGS_UI", default_value_t = true, action = clap::ArgAction::Set)]
    pub ui: bool,

    /// Tests only: read "now" from this file (an RFC 3339 time) instead of
    /// the system clock, so that tests drive schedules without waiting.
    #[arg(long, env = "FEATURE_FLAGS_CLOCK_FILE", hide = true)]
    pub clock_file: Option<std::path::PathBuf>,
}

impl ServeConfig {
    /// Settings for tests: an ephemeral port on loopback and the given database.
    pub fn for_tests(database_url: &str, admin_token: &str) -> ServeConfig {
        ServeConfig {
            port: 0,
            bind: IpAddr::from([127, 0, 0, 1]),
            database_url: database_url.to_owned(),
            database_url_file: None,
            admin_token: Some(admin_token.to_owned()),
            admin_token_file: None,
            rate_limit: 1000,
            rate_burst: 2000,
            trusted_proxy_header: None,
            ofrep_event_stream: true,
            max_body_bytes: 4 * 1024 * 1024,
            max_flag_bytes: 256 * 1024,
            compliance_tags: vec!["sox".to_owned()],
            // Tests run the scheduler explicitly (`POST /api/v1/schedules/run`).
            scheduler_interval_ms: 3_600_000,
            // Deliveries within a test's patience; tests never assert on
            // how fast they arrive.
            webhook_interval_ms: 100,
            webhook_retry_base_ms: 50,
            webhook_retry_max_ms: 1000,
            webhook_max_attempts: 6,
            webhook_timeout_ms: 2000,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 60,
            max_connections: 0,
            shutdown_timeout_secs: 30,
            log_format: LogFormat::Text,
            public_url: None,
            tls_cert: None,
            tls_key: None,
            session_hours: 12,
            admin_email: None,
            admin_password: None,
            count_evaluations: true,
            clear_subject_ids: false,
            prometheus_max_flags: 500,
            metrics_token: None,
            metrics_minute_retention_hours: 48,
            metrics_hour_retention_days: 31,
            metrics_day_retention_days: 400,
            ui: true,
            clock_file: None,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event, coloured only on a terminal.
    Text,
    /// For machines: one JSON object per line.
    Json,
}

/// A header name as `--trusted-proxy-header` takes it.
fn parse_header_name(text: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::try_from(text.trim())
        .map_err(|_| format!("{text:?} is not a header name (e.g. X-Forwarded-For)"))
}

/// The shortest operator-chosen admin token accepted.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The operator's admin token is unsafe or unusable.
    #[error("{0}")]
    AdminToken(String),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A file named by a setting cannot be read.
    #[error("cannot read {setting} file {path}: {source}")]
    File {
        /// The setting.
        setting: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ServeConfig {
    /// How long evaluation counts of each granularity are kept.
    pub fn count_retention(&self) -> [(ff_store::Granularity, time::Duration); 3] {
        use ff_store::Granularity;
        [
            (
                Granularity::Minute,
                time::Duration::hours(self.metrics_minute_retention_hours.into()),
            ),
            (
                Granularity::Hour,
                time::Duration::days(self.metrics_hour_retention_days.into()),
            ),
            (
                Granularity::Day,
                time::Duration::days(self.metrics_day_retention_days.into()),
            ),
        ]
    }

    /// Whether people reach the service over https (it serves TLS itself,
    /// or its public URL says so): session cookies are then `Secure`.
    pub fn serves_https(&self) -> bool {
        self.serves_tls()
            || self
                .public_url
                .as_deref()
                .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// Whether the service speaks TLS itself (`--tls-cert` and `--tls-key`).
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// The certificate files, loaded (`None` without `--tls-cert`): a
    /// missing, unreadable or mismatched file is an error at start.
    pub fn tls_certificate(&self) -> Result<Option<crate::tls::CertificateFiles>, ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(certificate), Some(key)) => {
                Ok(Some(crate::tls::CertificateFiles::load(certificate, key)?))
            }
            (None, None) => Ok(None),
            // clap requires both; a caller building the settings by hand
            // gets the same answer.
            _ => Err(ConfigError::Tls(crate::tls::TlsError::Incomplete)),
        }
    }

    /// The database URL: `--database-url`, or the contents of
    /// `--database-url-file` when that is given (clap refuses both at once).
    pub fn database_url(&self) -> Result<String, ConfigError> {
        match &self.database_url_file {
            Some(path) => read_secret_file("DATABASE_URL_FILE", path),
            None => Ok(self.database_url.clone()),
        }
    }

    /// The operator's admin token (`--admin-token` or `--admin-token-file`),
    /// if one is set, refused when it is too short to be secret or has
    /// surrounding whitespace (a key nobody could send as it was meant).
    pub fn admin_secret(&self) -> Result<Option<String>, ConfigError> {
        let token = match (&self.admin_token, &self.admin_token_file) {
            (Some(token), _) => token.clone(),
            (None, Some(path)) => read_secret_file("FEATURE_FLAGS_ADMIN_TOKEN_FILE", path)?,
            (None, None) => return Ok(None),
        };
        check_admin_token(&token)?;
        Ok(Some(token))
    }
}

/// A secret mounted as a file (`--*-file`): its text without one trailing
/// newline (`\n` or `\r\n`), which editors and `echo` add and which is never
/// part of the secret.
fn read_secret_file(setting: &'static str, path: &std::path::Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        setting,
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

fn check_admin_token(token: &str) -> Result<(), ConfigError> {
    if token.trim() != token {
        return Err(ConfigError::AdminToken(
            "FEATURE_FLAGS_ADMIN_TOKEN has spaces or a newline around it; \
             remove them (the key would not be the one you send)"
                .into(),
        ));
    }
    let length = token.chars().count();
    if length < MIN_ADMIN_TOKEN_CHARS {
        return Err(ConfigError::AdminToken(format!(
            "FEATURE_FLAGS_ADMIN_TOKEN is {length} characters long; an admin key needs \
             at least {MIN_ADMIN_TOKEN_CHARS} (e.g. `openssl rand -hex 24`), or leave it \
             unset to have one generated and printed once"
        )));
    }
    if token.chars().any(char::is_control) {
        return Err(ConfigError::AdminToken(
            "FEATURE_FLAGS_ADMIN_TOKEN contains control characters".into(),
        ));
    }
    Ok(())
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_url_file", &self.database_url_file)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("rate_limit", &self.rate_limit)
            .field("rate_burst", &self.rate_burst)
            .field("trusted_proxy_header", &self.trusted_proxy_header)
            .field("ofrep_event_stream", &self.ofrep_event_stream)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_flag_bytes", &self.max_flag_bytes)
            .field("compliance_tags", &self.compliance_tags)
            .field("admin_token_file", &self.admin_token_file)
            .field("scheduler_interval_ms", &self.scheduler_interval_ms)
            .field("webhook_interval_ms", &self.webhook_interval_ms)
            .field("webhook_retry_base_ms", &self.webhook_retry_base_ms)
            .field("webhook_retry_max_ms", &self.webhook_retry_max_ms)
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("body_read_timeout_secs", &self.body_read_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("log_format", &self.log_format)
            .field("public_url", &self.public_url)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("ui", &self.ui)
            .field("clock_file", &self.clock_file)
            .finish()
    }
}

/// The URL with any password replaced, for logs: the one in the
/// credentials (`user:password@`) and any `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = redact_credentials(base);
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                    format!("{name}=<redacted>")
                }
                _ => parameter.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

fn redact_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn operator_admin_tokens_must_be_long_and_bare() {
        let with = |token: &str| {
            let mut config = ServeConfig::for_tests("sqlite::memory:", token);
            config.admin_token = Some(token.to_owned());
            config.admin_secret().map_err(|e| e.to_string())
        };
        let good = "0123456789abcdef0123456789abcdef";
        assert_eq!(with(good), Ok(Some(good.to_owned())));
        for (bad, says) in [
            ("", "0 characters"),
            ("ff_admin_short", "14 characters"),
            (" 0123456789abcdef0123456789abcdef", "spaces"),
            ("0123456789abcdef0123456789abcdef\n", "spaces"),
            ("0123456789abcdef\u{7}0123456789abcdef", "control"),
        ] {
            let error = with(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        let mut config = ServeConfig::for_tests("sqlite::memory:", good);
        config.admin_token = None;
        assert_eq!(config.admin_secret().map_err(|e| e.to_string()), Ok(None));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{good}\n")).unwrap();
        config.admin_token_file = Some(file.clone());
        assert_eq!(
            config.admin_secret().map_err(|e| e.to_string()),
            Ok(Some(good.to_owned()))
        );
        std::fs::write(&file, "short\n").unwrap();
        assert!(config.admin_secret().is_err());
        config.admin_token_file = Some(dir.path().join("missing"));
        let error = config.admin_secret().unwrap_err().to_string();
        assert!(error.contains("cannot read"), "{error}");
    }

    #[test]
    fn the_database_url_can_come_from_a_file() {
        let mut config = ServeConfig::for_tests("sqlite::memory:", "unused");
        assert_eq!(config.database_url().unwrap(), "sqlite::memory:");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database-url");
        for (written, read) in [
            (
                "postgres://app:s3cret@db/flags\n",
                "postgres://app:s3cret@db/flags",
            ),
            ("postgres://app@db/flags\r\n", "postgres://app@db/flags"),
            ("postgres://app@db/flags", "postgres://app@db/flags"),
            // Only one newline is the file's: more are the operator's.
            ("postgres://app@db/flags\n\n", "postgres://app@db/flags\n"),
        ] {
            std::fs::write(&file, written).unwrap();
            config.database_url_file = Some(file.clone());
            assert_eq!(config.database_url().unwrap(), read, "{written:?}");
        }
        config.database_url_file = Some(dir.path().join("missing"));
        let error = config.database_url().unwrap_err().to_string();
        assert!(
            error.contains("cannot read DATABASE_URL_FILE file"),
            "{error}"
        );
    }

    #[test]
    fn the_database_url_and_its_file_conflict() {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            config: ServeConfig,
        }
        let parse = |args: &[&str]| {
            <Serve as clap::Parser>::try_parse_from(
                std::iter::once("serve").chain(args.iter().copied()),
            )
        };
        assert!(parse(&["--database-url-file", "/run/secrets/db"]).is_ok());
        let proxied = parse(&["--trusted-proxy-header", "X-Forwarded-For"]).unwrap();
        assert_eq!(
            proxied.config.trusted_proxy_header.map(|h| h.to_string()),
            Some("x-forwarded-for".to_owned())
        );
        assert!(parse(&["--trusted-proxy-header", "not a header"]).is_err());
        let error = parse(&[
            "--database-url",
            "sqlite://a.db",
            "--database-url-file",
            "/run/secrets/db",
        ])
        .err()
        .unwrap();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db/flags"),
            "postgres://app:<redacted>@db/flags"
        );
        assert_eq!(
            redact_url("postgres://app@db/flags"),
            "postgres://app@db/flags"
        );
        assert_eq!(
            redact_url("sqlite://feature-flags.db"),
            "sqlite://feature-flags.db"
        );
        assert_eq!(
            redact_url("postgres://app@db/flags?sslmode=require&password=s3cret&x=1"),
            "postgres://app@db/flags?sslmode=require&password=<redacted>&x=1"
        );
        assert_eq!(
            redact_url("postgres://app:p@ss@db/flags?PASSWORD=s3cret"),
            "postgres://app:<redacted>@db/flags?PASSWORD=<redacted>"
        );
        let config = ServeConfig::for_tests("postgres://a:b@c/d", "s3cr3t-admin");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr3t-admin") && !shown.contains(":b@"),
            "{shown}"
        );
    }
}
