//! The real-client suite: the real Claude Code (see
//! `logbook_tests::claude_code`) against the harness's mock Anthropic API,
//! with logbook's hooks and status line installed as a user installs them.
//! Each scenario compares logbook's record with what Claude Code wrote and
//! what the mock sent and answered.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod compaction;
mod crash;
mod headless;
mod interactive;
mod subagent;
mod support;
mod tabs;
