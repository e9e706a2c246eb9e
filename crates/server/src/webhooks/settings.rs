//! An endpoint's settings: checked when registered or changed, stored as
//! the audited document (with the URL's path left out: the whole URL may be
//! a credential, as a Slack incoming webhook's is), answered on the wire.

use ff_api_types::{
    CreateWebhookRequest, UpdateWebhookRequest, WEBHOOK_EVENTS, WEBHOOK_FORMATS, Webhook,
};
use ff_engine::Problem;
use ff_store::StoredWebhook;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::flag_ops::rfc3339;

/// The longest URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// The longest description accepted.
const MAX_DESCRIPTION_CHARS: usize = 500;

/// An endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where to POST.
    pub url: String,
    /// Subscribed events (names of [`WEBHOOK_EVENTS`]).
    pub events: Vec<String>,
    /// The environment filter; empty: all.
    pub environments: Vec<String>,
    /// `json` or `slack`.
    pub format: String,
    /// Whether to send.
    pub enabled: bool,
    /// For people.
    pub description: Option<String>,
}

impl Settings {
    /// The settings of a registration, checked against the environments
    /// that exist.
    pub fn create(
        request: CreateWebhookRequest,
        environments: &dyn Fn(&str) -> bool,
    ) -> Result<Settings, ApiError> {
        let settings = Settings {
            url: request.url,
            events: request.events,
            environments: request.environments,
            format: request.format.unwrap_or_else(|| "json".to_owned()),
            enabled: request.enabled.unwrap_or(true),
            description: request.description,
        };
        settings.checked(environments)
    }

    /// These settings with a change applied, checked.
    pub fn update(
        mut self,
        request: UpdateWebhookRequest,
        environments: &dyn Fn(&str) -> bool,
    ) -> Result<Settings, ApiError> {
        if let Some(url) = request.url {
            self.url = url;
        }
        if let Some(events) = request.events {
            self.events = events;
        }
        if let Some(filter) = request.environments {
            self.environments = filter;
        }
        if let Some(format) = request.format {
            self.format = format;
        }
        if let Some(enabled) = request.enabled {
            self.enabled = enabled;
        }
        if let Some(description) = request.description {
            self.description = Some(description).filter(|d| !d.is_empty());
        }
        self.checked(environments)
    }

    /// Every problem at once, each with its path.
    fn checked(self, environments: &dyn Fn(&str) -> bool) -> Result<Settings, ApiError> {
        let mut problems = Vec::new();
        if let Err(message) = check_url(&self.url) {
            problems.push(Problem::error("url", message));
        }
        if self.events.is_empty() {
            problems.push(Problem::error(
                "events",
                format!(
                    "subscribe to at least one event: {}",
                    WEBHOOK_EVENTS.join(", ")
                ),
            ));
        }
        for (i, event) in self.events.iter().enumerate() {
            if !WEBHOOK_EVENTS.contains(&event.as_str()) {
                problems.push(Problem::error(
                    format!("events[{i}]"),
                    format!(
                        "unknown event \"{event}\"; expected one of {}",
                        WEBHOOK_EVENTS.join(", ")
                    ),
                ));
            }
        }
        for (field, items) in [
            ("events", &self.events),
            ("environments", &self.environments),
        ] {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    problems.push(Problem::error(
                        format!("{field}[{i}]"),
                        format!("\"{item}\" is listed twice"),
                    ));
                }
            }
        }
        for (i, environment) in self.environments.iter().enumerate() {
            if !environments(environment) {
                problems.push(Problem::error(
                    format!("environments[{i}]"),
                    format!("no environment \"{environment}\""),
                ));
            }
        }
        if !WEBHOOK_FORMATS.contains(&self.format.as_str()) {
            problems.push(Problem::error(
                "format",
                format!("unknown format \"{}\"; expected json or slack", self.format),
            ));
        }
        if let Some(description) = &self.description
            && (description.chars().count() > MAX_DESCRIPTION_CHARS
                || description.chars().any(char::is_control))
        {
            problems.push(Problem::error(
                "description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters, no control characters"),
            ));
        }
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        Ok(self)
    }

    /// The stored (and audited) document: everything but the whole URL.
    pub fn document(&self) -> Value {
        let mut document = json!({
            "url": redacted_url(&self.url),
            "events": self.events,
            "environments": self.environments,
            "format": self.format,
            "enabled": self.enabled,
        });
        if let Some(description) = &self.description {
            document["description"] = json!(description);
        }
        document
    }

    /// The settings of a stored endpoint.
    pub fn of(stored: &StoredWebhook) -> Settings {
        let strings = |field: &str| -> Vec<String> {
            stored.document[field]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Settings {
            url: stored.url.clone(),
            events: strings("events"),
            environments: strings("environments"),
            format: stored.document["format"]
                .as_str()
                .unwrap_or("json")
                .to_owned(),
            enabled: stored.document["enabled"].as_bool().unwrap_or(true),
            description: stored.document["description"].as_str().map(str::to_owned),
        }
    }
}

