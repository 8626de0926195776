//! `logbook doctor`: a diagnosis in words for each thing that can go
//! wrong, and `--repair` that rebuilds a damaged log from every event it
//! can still read, keeping the damaged one aside.

use logbook_core::{Envelope, EventId, Hash, Timestamp};
use logbook_store::SledLog;
use logbook_tests::{Store, fixtures};
use serde_json::Value;

/// A store holding real transcripts and sessions of every kind.
fn recorded() -> Store {
    let store = Store::new();
    store.ok(&["import", fixtures().join("viewer-sample").to_str().unwrap()]);
    let a = store.start("a");
    store.ok(&["transition", &a]);
    store
}

fn doctor(store: &Store, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let out = store.run(&all);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
}

/// Every envelope of `export`, by event id, without the fields a salvage
/// renumbers.
fn exported(store: &Store) -> Vec<(String, String, String)> {
    store
        .ok(&["export"])
        .lines()
        .map(|line| {
            let env: Value = serde_json::from_str(line).unwrap();
            (
                env["id"].to_string(),
                env["at"].to_string(),
                env["event"].to_string(),
            )
        })
        .collect()
}

#[test]
fn a_healthy_store_is_ok_on_every_check() {
    let store = recorded();
    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    for name in [
        "permissions",
        "space",
        "leftovers",
        "lock",
        "log",
        "projections",
        "failures",
    ] {
        assert_eq!(check(&report, name)["status"], "ok", "{report:#}");
    }
    assert!(
        check(&report, "log")["message"]
            .as_str()
            .unwrap()
            .contains("hash chain is intact")
    );
}

#[test]
fn repair_rebuilds_a_damaged_log_from_what_is_readable_and_keeps_the_damaged_one() {
    let store = recorded();
    let before = exported(&store);
    let total = before.len();
    assert!(total > 10, "{total}");
    store.stop_daemon();
    {
        let log = SledLog::open(&store.root(), &Default::default()).unwrap();
        log.tamper_with(3, b"\x01garbage").unwrap();
        log.remove_event(5).unwrap();
    }

    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 1, "{report:#}");
    let log_check = check(&report, "log");
    assert_eq!(log_check["status"], "bad");
    assert!(
        log_check["message"].as_str().unwrap().contains("seq 3"),
        "{log_check}"
    );
    assert!(log_check["hint"].as_str().unwrap().contains("--repair"));

    let out = store.run(&["doctor", "--repair"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("from {} readable events of {total}", total - 2)),
        "{stdout}"
    );
    assert!(stdout.contains("seq 3: cannot be decoded"), "{stdout}");
    assert!(stdout.contains("seq 5: missing"), "{stdout}");

    // Everything readable came back, in order, with its id, time and body.
    let after = exported(&store);
    let expected: Vec<_> = before
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2 && *i != 4)
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(after, expected);
    assert!(store.ok(&["verify"]).starts_with("ok:"));
    // New events go on the rebuilt log.
    store.start("after the repair");
    assert!(store.ok(&["verify"]).starts_with("ok:"));

    // The damaged log is kept, with a report of what was lost.
    let damaged: Vec<_> = std::fs::read_dir(store.root().join("damaged"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(damaged.len(), 1);
    assert!(damaged[0].join("log").is_dir());
    let said = std::fs::read_to_string(damaged[0].join("salvage.txt")).unwrap();
    assert!(said.contains("seq 3") && said.contains("seq 5"), "{said}");
    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "damaged")["status"], "warn");
}

