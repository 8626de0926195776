//! `logbook capture`: exactly once, whatever happens to the process, the
//! marker or the source.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use logbook_tests::{Lcg, Store, parts_of, wait_bounded};
use serde_json::Value;

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn incremental_passes_take_complete_lines_only() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("agent.log");
    append(&file, b"one\ntwo\nthr");
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert_eq!(parts_of(&store, &id, "main"), b"one\ntwo\n");
    append(&file, b"ee\nfour\n");
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert_eq!(parts_of(&store, &id, "main"), std::fs::read(&file).unwrap());
    assert_eq!(store.show(&id)["capture"]["lines"], 4);
    // Ending the session writes the combined transcript.
    store.ok(&["end", &id]);
    let combined = store
        .root()
        .join("sessions")
        .join(&id)
        .join("transcript.txt");
    assert_eq!(
        std::fs::read(combined).unwrap(),
        std::fs::read(&file).unwrap()
    );
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn invalid_utf8_and_a_ten_megabyte_line_are_kept_exactly() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("t.jsonl");
    let mut bytes = b"{\"a\":\"\xff\xfe\xc3\x28\"}\n".to_vec();
    bytes.extend_from_slice(b"{\"big\":\"");
    bytes.extend(std::iter::repeat_n(b'z', 10 * 1024 * 1024));
    bytes.extend_from_slice(b"\"}\n{\"b\":1}\n");
    std::fs::write(&file, &bytes).unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert_eq!(parts_of(&store, &id, "main"), bytes);
    let export = store.ok(&["export"]);
    let has_big_event = export.lines().any(|l| {
        let v: Value = serde_json::from_str(l).unwrap();
        v["event"]["transcript_captured"]["lines"] == 1
            && v["event"]["transcript_captured"]["bytes"]
                .as_str()
                .is_some_and(|b| b.len() > 13_000_000)
    });
    assert!(has_big_event, "the 10 MB line is one event");
}

#[test]
fn rotation_splits_parts_at_line_boundaries() {
    let store = Store::new();
    store.configure("rotate_lines = 10\n");
    let id = store.start("cap");
    let file = store.scratch().join("t.txt");
    let text: String = (0..35).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    let dir = store.root().join("sessions").join(&id).join("transcript");
    let mut parts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 4);
    for p in &parts[..3] {
        assert_eq!(std::fs::read_to_string(p).unwrap().lines().count(), 10);
    }
    assert_eq!(parts_of(&store, &id, "main"), text.as_bytes());
    assert_eq!(store.show(&id)["capture"]["parts"], 4);
}

