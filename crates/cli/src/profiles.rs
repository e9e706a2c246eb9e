//! Where the service is and which key to use: `--url` / `--token` (or
//! `FEATURE_FLAGS_URL` / `FEATURE_FLAGS_TOKEN`), else a profile saved by
//! `feature-flags login` in `$XDG_CONFIG_HOME/feature-flags/config.json`
//! (`~/.config/…`), else `http://localhost:8001` without a key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cli::Global;
use crate::client::{CliError, CliResult, Client, exit};
use crate::output::Printer;

/// The default service.
pub const DEFAULT_URL: &str = "http://localhost:8001";

/// The saved profiles.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Config {
    /// The profile used when none is named.
    default: Option<String>,
    /// By name.
    profiles: BTreeMap<String, Profile>,
}

/// One service and key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    url: String,
    token: Option<String>,
}

fn config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("feature-flags").join("config.json"))
}

fn load() -> Config {
    config_path()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The URL and key to use.
pub fn resolve(global: &Global) -> CliResult<(String, Option<String>)> {
    let config = load();
    let profile = match &global.profile {
        Some(name) => Some(config.profiles.get(name).cloned().ok_or_else(|| {
            CliError::new(
                exit::USAGE,
                format!(
                    "no profile \"{name}\"; create it with `feature-flags login --name {name}`"
                ),
            )
        })?),
        None => config
            .default
            .as_ref()
            .and_then(|name| config.profiles.get(name))
            .cloned(),
    };
    let url = global
        .url
        .clone()
        .or_else(|| profile.as_ref().map(|p| p.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    // A profile's key is for its own service only: never sent to another
    // URL given with --url (or FEATURE_FLAGS_URL).
    let token = global.token.clone().or_else(|| {
        profile
            .filter(|p| same_service(&p.url, &url))
            .and_then(|p| p.token)
    });
    Ok((url, token))
}

/// Whether two URLs name the same service (a trailing `/` aside).
fn same_service(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `login`: checks the URL and key against the service, then saves them.
pub async fn login(global: &Global, name: &str, printer: &Printer) -> CliResult {
    let url = global.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
    let token = global.token.clone().ok_or_else(|| {
        CliError::new(
            exit::USAGE,
            "give the key with --token (or FEATURE_FLAGS_TOKEN)",
        )
    })?;
    // Any admin key may list environments: this checks URL and key at once.
    Client::new(&url, Some(token.clone()), global.ca_cert.as_deref())?
        .get("/api/v1/environments")
        .await?;
    let path = config_path()
        .ok_or_else(|| CliError::invalid("no HOME or XDG_CONFIG_HOME to save the profile in"))?;
    let mut config = load();
    config.profiles.insert(
        name.to_owned(),
        Profile {
            url: url.clone(),
            token: Some(token),
        },
    );
    config.default = Some(name.to_owned());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    write_private(&path, &text)?;
    printer.say(format!(
        "logged in to {url} as profile \"{name}\" (saved in {})",
        path.display()
    ));
    Ok(())
}

/// Writes a file only its owner can read (it holds a key).
fn write_private(path: &std::path::Path, text: &str) -> CliResult {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display())))
}
