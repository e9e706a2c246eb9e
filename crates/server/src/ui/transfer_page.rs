//! `/import` and `/export`: the whole configuration as a file, through the
//! API's own handlers (`POST /api/v1/import`, `GET /api/v1/export`).
//!
//! An import is two steps. The form (a file upload, or a document pasted)
//! is first sent to the import's dry run, and the page shows what it would
//! create, update (path by path) and delete, or the problems that refuse it,
//! each with its path in the file. Applying sends the same document again,
//! with a reason, in one transaction (a change request where an environment
//! wants approval). Works without JavaScript: the form is a plain multipart
//! form, and the previewed document travels in a hidden field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ff_api_types::{ExportQuery, ImportQuery, ImportReport};
use ff_store::Role;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{QueryParams, RawBody};
use crate::routes::transfer;
use crate::state::AppState;
use crate::ui::actions::{CommonFields, Retry, body_json, check_csrf, outcome, write_headers};
use crate::ui::form_data::FormFields;
use crate::ui::shell::{PageResult, Shell, UiError, redirect_with_flash, render, viewer};

/// The source named when the document was pasted rather than uploaded.
const PASTED: &str = "the pasted document";

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    shell: Shell,
    can_import: bool,
    /// What was previewed, if anything.
    report: Option<ReportView>,
    /// The previewed document, sent again to apply it.
    document: String,
    /// Its format (`json`, `yaml`, or empty: recognised by its first character).
    format: String,
    /// Where the document came from (`flags.yaml`, "the pasted document").
    source: String,
    /// Pasted text, kept when it is refused so that it can be corrected.
    text: String,
    prune: bool,
    /// The problems that refuse the document, each with its path.
    problems: Vec<ProblemRow>,
    /// A refusal that is not about a place in the document.
    error: Option<String>,
}

struct ProblemRow {
    path: String,
    message: String,
}

/// What a dry run answered, for people.
struct ReportView {
    created: Vec<ItemRow>,
    updated: Vec<ItemRow>,
    deleted: Vec<ItemRow>,
    unchanged: u64,
}

impl ReportView {
    fn changes(&self) -> usize {
        [&self.created, &self.updated, &self.deleted]
            .iter()
            .map(|list| list.len())
            .fold(0, usize::saturating_add)
    }
}

struct ItemRow {
    kind: String,
    key: String,
    changes: Vec<ChangeRow>,
}

struct ChangeRow {
    path: String,
    before: Option<String>,
    after: Option<String>,
}

impl ImportPage {
    /// Where the document came from, at the start of a sentence (a file's
    /// name as it is).
    fn source_title(&self) -> String {
        if self.source == PASTED {
            "The pasted document".to_owned()
        } else {
            self.source.clone()
        }
    }

    fn new(shell: Shell, principal: &Principal) -> ImportPage {
        ImportPage {
            shell,
            can_import: principal.require(Role::Editor).is_ok(),
            report: None,
            document: String::new(),
            format: String::new(),
            source: String::new(),
            text: String::new(),
            prune: false,
            problems: Vec::new(),
            error: None,
        }
    }
}

/// `GET /import`.
pub async fn show_import(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    let shell = shell(&state, &principal, &uri).await;
    render(&ImportPage::new(shell, &principal))
}

async fn shell(state: &AppState, principal: &Principal, uri: &Uri) -> Shell {
    let live = state.live.current();
    Shell::new(state, &live, principal, "Import and export", "flags", uri).await
}