#[test]
fn a_truncated_or_replaced_file_is_a_reset_not_a_duplicate() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("t.txt");
    let first: String = (0..100).map(|i| format!("old {i}\n")).collect();
    std::fs::write(&file, &first).unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    // Same length, different bytes: replaced.
    let replaced = first.replace("old", "new");
    std::fs::write(&file, &replaced).unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    // Much shorter: truncated, and a compaction by the line-count heuristic.
    std::fs::write(&file, "short 1\nshort 2\n").unwrap();
    let out: Value = serde_json::from_str(&store.ok(&[
        "capture",
        &id,
        "--file",
        file.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(out["resets"], 1);
    assert_eq!(out["compactions"], 1);
    let mut expected = first.clone().into_bytes();
    expected.extend_from_slice(replaced.as_bytes());
    expected.extend_from_slice(b"short 1\nshort 2\n");
    assert_eq!(parts_of(&store, &id, "main"), expected);
    let log = store.ok(&["log", "--session", &id]);
    assert_eq!(log.matches("source_reset").count(), 2, "{log}");
    assert!(log.contains("Replaced") && log.contains("Truncated"));
    assert!(log.contains("Heuristic { before: 100, after: 2 }"), "{log}");
}

#[test]
fn deleted_or_garbage_markers_change_nothing_and_are_rewritten() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("t.txt");
    let marker = store.root().join("sessions").join(&id).join("marker.json");
    for round in 0..6 {
        append(
            &file,
            format!("round {round} a\nround {round} b\n").as_bytes(),
        );
        match round % 3 {
            0 => {
                let _ = std::fs::remove_file(&marker);
            }
            1 => {
                if marker.exists() {
                    std::fs::write(&marker, b"\x00garbage{{{").unwrap();
                }
            }
            _ => {
                // Plausible but wrong numbers.
                if marker.exists() {
                    let text = std::fs::read_to_string(&marker).unwrap();
                    std::fs::write(&marker, text.replace("\"offset\": ", "\"offset\": 1")).unwrap();
                }
            }
        }
        store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
        assert_eq!(
            parts_of(&store, &id, "main"),
            std::fs::read(&file).unwrap(),
            "round {round}"
        );
        assert!(marker.exists());
    }
    // With nothing new to capture, a deleted marker still comes back.
    std::fs::remove_file(&marker).unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert!(marker.exists());
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn two_capturers_at_once_take_every_line_exactly_once() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("t.txt");
    let text: String = (0..20_000).map(|i| format!("line {i:06}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    let spawn = || {
        store
            .cmd()
            .args(["capture", &id, "--file", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(wait_bounded(&mut a, Duration::from_secs(60)).success());
    assert!(wait_bounded(&mut b, Duration::from_secs(60)).success());
    assert_eq!(parts_of(&store, &id, "main"), text.as_bytes());
    assert_eq!(store.show(&id)["capture"]["lines"], 20_000);
}

#[test]
fn stdin_is_captured_to_its_end() {
    let store = Store::new();
    let id = store.start("pipe");
    let mut child = store
        .cmd()
        .args(["capture", &id, "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"agent says hi\nno newline at the end")
        .unwrap();
    drop(child.stdin.take());
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        parts_of(&store, &id, "main"),
        b"agent says hi\nno newline at the end"
    );
}

#[test]
fn bad_sources_fail_cleanly_and_lose_nothing() {
    let store = Store::new();
    let id = store.start("cap");
    let file = store.scratch().join("t.txt");
    std::fs::write(&file, "kept\n").unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    let line = store.fails(
        &["capture", &id, "--file", store.scratch().to_str().unwrap()],
        2,
    );
    assert!(line.contains("is a directory"), "{line}");
    let line = store.fails(&["capture", &id, "--file", "/nonexistent/file.txt"], 1);
    assert!(line.contains("/nonexistent/file.txt"), "{line}");
    store.fails(&["capture", "ffff", "--file", file.to_str().unwrap()], 2);
    assert_eq!(parts_of(&store, &id, "main"), b"kept\n");
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn follow_stops_cleanly_on_sigterm() {
    let store = Store::new();
    let id = store.start("follow");
    let file = store.scratch().join("t.txt");
    append(&file, b"before\n");
    let mut child = store
        .cmd()
        .args(["capture", &id, "--file", file.to_str().unwrap(), "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while parts_of(&store, &id, "main") != b"before\n" {
        assert!(Instant::now() < deadline, "follow never captured");
        std::thread::sleep(Duration::from_millis(50));
    }
    append(&file, b"during\n");
    while parts_of(&store, &id, "main") != b"before\nduring\n" {
        assert!(Instant::now() < deadline, "follow missed the growth");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(wait_bounded(&mut child, Duration::from_secs(20)).success());
}

#[test]
fn follow_killed_thirty_times_still_captures_the_file_byte_for_byte() {
    let store = Store::new();
    store.configure("follow_interval_ms = 5\n");
    let id = store.start("crash");
    let file = store.scratch().join("growing.jsonl");
    let mut rng = Lcg(0x5eed);
    let mut written = 0u64;
    let mut write_some = |rng: &mut Lcg| {
        let mut chunk = Vec::new();
        for _ in 0..(1 + rng.next(200)) {
            chunk.extend_from_slice(
                format!(
                    "{{\"n\":{written},\"pad\":\"{}\"}}\n",
                    "x".repeat(rng.next(400) as usize)
                )
                .as_bytes(),
            );
            written += 1;
        }
        // Sometimes leave a half-written line for the next write to finish.
        let cut = if rng.next(3) == 0 {
            chunk.len() - 5
        } else {
            chunk.len()
        };
        append(&file, &chunk[..cut]);
        append(&file, &chunk[cut..]);
    };
    write_some(&mut rng);
    let started = Instant::now();
    for _ in 0..30 {
        let mut child = store
            .cmd()
            .args(["capture", &id, "--file", file.to_str().unwrap(), "--follow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..(1 + rng.next(4)) {
            write_some(&mut rng);
            std::thread::sleep(Duration::from_millis(rng.next(40)));
        }
        std::thread::sleep(Duration::from_millis(rng.next(120)));
        child.kill().unwrap(); // SIGKILL
        wait_bounded(&mut child, Duration::from_secs(10));
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "crash test overran"
        );
    }
    // One clean pass picks up whatever the last kill interrupted.
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert_eq!(parts_of(&store, &id, "main"), std::fs::read(&file).unwrap());
    assert_eq!(store.show(&id)["capture"]["lines"], written);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn progress_goes_to_stderr_only_when_someone_can_see_it() {
    let store = Store::new();
    let id = store.start("big");
    let file = store.scratch().join("big.log");
    let body: String = (0..200_000).map(|n| format!("line {n}\n")).collect();
    append(&file, body.as_bytes());
    let path = file.to_str().unwrap();

    // Not a terminal: stdout has the summary, stderr stays clean.
    let quiet = store.run(&["capture", &id, "--file", path]);
    assert!(quiet.status.success());
    assert!(
        quiet.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&quiet.stderr)
    );

    append(&file, body.as_bytes());
    let shown = store
        .cmd()
        .env("LOGBOOK_PROGRESS", "always")
        .args(["capture", &id, "--file", path])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(stderr.contains("MiB/"), "no progress bar: {stderr:?}");
    assert!(String::from_utf8_lossy(&shown.stdout).starts_with("captured 200000 lines"));
}

#[test]
fn an_ended_session_of_one_part_stores_its_bytes_once_and_a_second_part_parts_them() {
    use std::os::unix::fs::MetadataExt as _;
    let store = Store::new();
    store.configure("rotate_lines = 4\n");
    let id = store.start("one-part");
    let file = store.scratch().join("t.txt");
    std::fs::write(&file, "a\nb\nc\n").unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    store.ok(&["end", &id]);
    let dir = store.root().join("sessions").join(&id);
    let part = dir.join("transcript/part-0001.txt");
    let combined = dir.join("transcript.txt");
    let (p, c) = (
        std::fs::metadata(&part).unwrap(),
        std::fs::metadata(&combined).unwrap(),
    );
    assert_eq!(
        (p.dev(), p.ino()),
        (c.dev(), c.ino()),
        "one file, two names"
    );
    assert_eq!(std::fs::read(&combined).unwrap(), b"a\nb\nc\n");
    store.ok(&["verify"]);

    // Lines written after the end (an agent's last records) land in the
    // ended session: past the fourth line a second part opens, and the
    // combined transcript becomes a file of its own; the first part keeps
    // exactly its own lines.
    logbook_tests::append_text(&file, "d\ne\nf\n");
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    assert_eq!(std::fs::read(&part).unwrap(), b"a\nb\nc\nd\n");
    assert_eq!(
        std::fs::read(dir.join("transcript/part-0002.txt")).unwrap(),
        b"e\nf\n"
    );
    assert_eq!(
        std::fs::read(&combined).unwrap(),
        std::fs::read(&file).unwrap()
    );
    assert_ne!(
        std::fs::metadata(&combined).unwrap().ino(),
        std::fs::metadata(&part).unwrap().ino()
    );
    store.ok(&["verify"]);
    let live = store.projected_files();
    store.ok(&["replay"]);
    assert_eq!(store.projected_files(), live);
}

/// A count of one is said in the singular, here and in `show`.
#[test]
fn one_line_is_counted_as_one_line() {
    let store = Store::new();
    let id = store.start("one");
    let out = store.piped(&["capture", &id, "--stdin"], b"x\n");
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!(
            "captured 1 line, 2 bytes into {id} (0 malformed, 0 resets, 0 compactions)"
        )),
        "{said}"
    );
    let shown = store.ok(&["show", &id]);
    assert!(
        shown.contains("captured    1 line, 2 bytes, 1 part\n"),
        "{shown}"
    );
}
