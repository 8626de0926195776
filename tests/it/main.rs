//! The one integration-test binary. Each module is a user-facing area.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod agents;
mod bad_input;
mod capture;
mod concurrency;
mod crash;
mod daemon;
mod disk;
mod doctor;
mod forensics;
mod hooks;
mod import;
mod lifecycle;
mod memory;
mod projections;
mod review;
mod tmux;
mod tokens;
