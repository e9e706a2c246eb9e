//! `/keys`: API keys (never their secrets), created and revoked through the
//! API's own handlers (`POST /api/v1/api-keys`, `DELETE …/{id}`); admins
//! only, as there. A new key's secret is shown once, on the page that
//! answers the form (never in a URL, never cached), with a copy button.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use axum::{Form, extract};
use ff_api_types::CreateApiKeyRequest;
use ff_store::{KeyKind, Role};
use serde::Deserialize;

use crate::auth::{Principal, kind_name};
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::routes::api_keys;
use crate::state::AppState;
use crate::ui::actions::{
    CommonFields, Retry, api_message, back_to, body_json, check_csrf, confirm, write_headers,
};
use crate::ui::dashboard::{Choice, NewKey, first_run};
use crate::ui::shell::{PageResult, Shell, format_time, redirect_with_flash, render, viewer};

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    shell: Shell,
    allowed: bool,
    keys: Vec<KeyRow>,
    environments: Vec<Choice>,
    created: Option<NewKey>,
    own_id: String,
}

struct KeyRow {
    id: String,
    name: String,
    kind: &'static str,
    scope: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

/// `GET /keys`.
pub async fn show_keys(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    keys_page(&state, &principal, &uri, None).await
}

async fn keys_page(
    state: &AppState,
    principal: &Principal,
    uri: &Uri,
    created: Option<NewKey>,
) -> PageResult {
    let live = state.live.current();
    let shell = Shell::new(state, &live, principal, "API keys", "keys", uri).await;
    let allowed = principal.require(Role::Admin).is_ok();
    let mut keys: Vec<KeyRow> = Vec::new();
    if allowed {
        let mut all: Vec<_> = live.keys_by_hash.values().collect();
        // Active keys first, oldest first.
        all.sort_by_key(|k| (k.revoked_at.is_some(), k.created_at));
        keys = all
            .into_iter()
            .map(|key| KeyRow {
                id: key.id.clone(),
                name: key.name.clone(),
                kind: kind_name(key.kind),
                scope: match (key.kind, key.role, &key.environment) {
                    (KeyKind::Admin, Some(role), _) => role.name().to_owned(),
                    (_, _, Some(env)) => env.clone(),
                    _ => String::new(),
                },
                prefix: key.prefix.clone(),
                created: format_time(key.created_at),
                last_used: key
                    .last_used_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".to_owned()),
                revoked: key.revoked_at.is_some(),
            })
            .collect();
    }
    let environments: Vec<String> = live.environments.keys().cloned().collect();
    render(&KeysPage {
        shell,
        allowed,
        keys,
        environments: Choice::list(environments.iter().map(String::as_str), "production"),
        created,
        own_id: principal.key_id().to_owned(),
    })
    .map(no_store)
}

/// The form of `POST /keys`.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    name: String,
    /// `server`, `client` or `admin`.
    kind: String,
    /// For server and client keys.
    #[serde(default)]
    environment: String,
    /// For admin keys.
    #[serde(default)]
    role: String,
    /// `welcome`: answer with the first-run page, its snippets filled in.
    #[serde(default)]
    from: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /keys`: creates a key as `POST /api/v1/api-keys` does and shows
/// its secret once.
pub async fn create_key(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CreateForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let admin = form.kind == "admin";
    let request = CreateApiKeyRequest {
        name: form.name.trim().to_owned(),
        kind: form.kind.clone(),
        role: admin.then(|| form.role.clone()),
        environment: (!admin).then(|| form.environment.clone()),
        environments: None,
        environment_roles: None,
    };
    let result = api_keys::create_api_key(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    let answer = match result {
        Ok(response) => body_json(response).await,
        Err(error) => {
            let back = back_to(&headers, &form.common, "/keys");
            return Ok(redirect_with_flash(
                &back,
                "error",
                &api_message(error).await,
            ));
        }
    };
    let created = NewKey {
        name: answer["name"].as_str().unwrap_or_default().to_owned(),
        secret: answer["key"].as_str().unwrap_or_default().to_owned(),
        environment: answer["environment"]
            .as_str()
            .or(answer["role"].as_str())
            .unwrap_or_default()
            .to_owned(),
    };
    if form.from == "welcome" {
        let live = state.live.current();
        let shell = Shell::new(&state, &live, &principal, "Welcome", "dashboard", &uri).await;
        return render(&first_run(
            shell,
            &live,
            &state.config,
            &headers,
            Some(created),
        ))
        .map(no_store);
    }
    keys_page(&state, &principal, &uri, Some(created)).await
}

/// `POST /keys/{id}/revoke`: as `DELETE /api/v1/api-keys/{id}`.
pub async fn revoke_key(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(id): extract::Path<String>,
    Form(common): Form<CommonFields>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &common)?;
    if common.confirmed != "yes" {
        // Without the script's dialog: ask on a page of its own.
        let retry = Retry {
            heading: format!("Revoke key {id}?"),
            action_url: format!("/keys/{id}/revoke"),
            hidden: Vec::new(),
            button: "Revoke".to_owned(),
            danger: true,
        };
        let note = "Whatever uses this key is refused at once; a revoked key cannot be restored.";
        return confirm(&state, &principal, &common, "/keys", &retry, note).await;
    }
    let result = api_keys::revoke_api_key(
        State(state.clone()),
        principal,
        write_headers(&headers, &common, None),
        Path(id.clone()),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash("/keys", "ok", &format!("Key {id} is revoked.")),
        Err(error) => redirect_with_flash("/keys", "error", &api_message(error).await),
    })
}

/// A page that shows a secret is never stored by the browser or a proxy.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
