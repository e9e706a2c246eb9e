//! The HTTP routes, one file per resource; handlers are named `verb_noun`.

pub mod api_keys;
pub mod audit;
pub mod bulk;
pub mod emergency;
pub mod environments;
pub mod evaluate;
pub mod flags;
pub mod health;
pub mod segments;
pub mod transfer;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    let flags = Router::new()
        .route("/", get(flags::list_flags).post(flags::create_flag))
        .route("/bulk", post(bulk::bulk_flags))
        .route(
            "/{flag_id}",
            get(flags::get_flag)
                .put(flags::replace_flag)
                .patch(flags::patch_flag)
                .delete(flags::delete_flag),
        )
        .route("/{flag_id}/restore", post(flags::restore_flag))
        .route(
            "/{flag_id}/environments/{env}",
            get(flags::get_flag_environment)
                .put(flags::put_flag_environment)
                .delete(flags::delete_flag_environment),
        )
        .route("/{flag_id}/versions", get(flags::list_flag_versions))
        .route(
            "/{flag_id}/versions/{version}",
            get(flags::get_flag_version),
        )
        .route("/{flag_id}/diff", get(flags::diff_flag_versions))
        .route("/{flag_id}/rollback", post(flags::rollback_flag));

    let environments = Router::new()
        .route(
            "/",
            get(environments::list_environments).post(environments::create_environment),
        )
        .route(
            "/{env}",
            get(environments::get_environment)
                .put(environments::replace_environment)
                .delete(environments::delete_environment),
        );
    let segments = Router::new()
        .route(
            "/",
            get(segments::list_segments).post(segments::create_segment),
        )
        .route(
            "/{segment_id}",
            get(segments::get_segment)
                .put(segments::replace_segment)
                .delete(segments::delete_segment),
        );

    let api = Router::new()
        .nest("/flags", flags)
        .nest("/environments", environments)
        .nest("/segments", segments)
        .route("/audit", get(audit::list_audit))
        .route("/audit/verify", get(audit::verify_audit))
        .route(
            "/api-keys",
            get(api_keys::list_api_keys).post(api_keys::create_api_key),
        )
        .route("/api-keys/{id}", delete(api_keys::revoke_api_key))
        .route("/export", get(transfer::export_configuration))
        .route("/import", post(transfer::import_configuration))
        .route("/evaluate", post(evaluate::evaluate))
        .route("/emergency/disable", post(emergency::emergency_disable))
        .route("/emergency/enable", post(emergency::emergency_enable));

    Router::new()
        .nest("/api/v1", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
}
