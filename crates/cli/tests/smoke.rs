//! The binary's own smoke test. Its presence also makes `cargo test
//! --workspace` build the `logbook` executable that the integration harness
//! in `tests/` drives.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn help_names_every_command() {
    let out = Command::cargo_bin("logbook")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    for name in [
        "init",
        "start",
        "end",
        "transition",
        "ls",
        "show",
        "log",
        "verify",
        "replay",
        "export",
        "completions",
    ] {
        assert!(help.contains(&format!("  {name} ")), "--help lacks {name}");
    }
}

#[test]
fn version_prints() {
    Command::cargo_bin("logbook")
        .unwrap()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("logbook "));
}