#[test]
fn a_store_that_refuses_to_open_is_repaired_with_every_event() {
    // What a full disk used to leave (issue 11): an event stored past the
    // head that does not continue the chain; every command then failed.
    let store = recorded();
    let before = exported(&store);
    store.stop_daemon();
    let stray_id = EventId::new_v7();
    {
        let log = SledLog::open(&store.root(), &Default::default()).unwrap();
        let head = futures::executor::block_on(logbook_core::EventLog::head(&log)).unwrap();
        let last = Envelope::decode(&log.raw(head.seq).unwrap().unwrap()).unwrap();
        let stray = Envelope {
            seq: head.seq + 1,
            id: stray_id,
            at: Timestamp::from_micros(last.at.as_micros() + 1),
            session_seq: last.session_seq + 1,
            prev_hash: Hash([9; 32]),
            ..last
        };
        log.tamper_with(head.seq + 1, &stray.encode().unwrap())
            .unwrap();
    }
    let refused = store.run(&["ls"]);
    assert_eq!(refused.status.code(), Some(1));

    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 1);
    let log_check = check(&report, "log");
    assert!(
        log_check["message"]
            .as_str()
            .unwrap()
            .starts_with("does not open"),
        "{log_check}"
    );

    let out = store.run(&["doctor", "--repair"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("restored, but the hash chain does not vouch"),
        "{stdout}"
    );
    let after = exported(&store);
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[before.len()].0, format!("\"{stray_id}\""));
    assert!(store.ok(&["verify"]).starts_with("ok:"));
    store.ok(&["ls"]);
}

#[test]
fn leftovers_and_loose_permissions_are_named_and_repaired() {
    use std::os::unix::fs::PermissionsExt as _;
    let store = recorded();
    let root = store.root();
    std::fs::create_dir(root.join(".verify-x1")).unwrap();
    // A repair killed after its swap: its work directory holds the
    // damaged log, which must be kept, never deleted.
    let interrupted = root.join(".repair-20261122T000000.000000Z");
    std::fs::create_dir_all(interrupted.join("log")).unwrap();
    std::fs::write(interrupted.join("log").join("db"), b"old log").unwrap();
    let session = std::fs::read_dir(root.join("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::set_permissions(
        session.join("session.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 1);
    let leftovers = check(&report, "leftovers");
    assert_eq!(leftovers["status"], "warn");
    let said = leftovers["message"].as_str().unwrap();
    assert!(said.contains("interrupted verify"), "{said}");
    assert!(said.contains("interrupted repair"), "{said}");
    let permissions = check(&report, "permissions");
    assert_eq!(permissions["status"], "bad");
    assert!(
        permissions["message"]
            .as_str()
            .unwrap()
            .contains("others can read")
    );

    let (code, report) = doctor(&store, &["--repair"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "leftovers")["status"], "ok");
    assert_eq!(check(&report, "permissions")["status"], "ok");
    assert!(!root.join(".verify-x1").exists());
    assert!(!interrupted.exists());
    assert_eq!(
        std::fs::read(
            root.join("damaged")
                .join("20261122T000000.000000Z")
                .join("log")
                .join("db")
        )
        .unwrap(),
        b"old log"
    );
    let mode = std::fs::metadata(session.join("session.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn projected_files_that_drifted_are_named_and_rebuilt() {
    let store = recorded();
    let files = store.projected_files();
    let (path, _) = files
        .iter()
        .find(|(p, _)| p.ends_with("context.json"))
        .unwrap();
    std::fs::write(store.root().join(path), b"{}").unwrap();
    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 1);
    let projections = check(&report, "projections");
    assert!(
        projections["message"]
            .as_str()
            .unwrap()
            .contains(path.as_str()),
        "{projections}"
    );
    let (code, report) = doctor(&store, &["--repair"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(store.projected_files(), files);
}

#[test]
fn a_held_lock_is_named_with_its_holder() {
    let store = recorded();
    store.configure("lock_wait_secs = 0.5\n");
    store.stop_daemon();
    let _held = SledLog::open(&store.root(), &Default::default()).unwrap();
    let (code, report) = doctor(&store, &[]);
    assert_eq!(code, 1, "{report:#}");
    let lock = check(&report, "lock");
    assert_eq!(lock["status"], "bad");
    assert!(
        lock["message"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {}", std::process::id())),
        "{lock}"
    );
}
