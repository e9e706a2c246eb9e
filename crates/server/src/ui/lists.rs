//! The list pages: `/flags` (every flag with its metadata), `/segments`
//! (with the flags using each) and `/environments` (the tree and its
//! rules). All read the live configuration in memory.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::governance::rules_use_segment;
use crate::live::LiveConfig;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::shell::{PageResult, Shell, format_time, render, viewer};

#[derive(Debug, Default, Deserialize)]
pub struct FlagsQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "flags.html")]
struct FlagsPage {
    shell: Shell,
    q: String,
    total: usize,
    flags: Vec<FlagRow>,
    /// The bulk action bar's choices (`bulk`).
    environments: Vec<String>,
    lifecycles: Vec<&'static str>,
}

struct FlagRow {
    flag_id: String,
    flag_type: &'static str,
    description: String,
    owner: Option<String>,
    lifecycle: Option<&'static str>,
    tags: Vec<String>,
    version: i64,
    updated_at: String,
}

/// `GET /flags`.
pub async fn show_flags(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    Query(query): Query<FlagsQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Flags", "flags", &uri).await;
    let needle = query.q.trim().to_lowercase();
    let flags = live
        .flags
        .values()
        .filter(|stored| flag_matches(&stored.flag, &needle))
        .map(|stored| FlagRow {
            flag_id: stored.flag.flag_id.clone(),
            flag_type: stored.flag.flag_type.as_str(),
            description: stored.flag.description.clone().unwrap_or_default(),
            owner: stored.flag.owner.clone(),
            lifecycle: stored.flag.lifecycle.map(|l| l.as_str()),
            tags: stored.flag.tags.clone(),
            version: stored.version,
            updated_at: format_time(stored.updated_at),
        })
        .collect();
    render(&FlagsPage {
        shell,
        q: query.q,
        total: live.flags.len(),
        flags,
        environments: environments_in_tree_order(&live)
            .into_iter()
            .map(|e| e.key)
            .collect(),
        lifecycles: ff_engine::Lifecycle::ALL
            .iter()
            .map(|l| l.as_str())
            .collect(),
    })
}

/// Whether a flag is shown for a search (`needle` in lower case; empty:
/// every flag): its key, description or a tag contains it.
pub(super) fn flag_matches(flag: &ff_engine::Flag, needle: &str) -> bool {
    needle.is_empty()
        || flag.flag_id.contains(needle)
        || flag
            .description
            .as_ref()
            .is_some_and(|d| d.to_lowercase().contains(needle))
        || flag.tags.iter().any(|t| t.to_lowercase().contains(needle))
}

#[derive(Template)]
#[template(path = "segments.html")]
struct SegmentsPage {
    shell: Shell,
    segments: Vec<SegmentRow>,
}

struct SegmentRow {
    segment_id: String,
    description: String,
    conditions: usize,
    used_by: Vec<String>,
}

/// `GET /segments`.
pub async fn show_segments(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Segments", "segments", &uri).await;
    let segments = live
        .segments
        .values()
        .map(|stored| {
            let id = &stored.segment.segment_id;
            SegmentRow {
                segment_id: id.clone(),
                description: stored.segment.description.clone().unwrap_or_default(),
                conditions: stored.segment.conditions.len(),
                used_by: flags_using_segment(&live, id),
            }
        })
        .collect();
    render(&SegmentsPage { shell, segments })
}

/// The flags whose rules use the segment (deleting it is refused while
/// any does).
pub(super) fn flags_using_segment(live: &LiveConfig, segment_id: &str) -> Vec<String> {
    live.flags
        .values()
        .filter(|f| uses_segment(&f.flag, segment_id))
        .map(|f| f.flag.flag_id.clone())
        .collect()
}

/// Whether any rule of the flag (flag level or an environment's) tests
/// membership of the segment.
fn uses_segment(flag: &ff_engine::Flag, segment_id: &str) -> bool {
    rules_use_segment(&flag.targeting_rules, segment_id)
        || flag.environments.values().any(|entry| {
            entry
                .to_config()
                .targeting_rules
                .is_some_and(|rules| rules_use_segment(&rules, segment_id))
        })
}

#[derive(Template)]
#[template(path = "environments.html")]
struct EnvironmentsPage {
    shell: Shell,
    environments: Vec<EnvironmentRow>,
}

struct EnvironmentRow {
    key: String,
    depth: usize,
    parent: Option<String>,
    auto_sync: bool,
    description: String,
    protected: bool,
    approval_required: bool,
    required_approvals: u32,
    /// The windows now: open, or when they next open.
    window: Option<crate::ui::changes::WindowState>,
}

/// `GET /environments`.
pub async fn show_environments(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(
        &state,
        &live,
        &principal,
        "Environments",
        "environments",
        &uri,
    )
    .await;
    let ordered = environments_in_tree_order(&live);
    let now = time::OffsetDateTime::now_utc();
    let depth = |key: &str| {
        let mut depth = 0usize;
        let mut current = live.environments.get(key);
        while let Some(parent) = current.and_then(|e| e.environment.tree.parent.as_deref()) {
            depth = depth.saturating_add(1);
            current = live.environments.get(parent);
            if depth > ordered.len() {
                break;
            }
        }
        depth
    };
    let environments = ordered
        .iter()
        .filter_map(|e| live.environments.get(&e.key))
        .map(|stored| {
            let settings = &stored.environment;
            EnvironmentRow {
                key: settings.tree.key.clone(),
                depth: depth(&settings.tree.key),
                parent: settings.tree.parent.clone(),
                auto_sync: settings.tree.auto_sync,
                description: settings.description.clone().unwrap_or_default(),
                protected: settings.protected,
                approval_required: settings.approval_required,
                required_approvals: settings.required_approvals,
                window: crate::ui::changes::window_state(&settings.change_windows, now),
            }
        })
        .collect();
    render(&EnvironmentsPage {
        shell,
        environments,
    })
}
