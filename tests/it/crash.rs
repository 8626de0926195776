//! A process SIGKILLed between appending and projecting: the next command
//! catches the projections up, identical to a clean run.

use std::process::Stdio;
use std::time::Duration;

use logbook_tests::{Store, wait_bounded, wait_for_stderr};

fn kill_after_append(store: &Store, args: &[&str]) {
    let mut child = store
        .cmd()
        .env("LOGBOOK_FAULT_PAUSE_AFTER_APPEND", "1")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_stderr(&mut child, "paused after append", Duration::from_secs(20));
    // Child::kill is SIGKILL on Unix: no destructor, no flush, no cleanup.
    child.kill().unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    assert!(!status.success());
}

#[test]
fn killed_after_append_the_next_command_catches_up() {
    let store = Store::in_process();
    let first = store.start("before");
    kill_after_append(&store, &["transition", &first]);
    // The killed process never printed the new id, but the append was
    // durable: the chain is there, and its files appear on the next command.
    let sessions = store.sessions();
    assert_eq!(sessions.len(), 2);
    let second = sessions[1]["session_id"].as_str().unwrap().to_owned();
    assert!(store.session_json(&second).exists());
    let old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.session_json(&first)).unwrap()).unwrap();
    assert_eq!(old["transitioned_to"], second.as_str());
    assert_eq!(old["status"], "completed");

    // Identical to a clean rebuild: verify compares every file with one.
    assert!(store.ok(&["verify"]).starts_with("ok: "));
    let caught_up = store.projected_files();
    store.ok(&["replay"]);
    assert_eq!(store.projected_files(), caught_up);
}

#[test]
fn killed_during_the_first_start_leaves_a_usable_store() {
    let store = Store::in_process();
    kill_after_append(&store, &["start", "--command", "first"]);
    let sessions = store.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["command"], "first");
    assert!(store.ok(&["verify"]).starts_with("ok: 1 events"));
}
