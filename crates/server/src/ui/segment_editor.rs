//! The segment editor: `/new-segment` and `/segments/{segment_id}/edit`
//! (not `/segments/new`: `new` is a valid segment key), and
//! `POST /segments/{segment_id}/delete`.
//!
//! One form holds the segment: its key, description and conditions, the
//! condition rows being the flag editor's own (`editor::draft`'s
//! `ConditionDraft`, `editor::view`'s `condition_view` and the
//! `condition` macro of `editor_macros.html`). As in the flag editor, the
//! buttons that add or remove a row post the form back (`op=`), field names
//! are the document paths the engine's problems carry, and saving goes
//! through the API's own handlers (`POST /api/v1/segments`,
//! `PUT /api/v1/segments/{id}` with the form's version as `If-Match`, and
//! its reason), so the audit and every rule of the API apply. Deleting is
//! `DELETE /api/v1/segments/{id}`, refused while a flag uses the segment:
//! the API's answer is shown.

use askama::Template;
use axum::Form;
use axum::extract::{self, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use ff_engine::{Problem, Segment};
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::live::LiveConfig;
use crate::routes::segments;
use crate::state::AppState;
use crate::ui::actions::{Retry, api_message, confirm, write_headers};
use crate::ui::editor::draft::{ConditionDraft, FormFields};
use crate::ui::editor::view::{
    ConditionView, Field, Outcome, Placer, SummaryItem, attribute_suggestions, condition_view,
    describe,
};
use crate::ui::form_data::{self, Submitted};
use crate::ui::shell::{PageResult, Shell, UiError, redirect_with_flash, render, viewer};

/// The segment as the form's fields hold it.
#[derive(Debug, Clone, Default)]
struct SegmentDraft {
    segment_id: String,
    description: String,
    conditions: Vec<ConditionDraft>,
}

impl SegmentDraft {
    /// A new segment: one empty condition to fill in.
    fn new_segment() -> SegmentDraft {
        SegmentDraft {
            conditions: vec![ConditionDraft::empty()],
            ..SegmentDraft::default()
        }
    }

    fn from_segment(segment: &Segment) -> SegmentDraft {
        SegmentDraft {
            segment_id: segment.segment_id.clone(),
            description: segment.description.clone().unwrap_or_default(),
            conditions: segment
                .conditions
                .iter()
                .map(ConditionDraft::from_condition)
                .collect(),
        }
    }

    fn from_form(pairs: &[(String, String)]) -> SegmentDraft {
        let form = FormFields::new(pairs);
        SegmentDraft {
            segment_id: form.get("segment_id"),
            description: form.get("description"),
            conditions: form.conditions("conditions"),
        }
    }

    /// The document the API takes, or the operands that do not read (at
    /// their paths); the engine checks the rest.
    fn to_document(&self) -> Result<Value, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut doc = Map::new();
        doc.insert("segment_id".into(), self.segment_id.trim().into());
        let description = self.description.trim();
        if !description.is_empty() {
            doc.insert("description".into(), description.into());
        }
        let conditions = self
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| c.to_document(&format!("conditions[{j}]"), &mut problems))
            .collect();
        doc.insert("conditions".into(), Value::Array(conditions));
        if problems.is_empty() {
            Ok(Value::Object(doc))
        } else {
            Err(problems)
        }
    }

    /// Carries out a row button (`add_condition`, `remove_condition|j`);
    /// `false` if it names nothing that exists.
    fn apply_op(&mut self, op: &str) -> bool {
        let mut parts = op.split('|');
        match (parts.next(), parts.next().map(str::parse::<usize>)) {
            (Some("add_condition"), None) => {
                self.conditions.push(ConditionDraft::empty());
                true
            }
            (Some("remove_condition"), Some(Ok(j))) if j < self.conditions.len() => {
                self.conditions.remove(j);
                true
            }
            (Some("refresh"), None) => true,
            _ => false,
        }
    }
}

#[derive(Template)]
#[template(path = "segment_edit.html")]
struct SegmentEditPage {
    shell: Shell,
    is_new: bool,
    segment_id: String,
    action_url: String,
    version: String,
    summary: Vec<SummaryItem>,
    message: Option<String>,
    key: Field,
    description: Field,
    conditions: Vec<ConditionView>,
    /// Problems about the conditions as a whole.
    conditions_id: String,
    condition_problems: Vec<String>,
    reason: Field,
    /// The flags whose rules use it (deleting is refused while any does).
    used_by: Vec<String>,
    attribute_suggestions: Vec<String>,
}

/// `GET /new-segment`.
pub async fn show_new_segment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = editor(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "New segment", "segments", &uri).await;
    let page = build(
        shell,
        &live,
        SegmentDraft::new_segment(),
        None,
        Outcome::default(),
        "",
    );
    render(&page)
}

