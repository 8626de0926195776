//! logbook-context: what a session knew.
//!
//! It will own the extraction of files read and modified, commands,
//! corrections, decisions and todos from captured transcript records, and the
//! projections `context.json`, `handoff.json` and `handoff.md`. It sees the
//! log only through `logbook-core`'s traits and never depends on the store,
//! capture or tokens crates.
//!
//! Status: the crate exists so the dependency graph of DESIGN.md §2 holds;
//! its extraction arrives with the hooks and context issue.
