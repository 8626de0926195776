//! `logbook import` on the real fixtures.

use std::path::{Path, PathBuf};

use logbook_tests::{Store, age, agent_fixture, fixtures, parts_of};
use serde_json::{Value, json};

/// Past the hour after which an untouched transcript's session is ended.
const TWO_HOURS: std::time::Duration = std::time::Duration::from_secs(7200);

fn all_jsonl(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_jsonl(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

/// The bytes up to and including the last newline: what may be captured.
fn complete_lines(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    &bytes[..end]
}

#[test]
fn every_fixture_imports_byte_exact_and_a_second_import_adds_nothing() {
    let store = Store::new();
    let summary: Value =
        serde_json::from_str(&store.ok(&["import", fixtures().to_str().unwrap(), "--json"]))
            .unwrap();
    let mut files = vec![];
    all_jsonl(&fixtures(), &mut files);
    assert_eq!(summary["files"], files.len() as u64);
    assert!(summary["skipped"].as_array().unwrap().is_empty());
    // The garbage-lines fixture has an empty line and a non-JSON line.
    let malformed = summary["malformed"].as_array().unwrap();
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert!(
        malformed[0][0]
            .as_str()
            .unwrap()
            .ends_with("garbage-lines.jsonl")
    );
    assert_eq!(malformed[0][1], 2);

    // Every file's complete lines are in some session's parts, byte for byte.
    let sessions = store.sessions();
    for file in &files {
        let original = std::fs::read(file).unwrap();
        let location = file.display().to_string();
        let found = sessions.iter().any(|s| {
            let id = s["session_id"].as_str().unwrap();
            let marker: Value = serde_json::from_slice(
                &std::fs::read(store.root().join("sessions").join(id).join("marker.json")).unwrap(),
            )
            .unwrap();
            marker["sources"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(key, source)| {
                    source["location"] == location.as_str()
                        && parts_of(&store, id, key) == complete_lines(&original)
                })
        });
        assert!(found, "{} is not captured byte for byte", file.display());
    }
    let again: Value =
        serde_json::from_str(&store.ok(&["import", fixtures().to_str().unwrap(), "--json"]))
            .unwrap();
    assert_eq!(again["lines"], 0);
    assert_eq!(again["new_sessions"], 0);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn agent_ids_and_cwd_come_from_records_and_subagents_join_their_parent() {
    let store = Store::new();
    store.ok(&["import", fixtures().join("viewer-sample").to_str().unwrap()]);
    let sessions = store.sessions();
    for s in &sessions {
        assert_eq!(s["agent"]["kind"], "claude-code");
        assert!(s["agent"]["session_id"].is_string());
    }
    // Flat agent-*.jsonl files become sources of their parent's session.
    let with_subagents = sessions.iter().filter(|s| {
        let id = s["session_id"].as_str().unwrap();
        store
            .root()
            .join("sessions")
            .join(id)
            .join("transcript/subagents")
            .is_dir()
    });
    assert!(with_subagents.count() >= 1);
}

#[test]
fn a_grown_transcript_adds_only_its_new_lines() {
    let store = Store::new();
    let file = store.scratch().join("grow.jsonl");
    let original = std::fs::read(fixtures().join("spotter-real/short.jsonl")).unwrap();
    std::fs::write(&file, &original).unwrap();
    store.ok(&["import", file.to_str().unwrap()]);
    let extra = b"{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"more\"}}\n";
    let mut grown = original.clone();
    grown.extend_from_slice(extra);
    std::fs::write(&file, &grown).unwrap();
    let summary: Value =
        serde_json::from_str(&store.ok(&["import", file.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(summary["lines"], 1);
    assert_eq!(summary["bytes"], extra.len() as u64);
    let id = store.sessions()[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(parts_of(&store, &id, "main"), grown);
}

#[test]
fn an_old_transcript_is_recorded_as_ended() {
    let store = Store::new();
    let file = store.scratch().join("old.jsonl");
    std::fs::copy(fixtures().join("spotter-real/short.jsonl"), &file).unwrap();
    age(&file, TWO_HOURS);
    store.ok(&["import", file.to_str().unwrap()]);
    let s = &store.sessions()[0];
    assert_eq!(s["status"], "completed");
    assert_eq!(s["end_reason"], "idle");
    let id = s["session_id"].as_str().unwrap();
    // Ended: the combined transcript exists and equals the parts.
    let combined = std::fs::read(
        store
            .root()
            .join("sessions")
            .join(id)
            .join("transcript.jsonl"),
    )
    .unwrap();
    assert_eq!(combined, std::fs::read(&file).unwrap());
}

#[test]
fn a_conversation_ends_only_when_all_its_files_are_idle() {
    let store = Store::new();
    let projects = store.scratch().join("projects/p");
    // Two conversations of a main file and a subagent's each (taken
    // parents first, their files would interleave): the import takes a
    // conversation's files together and decides its end after the last,
    // by the newest of them.
    for (agent, subagent_old) in [("conv-b", false), ("conv-a", true)] {
        let main = projects.join(format!("{agent}.jsonl"));
        let subagent = projects.join(agent).join("subagents/agent-x.jsonl");
        std::fs::create_dir_all(subagent.parent().unwrap()).unwrap();
        let line = |n: u32| {
            format!(
                "{}\n",
                json!({"type": "user", "sessionId": agent, "message": {"content": format!("line {n}")}})
            )
        };
        std::fs::write(&main, line(0) + &line(1)).unwrap();
        std::fs::write(&subagent, line(2)).unwrap();
        age(&main, TWO_HOURS);
        if subagent_old {
            age(&subagent, TWO_HOURS);
        }
    }
    store.ok(&["import", projects.to_str().unwrap()]);
    let sessions = store.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let of = |agent: &str| {
        sessions
            .iter()
            .find(|s| s["agent"]["session_id"] == agent)
            .unwrap()
            .clone()
    };
    // Its subagent still writes: the conversation is live.
    assert_eq!(of("conv-b")["status"], "active");
    let ended = of("conv-a");
    assert_eq!(ended["status"], "completed");
    assert_eq!(ended["end_reason"], "idle");
    let id = ended["session_id"].as_str().unwrap();
    assert_eq!(
        parts_of(&store, id, "subagents/agent-x"),
        std::fs::read(projects.join("conv-a/subagents/agent-x.jsonl")).unwrap()
    );
    let ends = store
        .ok(&["log", "--session", id])
        .lines()
        .filter(|l| l.contains("session_ended"))
        .count();
    assert_eq!(ends, 1);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn a_missing_path_fails_cleanly() {
    let store = Store::new();
    let line = store.fails(&["import", "/nonexistent/x.jsonl"], 2);
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn a_file_that_vanished_after_listing_is_reported_and_skipped() {
    let store = Store::new();
    let dir = store.scratch().join("projects/p");
    std::fs::create_dir_all(&dir).unwrap();
    let good = fixtures().join("spotter-real/short.jsonl");
    std::fs::copy(&good, dir.join("short.jsonl")).unwrap();
    // Listed (a link named like a transcript), gone when read: the same
    // path through import as a file deleted between listing and reading.
    std::os::unix::fs::symlink(
        store.scratch().join("deleted.jsonl"),
        dir.join("gone.jsonl"),
    )
    .unwrap();
    let out = store.run(&["import", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("skipped") && stderr.contains("gone.jsonl"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("imported 1 file into 1 session (1 new): ")
    );
    assert_eq!(store.sessions().len(), 1);
}

/// The earliest of a file's first dated records and the latest of its last,
/// read with nothing but JSON: the times the agent wrote.
fn record_span(files: &[PathBuf]) -> (String, String) {
    let mut first = Vec::new();
    let mut last = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        // A whole-file chat (Gemini CLI's JSON) dates its messages.
        let records: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(chat) => chat["messages"].as_array().unwrap().clone(),
            Err(_) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect(),
        };
        let times: Vec<String> = records
            .iter()
            .filter_map(|r| r["timestamp"].as_str().map(str::to_owned))
            .collect();
        first.extend(times.iter().take(16).cloned());
        last.extend(times.iter().rev().take(16).cloned());
    }
    let micros = |t: &String| format!("{}000Z", t.trim_end_matches('Z'));
    (
        micros(first.iter().min().unwrap()),
        micros(last.iter().max().unwrap()),
    )
}

/// An import records work done days ago: `ls`, `show`, the review and
/// `session.json` say when the agent did it (its records' times), not
/// when it was imported, and the log says both.
#[test]
fn an_imported_session_is_dated_by_its_agents_records() {
    let store = Store::new();
    let input = store.scratch().join("in");
    let claude = input.join("claude");
    let subagents = claude.join("eec2edc2-2bee-49da-bf84-17de1eb2d1f6/subagents");
    std::fs::create_dir_all(&subagents).unwrap();
    let e =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/claude-code-2.1.328/transcripts/e");
    let main = claude.join("eec2edc2-2bee-49da-bf84-17de1eb2d1f6.jsonl");
    std::fs::copy(e.join("eec2edc2-2bee-49da-bf84-17de1eb2d1f6.jsonl"), &main).unwrap();
    let subagent = subagents.join("agent-a0ceeb1e88bcefaef.jsonl");
    std::fs::copy(
        e.join("eec2edc2-2bee-49da-bf84-17de1eb2d1f6/subagents/agent-a0ceeb1e88bcefaef.jsonl"),
        &subagent,
    )
    .unwrap();
    let copy = |from: PathBuf, name: &str| {
        let to = input.join(name);
        std::fs::copy(from, &to).unwrap();
        to
    };
    let rollout = copy(
        agent_fixture(
            "codex",
            "localpush/rollout-2026-02-23T12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl",
        ),
        "rollout.jsonl",
    );
    // Gemini CLI rewrites this one whole: the log is read for its times.
    let chat = copy(
        agent_fixture(
            "gemini",
            "codemie-code/session-2026-01-16T11-01-file-ops-37b7abef.json",
        ),
        "session-2026-01-16T11-01-file-ops-37b7abef.json",
    );
    for file in [&main, &subagent, &rollout, &chat] {
        age(file, TWO_HOURS);
    }
    store.ok(&["import", input.to_str().unwrap()]);
    let of = |agent: &str| {
        store
            .sessions()
            .into_iter()
            .find(|s| s["agent"]["kind"] == agent)
            .unwrap()
    };
    for (agent, files) in [
        ("claude-code", vec![main.clone(), subagent.clone()]),
        ("codex", vec![rollout.clone()]),
        ("gemini", vec![chat.clone()]),
    ] {
        let (began, ended) = record_span(&files);
        let s = of(agent);
        assert_eq!(s["started_at"], began.as_str(), "{agent}: {s}");
        assert_eq!(s["ended_at"], ended.as_str(), "{agent}: {s}");
        let id = s["session_id"].as_str().unwrap();
        let show = store.ok(&["show", id]);
        assert!(show.contains(&began) && show.contains(&ended), "{show}");
        let review: Value = serde_json::from_str(&store.ok(&["review", id, "--json"])).unwrap();
        assert_eq!(review["started_at"], began.as_str());
        assert_eq!(review["ended_at"], ended.as_str());
        let timeline: Value = serde_json::from_str(&store.ok(&["timeline", id, "--json"])).unwrap();
        let actions = timeline["actions"].as_array().unwrap();
        let (start, end) = (&actions[0], actions.last().unwrap());
        assert_eq!(
            (&start["kind"], &start["at"]),
            (&json!("session_start"), &json!(began))
        );
        assert_eq!(
            (&end["kind"], &end["at"]),
            (&json!("session_end"), &json!(ended))
        );
        assert!(end["placed"].is_null(), "{end}");
        // A render says which agent, where and when, by the agent's clock.
        let md = store.ok(&["render", id, "--format", "md"]);
        // (A Gemini chat does not say its directory.)
        let cwd = s["agent"]["cwd"]
            .as_str()
            .map(|c| format!(" · in {c}"))
            .unwrap_or_default();
        assert!(
            md.contains(&format!("_{agent}{cwd} · started {began} · ended {ended}_")),
            "{}",
            &md[..md.len().min(400)]
        );
        assert!(md.contains(&format!("Session ended: idle (completed) · {ended}")));
        let html = store.ok(&["render", id, "--format", "html"]);
        assert!(html.contains(&format!("started {began} · ended {ended}</p>")));
        // The log keeps logbook's own times and says what the agent's were.
        let log = store.ok(&["log", "--session", id]);
        assert!(
            log.contains(&format!("began at {began} (by the agent's clock)")),
            "{log}"
        );
        assert!(
            log.contains(&format!("ended at {ended} (by the agent's clock)")),
            "{log}"
        );
    }
    // `ls` lists them in the order the work was done: the Gemini chat of
    // January, then the Codex rollout of February, though the import took
    // Claude Code's first.
    let kinds: Vec<Value> = store
        .sessions()
        .iter()
        .map(|s| s["agent"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("gemini"), json!("codex"), json!("claude-code")]
    );
    let table = store.ok(&["ls"]);
    let gemini = of("gemini")["session_id"].as_str().unwrap().to_owned();
    assert!(
        table.lines().nth(1).unwrap().starts_with(&gemini),
        "{table}"
    );
    // A second import dates nothing again.
    let events = store.ok(&["log"]).lines().count();
    store.ok(&["import", input.to_str().unwrap()]);
    assert_eq!(store.ok(&["log"]).lines().count(), events);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
    store.ok(&["replay"]);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}