/// `GET /segments/{segment_id}/edit`.
pub async fn show_edit_segment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    extract::Path(segment_id): extract::Path<String>,
) -> PageResult {
    let principal = editor(principal)?;
    let live = state.live.current();
    let stored = live
        .segments
        .get(&segment_id)
        .ok_or_else(|| UiError(ApiError::not_found("segment", &segment_id)))?;
    let draft = SegmentDraft::from_segment(&stored.segment);
    let shell = Shell::new(&state, &live, &principal, "", "segments", &uri).await;
    let page = build(
        shell,
        &live,
        draft,
        Some(stored.version),
        Outcome::default(),
        "",
    );
    render(&page)
}

/// `POST /new-segment`.
pub async fn submit_new_segment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = editor(principal)?;
    let form = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let draft = SegmentDraft::from_form(&pairs);
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "", "segments", &uri).await;
    if !form.saves() {
        return rework(shell, &live, draft, None, &form);
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => {
            return answer(
                shell,
                &live,
                draft,
                None,
                Outcome::problems(problems),
                &form,
            );
        }
    };
    let segment_id = draft.segment_id.trim().to_owned();
    let result = segments::create_segment(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(document),
    )
    .await;
    match result {
        Ok(_) => Ok(redirect_with_flash(
            "/segments",
            "ok",
            &format!("Created segment {segment_id}."),
        )),
        Err(error) => {
            let outcome = Outcome::from_error_keyed(error, "segment_id").await;
            answer(shell, &live, draft, None, outcome, &form)
        }
    }
}

/// `POST /segments/{segment_id}/edit`.
pub async fn submit_edit_segment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    extract::Path(segment_id): extract::Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = editor(principal)?;
    let form = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let mut draft = SegmentDraft::from_form(&pairs);
    // A segment is never renamed: the URL names it.
    draft.segment_id.clone_from(&segment_id);
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "", "segments", &uri).await;
    if !form.saves() {
        return rework(shell, &live, draft, form.version, &form);
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => {
            let outcome = Outcome::problems(problems);
            return answer(shell, &live, draft, form.version, outcome, &form);
        }
    };
    let result = segments::replace_segment(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, form.version),
        Path(segment_id.clone()),
        JsonBody(document),
    )
    .await;
    match result {
        Ok(saved) => Ok(redirect_with_flash(
            "/segments",
            "ok",
            &format!("Saved segment {segment_id} (version {}).", saved.0.version),
        )),
        Err(ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        }) => {
            // Saving again saves over what changed meanwhile (on purpose
            // now: the page said so).
            let current = details["current_version"].as_i64().or(form.version);
            let outcome = Outcome {
                message: Some(
                    "Someone saved this segment while you were editing. Your edits are below and \
                     were not saved: save again to replace their version, or reload to start \
                     from theirs."
                        .to_owned(),
                ),
                status: Some(StatusCode::CONFLICT),
                ..Outcome::default()
            };
            answer(shell, &live, draft, current, outcome, &form)
        }
        Err(error) => {
            let outcome = Outcome::from_error_keyed(error, "segment_id").await;
            answer(shell, &live, draft, form.version, outcome, &form)
        }
    }
}

