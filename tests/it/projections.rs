//! Projections: verify against a rebuild, replay, replay elsewhere and as of
//! a point, tamper detection.

use std::io::Read;
use std::process::Stdio;

use logbook_tests::Store;
use serde_json::Value;

fn three_sessions(store: &Store) -> (String, String, String) {
    let a = store.start("a");
    let b = store.ok(&["transition", &a]).trim().to_owned();
    let c = store.start("c");
    store.ok(&["end", &c, "--status", "failed", "--exit-code", "1"]);
    (a, b, c)
}

#[test]
fn a_hand_edited_session_json_fails_verify_by_name_and_replay_restores_it() {
    let store = Store::new();
    let (_, b, c) = three_sessions(&store);
    let before = store.projected_files();
    // A user drops their own note in a session directory: never touched.
    let own = store.root().join("sessions").join(&c).join("my-notes.md");
    std::fs::write(&own, "mine").unwrap();

    let path = store.session_json(&b);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"active\"", "\"completed\"");
    std::fs::write(&path, edited).unwrap();
    let out = store.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("sessions/{b}/session.json")),
        "{stdout}"
    );
    assert!(stdout.contains("differs"), "{stdout}");

    store.ok(&["replay"]);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
    let mut after = store.projected_files();
    after.retain(|(p, _)| !p.ends_with("my-notes.md"));
    assert_eq!(after, before, "replay rebuilds byte for byte");
    assert_eq!(std::fs::read_to_string(&own).unwrap(), "mine");
}

/// Files an older build projected differ from this build's rebuild with
/// nothing wrong: verify says so, and replay stamps the store with this
/// build's projections. A file that differs in a store this build stamped
/// is not blamed on an older build.
#[test]
fn projections_an_older_build_wrote_are_named_as_such_and_replay_brings_them_up_to_date() {
    let store = Store::new();
    let (_, b, _) = three_sessions(&store);
    let stamp = store.root().join("projections-version");
    let current = std::fs::read_to_string(&stamp).unwrap();
    assert!(current.starts_with("logbook-projections/"), "{current}");
    let path = store.session_json(&b);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"active\"", "\"completed\"");

    // A hand edit in a current store: the file is named, no older build.
    std::fs::write(&path, &edited).unwrap();
    let out = store.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains("another version"), "{said}");
    store.ok(&["replay"]);

    // The same difference in a store from before the stamp (as an older
    // build leaves it): named as an older build's, the log intact.
    std::fs::remove_file(&stamp).unwrap();
    std::fs::write(&path, &edited).unwrap();
    let out = store.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = report["problems"][0]["message"].as_str().unwrap();
    assert!(
        first.contains(
            "another version of logbook (projections none, this build logbook-projections/"
        ) && first.contains("`logbook replay`"),
        "{report:#}"
    );
    assert!(
        report["problems"]
            .to_string()
            .contains(&format!("sessions/{b}/session.json"))
    );
    // Matching files need no stamp to pass.
    std::fs::remove_file(&path).unwrap();
    store.ok(&["replay"]);
    assert_eq!(std::fs::read_to_string(&stamp).unwrap(), current);
    std::fs::remove_file(&stamp).unwrap();
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn a_deleted_session_json_fails_verify_and_replay_restores_it() {
    let store = Store::new();
    let (a, _, _) = three_sessions(&store);
    let before = store.projected_files();
    std::fs::remove_file(store.session_json(&a)).unwrap();
    let out = store.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["problems"][0]["file"],
        format!("sessions/{a}/session.json")
    );
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
    store.ok(&["replay"]);
    assert_eq!(store.projected_files(), before);
}

