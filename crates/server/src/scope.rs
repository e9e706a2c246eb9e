//! Roles scoped to environments (issue 17): which environments a request
//! touches, and whether a scoped caller holds the role it needs in each.
//!
//! A key or person without `environment_roles` holds its one role
//! everywhere, as before, and nothing here applies to it. A scoped one holds
//! the role named for each listed environment and none elsewhere, so:
//!
//! - reads that are not about one environment (listings, documents, history,
//!   audit) need only *some* role: any scoped caller may read them, like a
//!   viewer;
//! - a write needs its role in every environment it touches, all or
//!   nothing: one out of scope refuses the whole write (403 `out_of_scope`,
//!   naming the environments), before anything is committed;
//! - evaluating and streaming in an environment need some role there;
//! - administering keys, people, webhooks and subjects needs an unscoped
//!   admin (a scoped admin must not mint itself a wider key).
//!
//! A write *touches* an environment when it changes what is evaluated there
//! (`governance::affected_environments`: the entry in effect, inherited
//! through `auto_sync` parents, and the flag-level rules and default that
//! an environment without its own entry uses). So a flag PATCH that changes
//! only `environments.development` needs development alone; one that
//! changes the flag-level default needs every environment that serves it;
//! a description needs none. A new flag touches the environments its
//! document configures (nothing evaluates it yet: governance sees it the
//! same way). An entry of `environments` written or removed touches its
//! environment even when it serves what was inherited. A segment touches the environments whose rules in effect use
//! it; an environment's settings need the admin role there.
//!
//! The decision is a function of the caller's roles and what is needed, so
//! it is tested with a table below; the HTTP tests check the routes. What a
//! write touches is worked out in `scope_of_writes`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use ff_store::{EnvironmentRoles, Role};
use serde_json::json;

use crate::error::ApiError;
use crate::live::LiveConfig;

/// The role each touched environment needs.
pub type Needed = BTreeMap<String, Role>;

/// Refuses unless a scoped caller (`roles`) holds, in each environment of
/// `needed`, at least the role named there. Unscoped callers (`None`) pass:
/// their one role was checked when the route was entered.
pub fn check<'a>(
    roles: Option<&EnvironmentRoles>,
    needed: impl IntoIterator<Item = (&'a str, Role)>,
) -> Result<(), ApiError> {
    let Some(roles) = roles else {
        return Ok(());
    };
    let mut missing: Vec<(&str, Role)> = needed
        .into_iter()
        .filter(|(env, role)| roles.role_in(env) < Some(*role))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort_unstable();
    missing.dedup_by(|a, b| a.0 == b.0);
    Err(out_of_scope(roles, &missing))
}

/// The 403 of a scoped caller: which environments are out of its scope,
/// the role they need, and the roles it has.
fn out_of_scope(roles: &EnvironmentRoles, missing: &[(&str, Role)]) -> ApiError {
    let environments: Vec<&str> = missing.iter().map(|(env, _)| *env).collect();
    let required = missing
        .iter()
        .map(|(_, role)| *role)
        .max()
        .unwrap_or(Role::Viewer);
    let held: Vec<String> = roles
        .iter()
        .map(|(env, role)| format!("{} in {env}", role.name()))
        .collect();
    let quoted: Vec<String> = environments.iter().map(|e| format!("\"{e}\"")).collect();
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        code: "out_of_scope",
        message: format!(
            "out of scope: this needs the {} role in {}; this caller's roles are scoped to \
             environments ({})",
            required.name(),
            quoted.join(", "),
            if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            },
        ),
        details: json!({
            "environments": environments,
            "required_role": required.name(),
            "environment_roles": roles,
        }),
    }
}

