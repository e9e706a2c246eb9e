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

    /// The admin API key to create on first start (with an empty database).
    /// Without it a random key is created and printed once.
    #[arg(long, env = "FEATURE_FLAGS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Requests per second allowed per API key (sustained).
    #[arg(long, env = "FEATURE_FLAGS_RATE_LIMIT", default_value_t = 20_000)]
    pub rate_limit: u32,

    /// Requests per API key allowed in a burst above the sustained rate.
    #[arg(long, env = "FEATURE_FLAGS_RATE_BURST", default_value_t = 40_000)]
    pub rate_burst: u32,

    /// Advertise the OFREP event stream (`/ofrep/v1/stream`) in bulk
    /// evaluation answers, so that OpenFeature providers re-fetch on change.
    #[arg(long, env = "FEATURE_FLAGS_OFREP_EVENT_STREAM", default_value_t = true, action = clap::ArgAction::Set)]
    pub ofrep_event_stream: bool,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FEATURE_FLAGS_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

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
            admin_token: Some(admin_token.to_owned()),
            rate_limit: 1000,
            rate_burst: 2000,
            ofrep_event_stream: true,
            max_body_bytes: 4 * 1024 * 1024,
            compliance_tags: vec!["sox".to_owned()],
            // Tests run the scheduler explicitly (`POST /api/v1/schedules/run`).
            scheduler_interval_ms: 3_600_000,
            clock_file: None,
        }
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("rate_limit", &self.rate_limit)
            .field("rate_burst", &self.rate_burst)
            .field("ofrep_event_stream", &self.ofrep_event_stream)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("compliance_tags", &self.compliance_tags)
            .field("scheduler_interval_ms", &self.scheduler_interval_ms)
            .field("clock_file", &self.clock_file)
            .finish()
    }
}

/// The URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{scheme}://{user}:<redacted>@{host}")
            } else {
                url.to_owned()
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let config = ServeConfig::for_tests("postgres://a:b@c/d", "s3cr3t-admin");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr3t-admin") && !shown.contains(":b@"),
            "{shown}"
        );
    }
}
