//! logbook-tokens: usage accounting and the context-window budget.
//!
//! It will own per-response usage accounting from captured Claude Code
//! records, the context-window size and remaining percentage, budget alerts,
//! the `tokens.json` projection and usage reports. It sees the log only
//! through `logbook-core`'s traits and never depends on the store, capture
//! or context crates.
//!
//! Status: the crate exists so the dependency graph of DESIGN.md §2 holds;
//! its accounting arrives with the tokens issue.