/// `POST /segments/{segment_id}/delete`: as `DELETE /api/v1/segments/{id}`
/// (asks first; refused while a flag uses it).
pub async fn delete_segment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(segment_id): extract::Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = editor(principal)?;
    let form = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let back = format!("/segments/{segment_id}/edit");
    if !form.confirmed() {
        // Without the script's dialog: ask on a page of its own.
        let retry = Retry {
            heading: format!("Delete segment {segment_id}?"),
            action_url: format!("/segments/{segment_id}/delete"),
            hidden: form
                .version
                .map(|v| ("version", v.to_string()))
                .into_iter()
                .collect(),
            button: "Delete segment".to_owned(),
            danger: true,
        };
        let note = "Rules can no longer target it; it is gone from the list at once.";
        return confirm(&state, &principal, &form.common, &back, &retry, note).await;
    }
    let result = segments::delete_segment(
        State(state.clone()),
        principal,
        write_headers(&headers, &form.common, form.version),
        Path(segment_id.clone()),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash("/segments", "ok", &format!("Deleted segment {segment_id}.")),
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// Carries out a row button and answers the form again, as typed.
fn rework(
    shell: Shell,
    live: &LiveConfig,
    mut draft: SegmentDraft,
    version: Option<i64>,
    form: &Submitted,
) -> PageResult {
    let outcome = if draft.apply_op(&form.op) {
        Outcome::default()
    } else {
        Outcome::message("That row is gone already; the form shows what is left.")
    };
    answer(shell, live, draft, version, outcome, form)
}

/// The form again, with what stopped the save (and its status).
fn answer(
    shell: Shell,
    live: &LiveConfig,
    draft: SegmentDraft,
    version: Option<i64>,
    outcome: Outcome,
    form: &Submitted,
) -> PageResult {
    let status = outcome.status();
    let page = build(shell, live, draft, version, outcome, &form.common.reason);
    let html = render(&page)?;
    Ok((status, html).into_response())
}

fn build(
    mut shell: Shell,
    live: &LiveConfig,
    draft: SegmentDraft,
    version: Option<i64>,
    outcome: Outcome,
    reason: &str,
) -> SegmentEditPage {
    let placer = Placer::at_paths(
        outcome
            .problems
            .iter()
            .map(|p| (p.path.clone(), p.message.clone())),
    );
    let is_new = version.is_none();
    let segment_id = draft.segment_id.clone();
    shell.title = if is_new {
        "New segment".to_owned()
    } else {
        format!("Edit segment {segment_id}")
    };
    let key = placer.field("segment_id", &draft.segment_id);
    let description = placer.field("description", &draft.description);
    let (conditions_id, condition_problems) = placer.part("conditions", &[]);
    let conditions = draft
        .conditions
        .iter()
        .enumerate()
        .map(|(j, c)| {
            condition_view(
                c,
                &format!("conditions[{j}]"),
                &placer,
                format!("remove_condition|{j}"),
                (super::ordinal(j), "the segment".to_owned()),
            )
        })
        .collect();
    let reason = placer.field("reason", reason);
    let summary = outcome
        .problems
        .iter()
        .map(|p| SummaryItem {
            message: format!("{}: {}", describe_path(&p.path), p.message),
            anchor: placer.anchor(&p.path),
        })
        .collect();
    let used_by = if is_new {
        Vec::new()
    } else {
        crate::ui::lists::flags_using_segment(live, &segment_id)
    };
    SegmentEditPage {
        shell,
        is_new,
        action_url: if is_new {
            "/new-segment".to_owned()
        } else {
            format!("/segments/{segment_id}/edit")
        },
        version: version.map(|v| v.to_string()).unwrap_or_default(),
        summary,
        message: outcome.message,
        key,
        description,
        conditions,
        conditions_id,
        condition_problems,
        reason,
        used_by,
        attribute_suggestions: attribute_suggestions(live),
        segment_id,
    }
}

/// A segment's path in words (`condition 2 › value`, `key`).
fn describe_path(path: &str) -> String {
    match path {
        "segment_id" => "key".to_owned(),
        "" => "the segment".to_owned(),
        other => describe(other, &[]),
    }
}

/// Segments are changed by editors and up; a viewer is told so.
fn editor(principal: Result<Principal, ApiError>) -> Result<Principal, UiError> {
    let principal = viewer(principal)?;
    principal.require(ff_store::Role::Editor)?;
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_reads_into_the_segment_document() {
        let draft = SegmentDraft::from_form(&pairs(&[
            ("segment_id", " beta_testers "),
            ("description", "People who asked"),
            ("conditions[0].attribute", "email"),
            ("conditions[0].operator", "ends_with"),
            ("conditions[0].value", "@example.com"),
            ("conditions[1].attribute", "country"),
            ("conditions[1].operator", "in"),
            ("conditions[1].value", "IT, FR"),
        ]));
        let document = match draft.to_document() {
            Ok(document) => document,
            Err(problems) => panic!("{problems:?}"),
        };
        assert_eq!(
            document,
            json!({
                "segment_id": "beta_testers",
                "description": "People who asked",
                "conditions": [
                    {"attribute": "email", "operator": "ends_with", "value": "@example.com"},
                    {"attribute": "country", "operator": "in", "value": ["IT", "FR"]},
                ]
            })
        );
        // Read back from the stored segment: the same fields.
        let segment = match ff_engine::parse_segment(&document) {
            Ok(segment) => segment,
            Err(problems) => panic!("{problems:?}"),
        };
        let again = SegmentDraft::from_segment(&segment);
        assert_eq!(again.conditions[1].value, "IT, FR");
        assert_eq!(again.segment_id, "beta_testers");
    }

    #[test]
    fn row_buttons_add_and_remove_conditions() {
        let mut draft = SegmentDraft::new_segment();
        assert!(draft.apply_op("add_condition"));
        assert_eq!(draft.conditions.len(), 2);
        assert!(draft.apply_op("remove_condition|0"));
        assert_eq!(draft.conditions.len(), 1);
        assert!(!draft.apply_op("remove_condition|5"));
        assert!(!draft.apply_op("remove_condition|x"));
        assert!(!draft.apply_op("explode"));
    }

    #[test]
    fn operands_that_do_not_read_are_problems_at_their_path() {
        let draft = SegmentDraft::from_form(&pairs(&[
            ("segment_id", "adults"),
            ("conditions[0].attribute", "age"),
            ("conditions[0].operator", "gte"),
            ("conditions[0].value", "eighteen"),
        ]));
        let Err(problems) = draft.to_document() else {
            panic!("a word read as a number");
        };
        assert_eq!(problems[0].path, "conditions[0].value");
        assert_eq!(describe_path(&problems[0].path), "condition 1 › value");
    }
}