#[test]
fn replay_out_at_a_seq_or_time_rebuilds_the_past_elsewhere() {
    let store = Store::new();
    let a = store.start("a");
    let export = store.ok(&["export"]);
    let first_at = serde_json::from_str::<Value>(export.lines().next().unwrap()).unwrap()["at"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = store.ok(&["transition", &a]).trim().to_owned();
    let live_before = store.projected_files();

    let past = store.scratch().join("past");
    store.ok(&["replay", "--out", past.to_str().unwrap(), "--at", "1"]);
    let files: Vec<_> = std::fs::read_dir(past.join("sessions")).unwrap().collect();
    assert_eq!(files.len(), 1, "only the first session existed at seq 1");
    let then: Value = serde_json::from_slice(
        &std::fs::read(past.join("sessions").join(&a).join("session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(then["status"], "active");
    assert!(then["transitioned_to"].is_null());
    // Paths in projected files are relative to the store, wherever it is.
    assert_eq!(then["dir"], format!("sessions/{a}"));

    let by_time = store.scratch().join("by-time");
    store.ok(&[
        "replay",
        "--out",
        by_time.to_str().unwrap(),
        "--at",
        &first_at,
    ]);
    assert!(
        by_time
            .join("sessions")
            .join(&a)
            .join("session.json")
            .exists()
    );
    assert!(!by_time.join("sessions").join(&b).exists());

    let now = store.scratch().join("now");
    store.ok(&["replay", "--out", now.to_str().unwrap()]);
    assert!(now.join("sessions").join(&b).join("session.json").exists());

    assert_eq!(
        store.projected_files(),
        live_before,
        "the live store is untouched"
    );
    store.fails(&["replay", "--at", "1"], 2);
    store.fails(&["replay", "--out", store.root().to_str().unwrap()], 2);
    store.fails(
        &[
            "replay",
            "--out",
            past.to_str().unwrap(),
            "--at",
            "noon-ish",
        ],
        2,
    );
}

#[test]
fn tampering_with_a_stored_event_fails_verify_naming_its_seq() {
    let store = Store::new();
    three_sessions(&store);
    assert!(store.ok(&["verify"]).starts_with("ok: 5 events"));
    store.stop_daemon();
    {
        let log = logbook_store::SledLog::open(&store.root(), &Default::default()).unwrap();
        let raw = log.raw(2).unwrap().unwrap();
        let mut env = logbook_core::Envelope::decode(&raw).unwrap();
        env.at = logbook_core::Timestamp::from_micros(env.at.as_micros() - 1);
        log.tamper_with(2, &env.encode().unwrap()).unwrap();
    }
    let out = store.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("bad: seq 2:"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("seq 2"), "{stderr}");
}

#[test]
fn a_closed_pipe_is_not_an_error_for_any_command_that_prints_much() {
    let store = Store::new();
    let id = store.start("noisy");
    store.stop_daemon();
    {
        // Enough history that `log` outgrows the pipe buffer.
        use logbook_core::{Event, EventLog, NewEvent, NoteKind, NoteRecorded, SessionId};
        let log = logbook_store::SledLog::open(&store.root(), &Default::default()).unwrap();
        let session: SessionId = id.parse().unwrap();
        let batch = (1..2000)
            .map(|i| NewEvent {
                session,
                expected_session_seq: i,
                event: Event::NoteRecorded(NoteRecorded {
                    kind: NoteKind::Memory,
                    text: "x".repeat(100),
                }),
            })
            .collect();
        futures::executor::block_on(log.append(batch)).unwrap();
    }
    // And enough sessions with usage that `ls` and `tokens` outgrow it too.
    let corpus = store.scratch().join("many");
    std::fs::create_dir_all(&corpus).unwrap();
    for n in 0..400 {
        let agent = format!("pipe-{n:04}");
        let response = format!(
            "{{\"type\":\"assistant\",\"sessionId\":\"{agent}\",\"requestId\":\"r{n}\",\"message\":{{\"id\":\"m{n}\",\"model\":\"claude-sonnet-4-5\",\"usage\":{{\"input_tokens\":{n},\"output_tokens\":1}}}}}}\n"
        );
        std::fs::write(corpus.join(format!("{agent}.jsonl")), response).unwrap();
    }
    store.ok(&["import", corpus.to_str().unwrap()]);
    for args in [
        &["log"][..],
        &["log", "--json"],
        &["export"],
        &["ls", "--json"],
        &["tokens"],
    ] {
        let mut child = store
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "logbook {args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "logbook {args:?}");
    }
}

#[test]
fn the_demo_runs_the_main_job_and_verifies_it() {
    let store = Store::new();
    let out = store.run(&["demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "captured 39 lines",
        "\"responses\": 4",
        "# Handoff from logbook session",
        "- keep the demo small",
        "imported 2 files into 2 new sessions",
        "codex                                        7626",
        "gemini                                      17521",
        "projected files match the log",
        "The store was removed",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
}

#[test]
fn deleted_or_stale_projection_files_are_folded_again_from_the_log() {
    let store = Store::new();
    let id = store.start("ctx");
    let transcript = store.scratch().join("t.jsonl");
    let source = logbook_tests::fixtures()
        .join("viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl");
    let lines: Vec<Vec<u8>> = std::fs::read(&source)
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    std::fs::write(&transcript, lines[..200].concat()).unwrap();
    store.ok(&["capture", &id, "--file", transcript.to_str().unwrap()]);
    let dir = store.root().join("sessions").join(&id);
    let stale_tokens = std::fs::read(dir.join("tokens.json")).unwrap();
    // One file deleted, one replaced by an older copy, one edited.
    std::fs::remove_file(dir.join("context.json")).unwrap();
    std::fs::write(&transcript, lines.concat()).unwrap();
    store.ok(&["capture", &id, "--file", transcript.to_str().unwrap()]);
    std::fs::write(dir.join("tokens.json"), &stale_tokens).unwrap();
    let session_json = std::fs::read_to_string(dir.join("session.json")).unwrap();
    std::fs::write(
        dir.join("session.json"),
        session_json.replace("\"seq\": ", "\"seq\": 1"),
    )
    .unwrap();
    store.ok(&["note", "--session", &id, "--decision", "fold again"]);
    let live = store.projected_files();
    store.ok(&["replay"]);
    assert_eq!(
        store.projected_files(),
        live,
        "the next command repaired every file"
    );
    store.ok(&["verify"]);
}

#[test]
fn a_moved_or_restored_store_verifies_and_names_where_it_is_now() {
    let store = Store::new();
    let project = store.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let agent = "5f1c8a4e-0d3b-4c1e-9a7f-2b6d8e0c4a11";
    let transcript = store.scratch().join(format!("{agent}.jsonl"));
    let line = serde_json::json!({"type": "user", "sessionId": agent, "message": {"role": "user", "content": "fix the parser"}});
    std::fs::write(&transcript, format!("{line}\n")).unwrap();
    let hook = |event: &str, extra: Value| {
        let payload = logbook_tests::hook_payload(event, agent, &transcript, &project, extra);
        assert!(store.piped(&["hook"], &payload).status.success());
    };
    hook("SessionStart", serde_json::json!({"source": "startup"}));
    hook(
        "SessionEnd",
        serde_json::json!({"reason": "prompt_input_exit"}),
    );
    let id = store.sessions()[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    store.ok(&["handoff", &id]);
    store.stop_daemon();

    // A backup restored somewhere else.
    let moved = store.scratch().join("restored").join("store");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(store.root())
        .arg(&moved)
        .status()
        .unwrap();
    assert!(copied.success());
    let _ = std::fs::remove_file(moved.join("daemon.sock"));
    let at = |args: &[&str]| {
        let out = store
            .cmd()
            .env("LOGBOOK_DIR", &moved)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    at(&["verify"]);
    let moved = moved.canonicalize().unwrap();
    let shown: Value = serde_json::from_str(&at(&["show", &id, "--json"])).unwrap();
    assert_eq!(
        shown["dir"].as_str().unwrap(),
        moved.join("sessions").join(&id).to_str().unwrap()
    );
    let handoff: Value = serde_json::from_str(&at(&["handoff", &id, "--json"])).unwrap();
    assert!(
        handoff["context_file"]
            .as_str()
            .unwrap()
            .starts_with(moved.to_str().unwrap()),
        "{handoff}"
    );
    let brief = at(&["handoff", &id]);
    assert!(
        brief.contains(&format!("in the logbook store at `{}`", moved.display())),
        "{brief}"
    );
    // The original still verifies too, and its files name no store path.
    store.ok(&["verify"]);
    let root = store.root().canonicalize().unwrap();
    for (path, bytes) in store.projected_files() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(root.to_str().unwrap()),
            "{path} names the store's path"
        );
    }
}

#[test]
fn export_goes_on_past_an_unreadable_event_and_names_it() {
    let store = Store::new();
    three_sessions(&store);
    let whole = store.ok(&["export"]);
    store.stop_daemon();
    {
        let log = logbook_store::SledLog::open(&store.root(), &Default::default()).unwrap();
        log.tamper_with(3, b"\x01garbage").unwrap();
    }
    let out = store.run(&["export"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("could not read event 3"), "{stderr}");
    let expected: Vec<&str> = whole
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        expected
    );
}
