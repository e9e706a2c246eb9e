//! Offline mode: the values of a snapshot file (`feature-flags snapshot`,
//! format in docs/SNAPSHOT.md), the same for every context.

use std::collections::HashMap;
use std::path::Path;

use ff_engine::Reason;
use serde::Deserialize;
use serde_json::Value;

use crate::client::SdkError;

/// One flag's entry in the file.
#[derive(Debug, Clone)]
pub struct OfflineEntry {
    pub value: Value,
    pub reason: Reason,
    pub variant: Option<String>,
}

/// The values of a snapshot file, by flag id.
#[derive(Debug, Clone)]
pub struct OfflineValues(HashMap<String, OfflineEntry>);

#[derive(Deserialize)]
struct File {
    format: String,
    version: u32,
    flags: HashMap<String, FileEntry>,
}

#[derive(Deserialize)]
struct FileEntry {
    value: Value,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

impl OfflineValues {
    /// Reads and checks a snapshot file.
    pub fn read(path: &Path) -> Result<OfflineValues, SdkError> {
        let refuse = |detail: String| SdkError::OfflineFile {
            path: path.to_owned(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
        let file: File =
            serde_json::from_str(&text).map_err(|e| refuse(format!("not a snapshot file: {e}")))?;
        if file.format != "feature-flags-snapshot" || file.version != 1 {
            return Err(refuse(format!(
                "format \"{}\" version {} is not one this SDK reads (feature-flags-snapshot, 1)",
                file.format, file.version
            )));
        }
        let entries = file
            .flags
            .into_iter()
            .map(|(flag, entry)| {
                let reason = entry
                    .reason
                    .as_deref()
                    .and_then(Reason::from_name)
                    .unwrap_or(Reason::Static);
                let entry = OfflineEntry {
                    value: entry.value,
                    reason,
                    variant: entry.variant,
                };
                (flag, entry)
            })
            .collect();
        Ok(OfflineValues(entries))
    }

    /// A flag's entry.
    pub fn get(&self, flag: &str) -> Option<&OfflineEntry> {
        self.0.get(flag)
    }
}
