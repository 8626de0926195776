//! logbook-context: what a session knew.
//!
//! It owns the extraction of files read and modified, commands, user
//! corrections, decisions, plans and todos from any agent's records as
//! `logbook-agents` reads them ([`model::ContextView`], folded line by line so each capture only
//! adds to it), the Markdown brief handed to the next session
//! ([`brief::render`], within Claude Code's 10,000-character budget), and the
//! projection of `context.json`, `handoff.json` and `handoff.md`
//! ([`projection::ContextProjection`]). It sees the log only through
//! `logbook-core`'s traits and never depends on the store, capture or tokens
//! crates.

pub mod brief;
pub mod model;
pub mod projection;
