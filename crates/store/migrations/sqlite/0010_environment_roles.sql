-- Roles scoped to environments (issue 17). A key or a person with
-- `environment_roles` (JSON text: an object environment → role, e.g.
-- {"development": "editor", "production": "viewer"}) holds those roles in
-- those environments only; NULL keeps the global `role`, as before.
ALTER TABLE api_keys ADD COLUMN environment_roles TEXT;
ALTER TABLE users ADD COLUMN environment_roles TEXT;
