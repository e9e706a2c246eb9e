//! `POST /bulk`: the flag list's action bar. The flags ticked (or every
//! flag the search shows, from the header's box) get one change, through
//! the API's bulk handler (`POST /api/v1/flags/bulk`): all or nothing, and
//! one change request for the whole batch where an environment wants
//! approval. Deleting asks first, naming how many flags and which.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use ff_api_types::{BulkOperation, BulkRequest};
use serde_json::json;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::bulk::bulk_flags;
use crate::state::AppState;
use crate::ui::actions::{Retry, back_to, check_csrf, confirm, outcome, write_headers};
use crate::ui::form_data::FormFields;
use crate::ui::lists::flag_matches;
use crate::ui::shell::{PageResult, redirect_with_flash};

/// How many flag keys a message names before "and N more".
const NAMED: usize = 10;

/// `POST /bulk`.
pub async fn bulk_change(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let principal = principal?;
    let form = FormFields::read(&headers, &body)?;
    let common = form.common();
    check_csrf(&principal, &common)?;
    let back = back_to(&headers, &common, "/flags");
    let live = state.live.current();
    let mut flags: Vec<String> = if form.text("all_shown") == "yes" {
        // Without the script the header's box means "every flag this
        // search shows", as the page listed them.
        let needle = form.text("q").trim().to_lowercase();
        live.flags
            .values()
            .filter(|stored| flag_matches(&stored.flag, &needle))
            .map(|stored| stored.flag.flag_id.clone())
            .collect()
    } else {
        form.all("flag")
    };
    let mut seen = std::collections::HashSet::new();
    flags.retain(|id| seen.insert(id.clone()));
    if flags.is_empty() {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "Select at least one flag first (the boxes at the start of each row).",
        ));
    }
    let op = form.text("op");
    let environment = form.text("environment");
    let tag = form.text("tag").trim().to_owned();
    let lifecycle = form.text("lifecycle");
    let named = name_flags(&flags);
    let count = plural(flags.len());
    let version = |id: &str| live.flags.get(id).map(|stored| stored.version);
    let (operations, done): (Vec<BulkOperation>, String) = match op.as_str() {
        "enable" | "disable" => {
            let operations = flags
                .iter()
                .map(|id| {
                    let (flag_id, environment) = (id.clone(), environment.clone());
                    if op == "enable" {
                        BulkOperation::Enable {
                            flag_id,
                            environment,
                        }
                    } else {
                        BulkOperation::Disable {
                            flag_id,
                            environment,
                        }
                    }
                })
                .collect();
            let verb = if op == "enable" { "on" } else { "off" };
            (
                operations,
                format!("{count} now {verb} in {environment}: {named}."),
            )
        }
        "tag" => {
            if tag.is_empty() {
                return Ok(redirect_with_flash(
                    &back,
                    "error",
                    "Type the tag to add, then press Add tag.",
                ));
            }
            let mut operations = Vec::new();
            for id in &flags {
                let Some(stored) = live.flags.get(id) else {
                    // The bulk handler reports the unknown flag.
                    operations.push(BulkOperation::Patch {
                        flag_id: id.clone(),
                        patch: json!({}),
                        version: None,
                    });
                    continue;
                };
                if stored.flag.tags.contains(&tag) {
                    continue;
                }
                let mut tags = stored.flag.tags.clone();
                tags.push(tag.clone());
                operations.push(BulkOperation::Patch {
                    flag_id: id.clone(),
                    patch: json!({ "tags": tags }),
                    version: Some(stored.version),
                });
            }
            if operations.is_empty() {
                return Ok(redirect_with_flash(
                    &back,
                    "ok",
                    &format!("Nothing to do: {named} already tagged #{tag}."),
                ));
            }
            (operations, format!("Tagged #{tag}: {named}."))
        }
        "lifecycle" => {
            let operations = flags
                .iter()
                .map(|id| BulkOperation::Patch {
                    flag_id: id.clone(),
                    patch: json!({ "lifecycle": lifecycle }),
                    version: version(id),
                })
                .collect();
            (
                operations,
                format!("{count} now in the {lifecycle} stage: {named}."),
            )
        }
        "delete" => {
            let operations = flags
                .iter()
                .map(|id| BulkOperation::Delete {
                    flag_id: id.clone(),
                    version: version(id),
                })
                .collect();
            (operations, format!("Deleted {count}: {named}."))
        }
        _ => {
            return Ok(redirect_with_flash(
                &back,
                "error",
                "Choose what to do with the selected flags: one of the action bar's buttons.",
            ));
        }
    };
    let mut hidden: Vec<(&'static str, String)> = vec![
        ("op", op.clone()),
        ("environment", environment.clone()),
        ("tag", tag.clone()),
        ("lifecycle", lifecycle.clone()),
    ];
    hidden.extend(flags.iter().map(|id| ("flag", id.clone())));
    let retry = Retry {
        heading: match op.as_str() {
            "delete" => format!("Delete {count}?"),
            "enable" => format!("Turn {count} on in {environment}?"),
            "disable" => format!("Turn {count} off in {environment}?"),
            "tag" => format!("Tag {count} #{tag}?"),
            _ => format!("Move {count} to {lifecycle}?"),
        },
        action_url: "/bulk".to_owned(),
        hidden,
        button: match op.as_str() {
            "delete" => format!("Delete {count}"),
            _ => "Apply".to_owned(),
        },
        danger: op == "delete" || op == "disable",
    };
    if op == "delete" && common.confirmed != "yes" {
        let note = format!(
            "{named} will be deleted, all at once or not at all. Deleted flags are kept: \
             each can be restored from the API (POST /api/v1/flags/{{id}}/restore)."
        );
        return confirm(&state, &principal, &common, &back, &retry, &note).await;
    }
    let reason = common.reason.trim();
    let request = BulkRequest {
        operations,
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        deployment_id: None,
    };
    let result = bulk_flags(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &common, None),
        JsonBody(request),
    )
    .await;
    outcome(&state, &principal, &common, &back, result, retry, &done).await
}

/// "a, b and c", or the first few "and 12 more".
fn name_flags(flags: &[String]) -> String {
    match flags {
        [] => String::new(),
        [one] => one.clone(),
        _ if flags.len() > NAMED => format!(
            "{} and {} more",
            flags[..NAMED].join(", "),
            flags.len().saturating_sub(NAMED)
        ),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 flag".to_owned()
    } else {
        format!("{count} flags")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named() {
        let names = |n: usize| (0..n).map(|i| format!("f{i}")).collect::<Vec<_>>();
        assert_eq!(name_flags(&names(1)), "f0");
        assert_eq!(name_flags(&names(3)), "f0, f1 and f2");
        assert_eq!(
            name_flags(&names(12)),
            "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 and 2 more"
        );
        assert_eq!(plural(1), "1 flag");
        assert_eq!(plural(2), "2 flags");
    }
}
