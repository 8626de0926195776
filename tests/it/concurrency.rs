//! Real processes racing on one store: the lock serialises them, none fails.

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::time::Duration;

use logbook_tests::{Store, wait_bounded};
use serde_json::Value;

#[test]
fn sixteen_simultaneous_starts_get_sixteen_distinct_recorded_ids() {
    let store = Store::new();
    // Create the store first so every racer opens the same one.
    store.ok(&["ls"]);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let mut cmd = store.cmd();
            cmd.args(["start", "--command", &format!("job-{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let child = cmd.spawn().unwrap();
                child.wait_with_output().unwrap()
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for racer in racers {
        let out = racer.join().unwrap();
        assert!(
            out.status.success(),
            "a racer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.insert(String::from_utf8(out.stdout).unwrap().trim().to_owned());
    }
    assert_eq!(ids.len(), 16);
    let recorded: BTreeSet<String> = store
        .sessions()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recorded, ids);
    assert!(
        store
            .ok(&["verify"])
            .starts_with("ok: 16 events in 16 sessions")
    );
}

/// Follows `transitioned_to` from `first`, checking the back links.
fn chain_from(sessions: &HashMap<String, Value>, first: &str) -> Vec<String> {
    let mut chain = vec![first.to_owned()];
    while let Some(next) = sessions[chain.last().unwrap()]["transitioned_to"].as_str() {
        assert_eq!(
            sessions[next]["transitioned_from"].as_str(),
            Some(chain.last().unwrap().as_str()),
            "back link of {next}"
        );
        chain.push(next.to_owned());
    }
    chain
}

fn by_id(store: &Store) -> HashMap<String, Value> {
    store
        .sessions()
        .into_iter()
        .map(|s| (s["session_id"].as_str().unwrap().to_owned(), s))
        .collect()
}

fn run_chain(store: &Store, name: &str, transitions: usize) -> String {
    let first = store.start(name);
    let mut current = first.clone();
    for _ in 0..transitions {
        current = store.ok(&["transition", &current]).trim().to_owned();
    }
    first
}

fn assert_chain(sessions: &HashMap<String, Value>, first: &str, len: usize) {
    let chain = chain_from(sessions, first);
    assert_eq!(chain.len(), len);
    let active: Vec<&String> = chain
        .iter()
        .filter(|id| sessions[*id]["status"] == "active")
        .collect();
    assert_eq!(
        active,
        vec![chain.last().unwrap()],
        "exactly one active, the last"
    );
    assert!(sessions[first]["transitioned_from"].is_null());
}

#[test]
fn twenty_rapid_transitions_form_one_complete_chain() {
    let store = Store::new();
    let first = run_chain(&store, "solo", 20);
    let sessions = by_id(&store);
    assert_eq!(sessions.len(), 21);
    assert_chain(&sessions, &first, 21);
}

#[test]
fn four_chains_transitioning_in_parallel_stay_separate_and_complete() {
    let store = std::sync::Arc::new(Store::new());
    store.ok(&["ls"]);
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || run_chain(&store, &format!("chain-{i}"), 20))
        })
        .collect();
    let firsts: Vec<String> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let sessions = by_id(&store);
    assert_eq!(sessions.len(), 4 * 21);
    for (i, first) in firsts.iter().enumerate() {
        assert_chain(&sessions, first, 21);
        for id in chain_from(&sessions, first) {
            assert_eq!(sessions[&id]["command"], format!("chain-{i}"));
        }
    }
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn a_process_holding_the_lock_makes_others_wait_then_fail_naming_its_pid() {
    let store = Store::in_process();
    store.configure("lock_wait_secs = 0.5\n");
    let mut holder = store
        .cmd()
        .env("LOGBOOK_FAULT_PAUSE_AFTER_APPEND", "1")
        .args(["start"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    logbook_tests::wait_for_stderr(&mut holder, "paused after append", Duration::from_secs(20));
    let line = store.fails(&["start"], 1);
    assert!(line.contains(&format!("pid {}", holder.id())), "{line}");
    assert!(line.contains("locked"), "{line}");
    holder.kill().unwrap();
    wait_bounded(&mut holder, Duration::from_secs(10));
    // Once the holder is gone, the store works again and kept its session.
    assert_eq!(store.sessions().len(), 1);
    store.start("after");
    assert_eq!(store.sessions().len(), 2);
}
