//! Work items: writes that wait — for an approval (change requests), for a
//! time (schedules, rollout plans) — and the scheduler that carries them out.
//!
//! All three are stored alike (one table: a few filter columns beside a
//! JSON document), written through the same commit as flags (audited,
//! version-checked) but outside the change log: they change nothing that
//! is evaluated until they apply. Each kind's statuses are an enum whose
//! names are the strings stored and sent (`pending`, `scheduled`, `active`
//! …).
//!
//! # Layout
//!
//! The documents and their transitions are decisions over data, with no
//! I/O; the write path ([`crate::write`]) uses them to hold a write for
//! approval, so they sit below it. What reads and commits work items sits
//! above it.
//!
//! - [`item`]: what every kind shares (statuses, a due step, the item's own
//!   state written with its step).
//! - [`action`]: a change to one flag described as data, applied when due.
//! - [`change_request`], [`schedule`], [`rollout_plan`]: each kind's
//!   document, statuses and transitions.
//! - [`operations`]: what people do to work items (create, cancel, pause,
//!   resume, approve, reject, rebase), each one commit; and reading them.
//! - [`scheduler`]: applies what falls due, exactly once across nodes.

pub mod action;
pub mod change_request;
pub mod item;
pub mod operations;
pub mod rollout_plan;
pub mod schedule;
pub mod scheduler;
