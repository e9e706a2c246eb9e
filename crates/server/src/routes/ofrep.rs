//! OpenFeature Remote Evaluation Protocol (OFREP): what makes every
//! OpenFeature SDK (Kotlin, Swift, JS, Python, Go, Java …) a client of this
//! service without code of ours. Spec: `shared/reference/ofrep/openapi.yaml`.
//!
//! Compatibility details real providers depend on: `key`, `reason` and
//! `variant` on every success (a variant is named even for disabled flags);
//! only standard OpenFeature reasons (`PREREQUISITE_FAILED` is sent as
//! `DISABLED`, with the detail in `metadata`); numbers of a float flag are
//! sent as floats (`10.0`) and of an integer flag as integers; errors are
//! `{key, errorCode, errorDetails}`; the bulk answer's `ETag` is a hash of the
//! evaluated result, so a changed context never gets a wrong `304`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ff_engine::{Context, EnvironmentSnapshot, ErrorCode, Reason, Resolution};
use std::borrow::Cow;

use ff_api_types::{
    OfrepBulkEvaluation, OfrepBulkMetadata, OfrepEndpoint, OfrepError, OfrepEvaluation,
    OfrepEventStream, OfrepFlag, OfrepMetadata, OfrepQuery,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, RawBody};
use crate::live::LiveConfig;
use crate::state::AppState;

/// `POST /ofrep/v1/evaluate/flags/{key}`: one flag (server-side providers).
pub async fn evaluate_flag(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    query: Result<QueryParams<OfrepQuery>, ApiError>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let query = match query {
        Ok(QueryParams(query)) => query,
        Err(refused) => {
            return Ok(Failure(StatusCode::BAD_REQUEST, refused.to_string()).into_response());
        }
    };
    let live = state.live.current();
    let snapshot = match environment_snapshot(&live, &principal, query.environment.as_deref()) {
        Ok(snapshot) => snapshot,
        Err(failure) => return Ok(failure.into_response()),
    };
    let context = match read_context(&body) {
        Ok(context) => context,
        Err((code, details)) => {
            return Ok(failure(StatusCode::BAD_REQUEST, Some(&key), code, &details));
        }
    };
    let resolution = snapshot.evaluate(&key, &context);
    let now = state.clock.now();
    state.flag_usage.record(&key, now);
    super::evaluate::count(
        &state,
        &live,
        &key,
        snapshot.key(),
        &resolution,
        &context,
        now,
    );
    if resolution.error_code == Some(ErrorCode::FlagNotFound) {
        let details = format!("flag '{key}' was not found");
        return Ok(failure(
            StatusCode::NOT_FOUND,
            Some(&key),
            "FLAG_NOT_FOUND",
            &details,
        ));
    }
    // Serialised straight from borrowed parts: this is the hot path of
    // every server-side OpenFeature provider.
    Ok(match evaluated(&live, &key, &resolution) {
        Ok(evaluated) => (StatusCode::OK, Json(evaluated)).into_response(),
        Err(error) => (StatusCode::OK, Json(error)).into_response(),
    })
}

/// `POST /ofrep/v1/evaluate/flags`: every flag for one context (client-side
/// providers), with an `ETag` of the result and `304` on `If-None-Match`.
pub async fn evaluate_flags(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    query: Result<QueryParams<OfrepQuery>, ApiError>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let query = match query {
        Ok(QueryParams(query)) => query,
        Err(refused) => {
            return Ok(Failure(StatusCode::BAD_REQUEST, refused.to_string()).into_response());
        }
    };
    let live = state.live.current();
    let snapshot = match environment_snapshot(&live, &principal, query.environment.as_deref()) {
        Ok(snapshot) => snapshot,
        Err(failure) => return Ok(failure.into_response()),
    };
    let context = match read_context(&body) {
        Ok(context) => context,
        Err((code, details)) => return Ok(failure(StatusCode::BAD_REQUEST, None, code, &details)),
    };
    state.flag_usage.record_all(state.clock.now());
    let flags: Vec<OfrepFlag> = snapshot
        .evaluate_all(&context)
        .map(|(key, resolution)| success(&live, key, &resolution))
        .collect();
    let etag = result_etag(&flags);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = OfrepBulkEvaluation {
            flags,
            metadata: OfrepBulkMetadata {
                revision: live.revision,
            },
            event_streams: state.config.ofrep_event_stream.then(|| {
                vec![OfrepEventStream {
                    kind: "sse".to_owned(),
                    endpoint: OfrepEndpoint {
                        // Browsers cannot send the key to the stream in a
                        // header: the URL carries a credential derived
                        // from it (stream_token).
                        request_uri: match principal.stream_token(&state) {
                            Some(token) => format!("/ofrep/v1/stream?token={token}"),
                            None => "/ofrep/v1/stream".to_owned(),
                        },
                    },
                    inactivity_delay_sec: 120,
                }]
            }),
        };
        (StatusCode::OK, Json(body)).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// The snapshot of the key's environment (or, for admin keys, the
/// `environment` query parameter); an OFREP error response otherwise.
fn environment_snapshot<'a>(
    live: &'a LiveConfig,
    principal: &Principal,
    requested: Option<&str>,
) -> Result<&'a EnvironmentSnapshot, Failure> {
    let environment = principal.evaluation_environment(requested).map_err(|e| {
        let status = match e {
            crate::error::ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            crate::error::ApiError::Refused { status, .. } => status,
            _ => StatusCode::BAD_REQUEST,
        };
        Failure(status, e.to_string())
    })?;
    live.snapshot
        .environment(environment)
        .map(|s| s.as_ref())
        .ok_or_else(|| {
            let details = format!("environment '{environment}' does not exist");
            Failure(StatusCode::BAD_REQUEST, details)
        })
}