/// The scope asked for by a key's or account's `environments` (each gets
/// `role`) and `environment_roles` (a role each, taking precedence).
/// `None`: unscoped, also when both are empty.
pub fn requested(
    role: Option<Role>,
    environments: Option<&[String]>,
    environment_roles: Option<&BTreeMap<String, String>>,
) -> Result<Option<EnvironmentRoles>, ApiError> {
    let mut roles = BTreeMap::new();
    // An empty list scopes to nothing: the same as no list.
    if let Some(environments) = environments.filter(|list| !list.is_empty()) {
        let Some(role) = role else {
            return Err(ApiError::unprocessable(
                "missing_role",
                "role: give the role these environments are scoped to",
            ));
        };
        for env in environments {
            roles.insert(env.clone(), role);
        }
    }
    for (env, name) in environment_roles.into_iter().flatten() {
        let role = crate::people::accounts::parse_role(name).map_err(|_| {
            ApiError::unprocessable(
                "invalid_role",
                format!(
                    "environment_roles.{env}: unknown role \"{name}\"; expected viewer, editor, \
                     approver or admin"
                ),
            )
        })?;
        roles.insert(env.clone(), role);
    }
    Ok((!roles.is_empty()).then(|| EnvironmentRoles::new(roles)))
}

/// Refuses a scope naming an environment that does not exist (404).
pub fn check_known(live: &LiveConfig, roles: Option<&EnvironmentRoles>) -> Result<(), ApiError> {
    for (env, _) in roles.into_iter().flat_map(EnvironmentRoles::iter) {
        if !live.environments.contains_key(env) {
            return Err(ApiError::not_found("environment", env));
        }
    }
    Ok(())
}

/// Roles as the API shows them (`{"development": "editor"}`).
pub fn wire_roles(roles: &EnvironmentRoles) -> BTreeMap<String, String> {
    roles
        .iter()
        .map(|(env, role)| (env.to_owned(), role.name().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(pairs: &[(&str, Role)]) -> EnvironmentRoles {
        EnvironmentRoles::new(pairs.iter().map(|(e, r)| ((*e).to_owned(), *r)).collect())
    }

    /// Caller's roles × what is needed → refused environments (empty: allowed).
    #[test]
    fn decisions() {
        use Role::*;
        let dev_editor = roles(&[("development", Editor), ("production", Viewer)]);
        let prod_approver = roles(&[("production", Approver)]);
        /// The caller's roles, what is needed, the environments refused.
        type Case<'a> = (
            Option<&'a EnvironmentRoles>,
            &'a [(&'a str, Role)],
            &'a [&'a str],
        );
        let cases: &[Case<'_>] = &[
            // Unscoped callers are not this module's business.
            (None, &[("production", Admin)], &[]),
            // Nothing touched: allowed.
            (Some(&dev_editor), &[], &[]),
            (Some(&dev_editor), &[("development", Editor)], &[]),
            (Some(&dev_editor), &[("development", Viewer)], &[]),
            (Some(&dev_editor), &[("production", Viewer)], &[]),
            (
                Some(&dev_editor),
                &[("production", Editor)],
                &["production"],
            ),
            (Some(&dev_editor), &[("staging", Viewer)], &["staging"]),
            (
                Some(&dev_editor),
                &[
                    ("development", Editor),
                    ("production", Editor),
                    ("staging", Editor),
                ],
                &["production", "staging"],
            ),
            (
                Some(&dev_editor),
                &[("development", Approver)],
                &["development"],
            ),
            (Some(&prod_approver), &[("production", Approver)], &[]),
            (Some(&prod_approver), &[("production", Editor)], &[]),
            (Some(&prod_approver), &[("staging", Approver)], &["staging"]),
            (
                Some(&prod_approver),
                &[("production", Admin)],
                &["production"],
            ),
        ];
        for (caller, needed, refused) in cases {
            let got = check(*caller, needed.iter().copied());
            match (got, refused.is_empty()) {
                (Ok(()), true) => {}
                (
                    Err(ApiError::Refused {
                        status,
                        code,
                        details,
                        ..
                    }),
                    false,
                ) => {
                    assert_eq!(status, StatusCode::FORBIDDEN);
                    assert_eq!(code, "out_of_scope");
                    assert_eq!(details["environments"], json!(refused), "{needed:?}");
                }
                (other, _) => panic!("{caller:?} needing {needed:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_message_names_the_environments_and_roles() {
        let caller = roles(&[("development", Role::Editor)]);
        let Err(error) = check(Some(&caller), [("production", Role::Editor)]) else {
            panic!("allowed");
        };
        let text = error.to_string();
        assert!(text.contains("the editor role in \"production\""), "{text}");
        assert!(text.contains("editor in development"), "{text}");
    }
}
