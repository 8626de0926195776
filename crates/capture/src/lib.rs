//! logbook-capture: turning what an agent writes into `TranscriptCaptured`
//! events, exactly once.
//!
//! It will own the capture sources (Claude Code transcript JSONL, plain text
//! files, standard input, tmux panes), the exactly-once cursor (complete
//! lines only, truncation and replacement detection), compaction detection,
//! and the projections of transcript parts and `marker.json`. It sees the log
//! only through `logbook-core`'s traits and never depends on the store,
//! context or tokens crates.
//!
//! Status: the crate exists so the dependency graph of DESIGN.md §2 holds;
//! its sources arrive with the capture issue.