/// A request-level OFREP failure (`GENERAL`), before any flag is looked at.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        failure(self.0, None, "GENERAL", &self.1)
    }
}

/// An OFREP request body (`ff_api_types::OfrepRequest`), its context read
/// straight into a [`Context`]; other members are ignored.
#[derive(Deserialize)]
struct OfrepContext {
    #[serde(default)]
    context: Context,
}

/// The `context` of an OFREP body (`{}` and a missing context are empty),
/// parsed straight into a [`Context`].
fn read_context(body: &[u8]) -> Result<Context, (&'static str, String)> {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Ok(Context::new());
    };
    if *first != b'{' {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(e) => ("PARSE_ERROR", format!("the body is not valid JSON: {e}")),
                Ok(_) => (
                    "PARSE_ERROR",
                    "the body must be a JSON object with a context".into(),
                ),
            },
        );
    }
    match serde_json::from_slice::<OfrepContext>(body) {
        Ok(request) => Ok(request.context),
        Err(e) if e.is_data() => Err(("INVALID_CONTEXT", format!("invalid context: {e}"))),
        Err(e) => Err(("PARSE_ERROR", format!("the body is not valid JSON: {e}"))),
    }
}

/// One flag's item of the bulk answer (which hashes its items for the
/// `ETag`).
fn success(live: &LiveConfig, key: &str, resolution: &Resolution<'_>) -> OfrepFlag {
    match evaluated(live, key, resolution) {
        Ok(evaluated) => OfrepFlag::Evaluated(evaluated.into_owned()),
        Err(error) => OfrepFlag::Failed(error),
    }
}

/// One flag's OFREP answer, borrowing from the snapshot: the borrowed twin
/// of `ff_api_types::OfrepEvaluation` (the single-flag route is the hot
/// path of every server-side provider, and copies nothing with it). The
/// server's contract test checks that the two serialise alike.
#[derive(Serialize)]
struct Evaluated<'a> {
    key: &'a str,
    value: Cow<'a, Value>,
    reason: &'static str,
    variant: Cow<'a, str>,
    metadata: Metadata<'a>,
}

impl Evaluated<'_> {
    fn into_owned(self) -> OfrepEvaluation {
        OfrepEvaluation {
            key: self.key.to_owned(),
            value: self.value.into_owned(),
            reason: self.reason.to_owned(),
            variant: self.variant.into_owned(),
            metadata: OfrepMetadata {
                reason_detail: self.metadata.reason_detail.map(str::to_owned),
                prerequisite: self.metadata.prerequisite.map(str::to_owned),
                rule_index: self.metadata.rule_index,
                rule_name: self.metadata.rule_name.map(str::to_owned),
            },
        }
    }
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "reasonDetail", skip_serializing_if = "Option::is_none")]
    reason_detail: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prerequisite: Option<&'a str>,
    #[serde(rename = "ruleIndex", skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    #[serde(rename = "ruleName", skip_serializing_if = "Option::is_none")]
    rule_name: Option<&'a str>,
}

/// The answer for one flag; `Err` holds the error object of a flag that
/// could not be evaluated (`{key, errorCode, errorDetails}`).
fn evaluated<'a>(
    live: &LiveConfig,
    key: &'a str,
    resolution: &Resolution<'a>,
) -> Result<Evaluated<'a>, OfrepError> {
    let Some(value) = resolution.value else {
        let code = resolution.error_code.map_or("GENERAL", ErrorCode::as_str);
        return Err(OfrepError {
            key: Some(key.to_owned()),
            error_code: code.to_owned(),
            error_details: Some(format!("flag '{key}': {code}")),
        });
    };
    let (reason, reason_detail, prerequisite) = match resolution.reason {
        Reason::PrerequisiteFailed => (
            "DISABLED",
            Some("PREREQUISITE_FAILED"),
            resolution.failed_prerequisite,
        ),
        other => (other.as_str(), None, None),
    };
    let value = if live.float_flags.contains(key) {
        Cow::Owned(as_float(value))
    } else {
        Cow::Borrowed(value)
    };
    Ok(Evaluated {
        key,
        value,
        reason,
        variant: variant_label(resolution),
        metadata: Metadata {
            reason_detail,
            prerequisite,
            rule_index: resolution.rule.map(|rule| rule.index),
            rule_name: resolution.rule.and_then(|rule| rule.name),
        },
    })
}

/// The variant to report: the flag's own variant name when the value came
/// from `variants`, else a name for how it was decided (borrowed where it
/// can be).
fn variant_label<'a>(resolution: &Resolution<'a>) -> Cow<'a, str> {
    if let Some(variant) = resolution.variant {
        return Cow::Borrowed(variant);
    }
    match (resolution.reason, resolution.rule) {
        (Reason::Disabled | Reason::PrerequisiteFailed, _) => Cow::Borrowed("disabled"),
        (_, Some(rule)) => rule
            .name
            .map_or_else(|| Cow::Owned(format!("rule-{}", rule.index)), Cow::Borrowed),
        _ => Cow::Borrowed("default"),
    }
}

fn as_float(value: &Value) -> Value {
    match value.as_f64() {
        Some(f) => serde_json::Number::from_f64(f).map_or_else(|| value.clone(), Value::Number),
        None => value.clone(),
    }
}

/// A strong ETag of the evaluated flags (not of the configuration: the same
/// configuration gives different results for different contexts).
fn result_etag(flags: &[OfrepFlag]) -> String {
    let bytes = serde_json::to_vec(flags).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn failure(status: StatusCode, key: Option<&str>, code: &str, details: &str) -> Response {
    let body = OfrepError {
        key: key.map(str::to_owned),
        error_code: code.to_owned(),
        error_details: Some(details.to_owned()),
    };
    (status, Json(body)).into_response()
}
