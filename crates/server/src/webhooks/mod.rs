//! Outgoing webhooks: endpoints that admins register, and the events sent
//! to them.
//!
//! Events are derived from the audit log, never from the write path: every
//! change already appends its audit entry in its own transaction, so a
//! background task on each node ([`dispatch::run`]) reads the entries after
//! a cursor kept in the store, turns those that map to an event
//! ([`events::event_of`]) into one delivery row per subscribed endpoint
//! (moving the cursor in the same transaction), and sends the due rows,
//! each after claiming it with a lease, signed with the endpoint's secret
//! ([`dispatch::signature_header`]). A failed attempt is retried with
//! exponential backoff and jitter, up to a number of attempts. A write (the
//! kill switch included) never waits for any of this.
//!
//! - `settings`: an endpoint's settings, checked (URL, events, environment
//!   filter, format) and as stored and answered.
//! - `events`: which audit entries are which events, and their bodies
//!   (`json` and `slack`).
//! - `dispatch`: the outbox: enqueueing, claiming, sending, signing,
//!   backing off.
//! - `sender`: the HTTP client and lease name a node sends with.

pub mod dispatch;
pub mod events;
pub mod sender;
pub mod settings;
