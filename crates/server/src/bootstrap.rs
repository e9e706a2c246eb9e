//! First start: an empty database gets the seed's environments and an admin
//! key, so that the service is usable at once.

use ff_engine::Environment;
use ff_store::{
    AuditedChange, Change, ChangeSet, EnvironmentSettings, Expect, FlagStore, KeyKind, NewApiKey,
    Role, StoreError,
};

use crate::auth::{generate_key_id, generate_secret, hash_secret, secret_prefix};

/// What first start created.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The admin key's secret: printed once, never stored.
    pub admin_secret: String,
    /// Whether the secret came from `FEATURE_FLAGS_ADMIN_TOKEN`.
    pub from_config: bool,
}

/// Seeds an empty store; does nothing (returns `None`) if the store has
/// environments or keys already.
pub async fn bootstrap(
    store: &dyn FlagStore,
    admin_token: Option<&str>,
    at: time::OffsetDateTime,
) -> Result<Option<Bootstrapped>, StoreError> {
    let existing = store.load().await?;
    if !existing.environments.is_empty() || !store.api_keys().await?.is_empty() {
        return Ok(None);
    }
    let secret = admin_token
        .map(str::to_owned)
        .unwrap_or_else(|| generate_secret(KeyKind::Admin));
    let mut changes: Vec<AuditedChange> = seed_environments()
        .into_iter()
        .map(|settings| AuditedChange {
            change: Change::PutEnvironment(settings, Expect::Absent),
            action: "environment.create".into(),
            environment: None,
        })
        .collect();
    changes.push(AuditedChange {
        change: Change::CreateApiKey(NewApiKey {
            id: generate_key_id(),
            name: "initial admin key".into(),
            kind: KeyKind::Admin,
            role: Some(Role::Admin),
            environment: None,
            environment_roles: None,
            prefix: secret_prefix(&secret),
            secret_hash: hash_secret(&secret),
        }),
        action: "api_key.create".into(),
        environment: None,
    });
    store
        .commit(ChangeSet {
            changes,
            actor: "system".into(),
            at,
            reason: Some("first start".into()),
            request_id: None,
            deployment_id: None,
        })
        .await?;
    Ok(Some(Bootstrapped {
        admin_secret: secret,
        from_config: admin_token.is_some(),
    }))
}

/// The seed's tree: development → staging (auto-sync) → production
/// (approval required).
pub fn seed_environments() -> Vec<EnvironmentSettings> {
    let settings =
        |tree: Environment, description: &str, approval_required: bool| EnvironmentSettings {
            tree,
            description: Some(description.to_owned()),
            approval_required,
            required_approvals: 1,
            protected: approval_required,
            change_windows: Vec::new(),
            dependency_policy: Default::default(),
        };
    let mut tree = Environment::seed_tree().into_iter();
    let mut next = || {
        tree.next()
            .unwrap_or_else(|| Environment::new("production", None, false))
    };
    vec![
        settings(next(), "Local development environment", false),
        settings(next(), "Staging environment for testing", false),
        settings(next(), "Production environment", true),
    ]
}