/// A stored endpoint as answered (the secret only when given: at creation).
pub fn wire(stored: &StoredWebhook, secret: Option<String>) -> Webhook {
    let settings = Settings::of(stored);
    Webhook {
        id: stored.id.clone(),
        url: settings.url,
        events: settings.events,
        environments: settings.environments,
        format: settings.format,
        enabled: settings.enabled,
        description: settings.description,
        version: stored.version,
        created_at: rfc3339(stored.created_at),
        updated_at: rfc3339(stored.updated_at),
        secret,
    }
}

/// A new signing secret: 32 random bytes, hex, labelled.
pub fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// An absolute `http` or `https` URL with a host, or why not.
fn check_url(url: &str) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("at most {MAX_URL_CHARS} characters"));
    }
    if let Some(at) = url
        .chars()
        .position(|c| c.is_control() || c.is_whitespace())
    {
        // Counted from 1, as a person reads the URL.
        let at = at.saturating_add(1);
        return Err(format!(
            "a space or control character at position {at}; percent-encode it"
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "scheme \"{other}\" is not allowed; use http or https"
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(())
}

/// `scheme://host[:port]/…`: enough to recognise an endpoint in the audit
/// log without showing a path or query that may hold a token.
fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or_default();
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if parsed.path() == "/" && parsed.query().is_none() {
                "/"
            } else {
                "/…"
            };
            format!("{}://{host}{port}{rest}", parsed.scheme())
        }
        Err(_) => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        let cases: &[(&str, Result<(), &str>, &str)] = &[
            (
                "http://127.0.0.1:8080/hook",
                Ok(()),
                "http://127.0.0.1:8080/…",
            ),
            (
                "https://hooks.slack.com/services/T/B/x",
                Ok(()),
                "https://hooks.slack.com/…",
            ),
            ("https://example.com", Ok(()), "https://example.com/"),
            (
                "ftp://example.com/x",
                Err("scheme \"ftp\""),
                "ftp://example.com/…",
            ),
            ("not-a-url", Err("not a valid URL"), "…"),
            (
                "http://a/x y",
                Err("a space or control character at position 11"),
                "http://a/…",
            ),
            ("file:///etc/passwd", Err("scheme \"file\""), "file:///…"),
            (
                "http://a/\u{0}",
                Err("control character at position 10"),
                // The URL parser drops a trailing control character.
                "http://a/",
            ),
        ];
        for (url, verdict, shown) in cases {
            match (check_url(url), verdict) {
                (Ok(()), Ok(())) => {}
                (Err(message), Err(part)) => assert!(message.contains(part), "{url}: {message}"),
                (got, want) => panic!("{url}: {got:?}, expected {want:?}"),
            }
            assert_eq!(redacted_url(url), *shown, "{url}");
        }
    }
}
