//! People: user accounts, passwords, sign-in and sessions.
//!
//! Keys are for machines; people sign in with an email and a password and
//! get a server-side session in a cookie. A signed-in person acts as a
//! [`crate::auth::Principal`] with their role, named `user:<email>` in the
//! audit log, so the write path, roles, approvals (four eyes included) and
//! rate limits treat them exactly as they treat an admin key.
//!
//! - `accounts`: what a valid account is (email, name, password, role).
//! - `password`: argon2id hashing and verification, off the async workers.
//! - `throttle`: failed sign-ins limited per account and per address.
//! - `session`: the cookie, its secret and CSRF token, and how a request's
//!   session is found.

pub mod accounts;
pub mod password;
pub mod session;
pub mod throttle;