/// `POST /import`: `step=preview` (the dry run; multipart, with a file or
/// pasted text) or `step=apply` (the previewed document, with a reason).
pub async fn post_import(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> PageResult {
    let principal = principal?;
    let form = FormFields::read(&headers, &body)?;
    let common = form.common();
    check_csrf(&principal, &common)?;
    let prune = form.text("prune") == "yes";
    if form.text("step") == "apply" {
        let document = form.text("document");
        let format = form.text("format");
        return apply(
            &state, &principal, &headers, &common, document, format, prune,
        )
        .await;
    }
    // The preview: a chosen file wins over pasted text.
    let text = form.text("text");
    let (document, source, format) = match form.file("file") {
        Some(file) => {
            let name = file.filename.clone().unwrap_or_default();
            let format = format_of(&name);
            match String::from_utf8(file.value.clone()) {
                Ok(document) => (document, name, format),
                Err(_) => {
                    let mut page =
                        ImportPage::new(shell(&state, &principal, &uri).await, &principal);
                    page.source = name.clone();
                    page.error = Some(format!(
                        "{name} is not a text file (UTF-8): export a JSON or YAML document and upload that."
                    ));
                    return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
                }
            }
        }
        None => (text.clone(), PASTED.to_owned(), String::new()),
    };
    let mut page = ImportPage::new(shell(&state, &principal, &uri).await, &principal);
    page.prune = prune;
    page.source = source;
    if document.trim().is_empty() {
        page.error = Some("Choose a JSON or YAML file, or paste a document, to preview.".into());
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let result = transfer::import_configuration(
        State(state.clone()),
        principal.clone(),
        document_headers(&headers, &common),
        QueryParams(ImportQuery {
            dry_run: true,
            prune,
            format: non_empty(&format),
        }),
        RawBody(Bytes::from(document.clone())),
    )
    .await;
    match result {
        Ok(response) => {
            let answer = body_json(response).await;
            match serde_json::from_value::<ImportReport>(answer) {
                Ok(report) => {
                    page.report = Some(report_view(report));
                    page.document = document;
                    page.format = format;
                    render(&page)
                }
                Err(_) => Err(UiError(ApiError::Internal(
                    "the import's dry run answered an unexpected report".into(),
                ))),
            }
        }
        Err(ApiError::Validation(problems)) => {
            page.problems = problems
                .into_iter()
                .map(|p| ProblemRow {
                    path: if p.path.is_empty() {
                        "(the document)".to_owned()
                    } else {
                        p.path
                    },
                    message: p.message,
                })
                .collect();
            page.text = text;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => {
            let (status, message) = refusal(error).await;
            page.error = Some(message);
            page.text = text;
            render_with(status, &page)
        }
    }
}

/// Applies a previewed document.
async fn apply(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    common: &CommonFields,
    document: String,
    format: String,
    prune: bool,
) -> PageResult {
    let back = "/import";
    if document.trim().is_empty() {
        return Ok(redirect_with_flash(
            back,
            "error",
            "Nothing to import: choose a file and preview it first.",
        ));
    }
    let result = transfer::import_configuration(
        State(state.clone()),
        principal.clone(),
        document_headers(headers, common),
        QueryParams(ImportQuery {
            dry_run: false,
            prune,
            format: non_empty(&format),
        }),
        RawBody(Bytes::from(document.clone())),
    )
    .await;
    match result {
        Ok(response) if response.status() == StatusCode::OK => {
            let report = serde_json::from_value::<ImportReport>(body_json(response).await).ok();
            let message = match report {
                Some(r) if r.created.is_empty() && r.updated.is_empty() && r.deleted.is_empty() => {
                    "Nothing to import: everything in the document is already so.".to_owned()
                }
                Some(r) => format!(
                    "Imported: {} created, {} updated, {} deleted.",
                    r.created.len(),
                    r.updated.len(),
                    r.deleted.len()
                ),
                None => "Imported.".to_owned(),
            };
            Ok(redirect_with_flash(back, "ok", &message))
        }
        other => {
            let retry = Retry {
                heading: "Apply this import?".to_owned(),
                action_url: "/import".to_owned(),
                hidden: vec![
                    ("step", "apply".to_owned()),
                    ("document", document),
                    ("format", format),
                    ("prune", if prune { "yes" } else { "" }.to_owned()),
                ],
                button: "Apply the import".to_owned(),
                danger: prune,
            };
            outcome(state, principal, common, back, other, retry, "Imported.").await
        }
    }
}

/// The request's headers for the import handler: the form's reason and
/// confirmation, and no `Content-Type` of the form (the format is given in
/// the query, or recognised).
fn document_headers(headers: &HeaderMap, common: &CommonFields) -> HeaderMap {
    let mut out = write_headers(headers, common, None);
    out.remove(header::CONTENT_TYPE);
    out.remove(header::CONTENT_LENGTH);
    out
}

/// The format a file's name says (`json`, `yaml`), or none.
fn format_of(filename: &str) -> String {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".json") {
        "json".to_owned()
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        "yaml".to_owned()
    } else {
        String::new()
    }
}

/// The status and message of an API refusal.
async fn refusal(error: ApiError) -> (StatusCode, String) {
    let response = error.into_response();
    let status = response.status();
    let body = body_json(response).await;
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("the import was refused")
        .to_owned();
    (status, message)
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn report_view(report: ImportReport) -> ReportView {
    let item = |i: ff_api_types::ImportItem| ItemRow {
        kind: i.kind,
        key: i.key,
        changes: i
            .differences
            .unwrap_or_default()
            .into_iter()
            .map(|d| ChangeRow {
                path: if d.path.is_empty() {
                    "(the whole document)".to_owned()
                } else {
                    d.path
                },
                before: d.before.as_ref().map(pretty),
                after: d.after.as_ref().map(pretty),
            })
            .collect(),
    };
    ReportView {
        created: report.created.into_iter().map(item).collect(),
        updated: report.updated.into_iter().map(item).collect(),
        deleted: report.deleted.into_iter().map(item).collect(),
        unchanged: report.unchanged,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn render_with<T: Template>(status: StatusCode, page: &T) -> PageResult {
    render(page).map(|response| (status, response).into_response())
}

/// `GET /export?format=json|yaml`.
#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /export`: the export (`GET /api/v1/export`) as a file to save.
pub async fn download_export(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Query(query): Query<DownloadQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let extension = match query.format.as_deref() {
        Some("yaml") => "yaml",
        _ => "json",
    };
    let mut response: Response = transfer::export_configuration(
        State(state),
        principal,
        QueryParams(ExportQuery {
            format: query.format,
        }),
    )
    .await?;
    let disposition = format!("attachment; filename=\"feature-flags.{extension}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
