//! Tests of the review fold and project memory on a real Claude Code
//! transcript and on records written for one behaviour each.

use logbook_core::{
    AgentInfo, Bytes, Envelope, Event, EventId, Hash, NoteKind, NoteRecorded, Origin, SessionId,
    SessionStarted, SourceKind, SourceRef, Timestamp, TranscriptCaptured,
};

use crate::memory::{Contribution, ProjectMemory};
use crate::review::SessionFold;
use crate::tasks::COMPLETED;

const VIEWER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/claude-code/viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
);

fn id(n: u128) -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(n))
}

fn env(session: SessionId, seq: u64, event: Event) -> Envelope {
    Envelope {
        format: 1,
        seq,
        id: EventId::new_v7(),
        at: Timestamp::from_micros(1_700_000_000_000_000 + seq as i64),
        session,
        session_seq: seq,
        prev_hash: Hash::ZERO,
        event,
    }
}

fn started(session: SessionId, cwd: &str) -> Envelope {
    env(
        session,
        1,
        Event::SessionStarted(SessionStarted {
            command: None,
            agent: Some(AgentInfo {
                kind: "claude-code".into(),
                session_id: None,
                transcript_path: None,
                cwd: Some(cwd.into()),
                pid: None,
            }),
            origin: Origin::Fresh,
        }),
    )
}

fn captured(session: SessionId, seq: u64, bytes: &[u8]) -> Envelope {
    env(
        session,
        seq,
        Event::TranscriptCaptured(TranscriptCaptured {
            source: SourceRef {
                kind: SourceKind::ClaudeCode,
                key: "main".into(),
                location: "t.jsonl".into(),
            },
            byte_start: 0,
            line_start: 0,
            lines: bytes.iter().filter(|b| **b == b'\n').count() as u64,
            fingerprint: Hash::ZERO,
            bytes: Bytes(bytes.to_vec()),
        }),
    )
}

/// `bytes` captured `lines` lines at a time, from seq `from`.
fn pieces(session: SessionId, from: u64, bytes: &[u8], lines: usize) -> Vec<Envelope> {
    let all: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    all.chunks(lines)
        .enumerate()
        .map(|(i, chunk)| captured(session, from + i as u64, &chunk.concat()))
        .collect()
}

#[test]
fn the_todo_list_of_a_real_transcript_is_its_main_chains_successful_calls() {
    let bytes = std::fs::read(VIEWER).unwrap();
    // Hand count (python over the file): 19 TodoWrite calls, 3 in the main
    // chain, every one answered without error. The last main-chain list
    // holds 5 todos, all completed; the 16 sidechain lists are the
    // subagents' own. Between the main chain's second list (task 4 in
    // progress) and its third, 8 files were changed without error.
    for lines in [1, 13, 100_000] {
        let fold = SessionFold::fold(id(1), &pieces(id(1), 1, &bytes, lines));
        let tasks = &fold.tasks.tasks;
        assert_eq!(tasks.len(), 5, "{lines} lines at a time");
        assert!(tasks.iter().all(|t| t.status == COMPLETED));
        assert_eq!(
            tasks[3].text,
            "Implement state management and CRUD operations"
        );
        assert!(tasks[3].started_at.is_some());
        assert_eq!(
            tasks[3].files,
            [
                "/path/to/Demo/todo-app/src/hooks/useTodos.ts",
                "/path/to/Demo/todo-app/src/hooks/useTodos.test.ts",
                "/path/to/Demo/todo-app/src/hooks/index.ts",
                "/path/to/Demo/todo-app/src/components/TodoApp.tsx",
                "/path/to/Demo/todo-app/src/hooks/README.md",
                "/path/to/Demo/todo-app/src/components/Filter.tsx",
                "/path/to/Demo/todo-app/src/hooks/useSimpleTodos.ts",
                "/path/to/Demo/todo-app/src/app/page.tsx",
            ]
        );
        let review = fold.review(&[]);
        assert_eq!(review.tasks.completion_rate, Some(1.0));
        assert_eq!((review.tasks.planned, review.tasks.open), (5, 0));
    }
}

#[test]
fn a_todo_call_that_failed_changes_no_task() {
    let bytes = String::from_utf8(std::fs::read(VIEWER).unwrap()).unwrap();
    // The main chain's last TodoWrite (…wA1hC1) completes task 5; its
    // result made an error, the list stays as the call before left it.
    let line = bytes
        .lines()
        .find(|l| l.contains("\"tool_use_id\":\"toolu_") && l.contains("wA1hC1\""))
        .unwrap();
    let failed = line.replacen("\"tool_use_id\"", "\"is_error\":true,\"tool_use_id\"", 1);
    let bytes = bytes.replacen(line, &failed, 1);
    let fold = SessionFold::fold(id(1), &pieces(id(1), 1, bytes.as_bytes(), 50));
    let statuses: Vec<&str> = fold.tasks.tasks.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "completed",
            "completed",
            "completed",
            "in_progress",
            "pending"
        ]
    );
}

fn line(json: &str) -> String {
    format!("{json}\n")
}

fn bash(id: &str, at: &str, command: &str) -> String {
    line(&format!(
        r#"{{"type":"assistant","timestamp":"{at}","message":{{"id":"m{id}","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"tool_use","id":"{id}","name":"Bash","input":{{"command":"{command}"}}}}],"usage":{{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":100}}}}}}"#
    ))
}

fn result(id: &str, at: &str, error: bool, text: &str) -> String {
    line(&format!(
        r#"{{"type":"user","timestamp":"{at}","message":{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"{id}","is_error":{error},"content":"{text}"}}]}}}}"#
    ))
}

fn edit(id: &str, at: &str, path: &str) -> String {
    line(&format!(
        r#"{{"type":"assistant","timestamp":"{at}","message":{{"id":"m{id}","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"tool_use","id":"{id}","name":"Edit","input":{{"file_path":"{path}","old_string":"a\nb","new_string":"c\nd\ne"}}}}],"usage":{{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":100}}}}}}"#
    ))
}

fn prompt(at: &str, text: &str) -> String {
    line(&format!(
        r#"{{"type":"user","timestamp":"{at}","message":{{"role":"user","content":"{text}"}}}}"#
    ))
}

/// A session in `/work/app`: a failing test run, an edit, the same run
/// passing, a build failing twice, a correction and a decision.
fn worked(session: SessionId) -> Vec<Envelope> {
    let t = |s: u32| format!("2026-11-01T10:{:02}:{:02}Z", s / 60, s % 60);
    let text = [
        prompt(&t(0), "fix the parser tests"),
        bash("b1", &t(10), "cargo test -p parser"),
        result(
            "b1",
            &t(20),
            true,
            "test result: FAILED. 3 passed; 1 failed",
        ),
        edit("e1", &t(30), "/work/app/src/parser.rs"),
        result("e1", &t(31), false, "ok"),
        bash("b2", &t(40), "cargo test -p parser"),
        result("b2", &t(50), false, "test result: ok. 4 passed; 0 failed"),
        prompt(&t(1000), "no, never use unwrap in the parser"),
        prompt(&t(1010), "let's use thiserror for the errors"),
        bash("b3", &t(1020), "cargo build --release"),
        result("b3", &t(1030), true, "error: linker failed"),
        bash("b4", &t(1040), "cargo build --release"),
        result("b4", &t(1050), true, "error: linker failed"),
    ]
    .concat();
    let mut events = vec![started(session, "/work/app")];
    events.extend(pieces(session, 2, text.as_bytes(), 3));
    events
}

#[test]
fn a_review_counts_tests_edits_time_errors_and_blockers() {
    let fold = SessionFold::fold(id(1), &worked(id(1)));
    let review = fold.review(&[]);
    // Hand count: two test runs (one failed by its output and status, one
    // passed); one edit of one file, +3 -2; five responses of 115 tokens.
    assert_eq!(
        (review.tests.runs, review.tests.passed, review.tests.failed),
        (2, 1, 1)
    );
    assert_eq!(review.files_changed.len(), 1);
    assert_eq!(review.files_changed[0].path, "src/parser.rs");
    assert_eq!((review.lines_added, review.lines_removed), (3, 2));
    assert_eq!((review.tokens.total, review.tokens.responses), (5 * 115, 5));
    // Active: 0→50 s, then an idle gap of 950 s left out, then 1000→1050.
    assert_eq!(review.active_secs, 100);
    assert_eq!(review.wall_secs, 1050);
    assert_eq!(review.corrections.len(), 1);
    assert_eq!(review.decisions.len(), 1);
    assert_eq!(review.requests.len(), 3);
    // The failing test was fixed by the edit; the build failed twice.
    assert_eq!(review.errors.len(), 2);
    assert_eq!(review.errors[0].command, "cargo test -p parser");
    assert_eq!(review.errors[0].fixed_by, ["src/parser.rs"]);
    assert_eq!(review.errors[1].fixed_at, None);
    assert_eq!(review.blockers.len(), 1);
    assert_eq!(review.blockers[0].kind, "repeated_failure");
    assert_eq!(review.blockers[0].count, 2);
    assert!(review.cost_usd_estimate.is_some());
}

#[test]
fn a_session_folded_twice_adds_nothing_to_its_project() {
    let events = worked(id(1));
    let mut fold = SessionFold::fold(id(1), &events);
    let mut memory = ProjectMemory::new("/work/app");
    assert!(memory.replace(Contribution::of(&fold)));
    for e in &events {
        fold.apply(e);
    }
    assert!(!memory.replace(Contribution::of(&fold)));
    let view = memory.view();
    assert_eq!(view.corrections.len(), 1);
    assert_eq!(view.files[0].changes, 1);
}

#[test]
fn the_brief_keeps_to_its_cap_and_puts_the_newest_correction_first() {
    let mut memory = ProjectMemory::new("/work/app");
    for n in 1..=40u128 {
        let session = id(n);
        let note = |seq, kind, text: String| {
            let mut e = env(
                session,
                seq,
                Event::NoteRecorded(NoteRecorded { kind, text }),
            );
            e.at = Timestamp::from_micros(1_700_000_000_000_000 + 1_000_000 * n as i64);
            e
        };
        let events = [
            started(session, "/work/app"),
            note(
                2,
                NoteKind::Correction,
                format!("never touch generated file {n}"),
            ),
            note(3, NoteKind::Decision, format!("decision number {n}")),
        ];
        memory.replace(Contribution::of(&SessionFold::fold(session, &events)));
    }
    let view = memory.view();
    for cap in [300, 2_000] {
        let brief = view.brief(cap).unwrap();
        assert!(brief.chars().count() <= cap, "{cap}: {}", brief.len());
        let first = brief
            .lines()
            .skip_while(|l| !l.starts_with("Standing corrections"))
            .nth(1)
            .unwrap();
        assert_eq!(first, "- never touch generated file 40");
    }
    assert!(ProjectMemory::new("/empty").view().brief(2_000).is_none());
    // Files changed, and nothing corrected or decided: nothing to tell.
    let text = [
        edit("e1", "2026-11-01T10:00:00Z", "/work/quiet/a.rs"),
        result("e1", "2026-11-01T10:00:01Z", false, "ok"),
    ]
    .concat();
    let events = [
        started(id(99), "/work/quiet"),
        captured(id(99), 2, text.as_bytes()),
    ];
    let mut quiet = ProjectMemory::new("/work/quiet");
    quiet.replace(Contribution::of(&SessionFold::fold(id(99), &events)));
    assert_eq!(quiet.view().files[0].changes, 1);
    assert!(quiet.view().brief(2_000).is_none());
}

#[test]
fn a_denial_the_hook_reported_first_is_one_blocker_and_still_a_correction() {
    let s = id(1);
    let denied = env(
        s,
        2,
        Event::PermissionDenied(logbook_core::PermissionDenied {
            call: logbook_core::ToolCall {
                call_id: Some("d1".into()),
                tool: "Bash".into(),
                target: Some("rm -rf build".into()),
            },
            reason: None,
        }),
    );
    let text = [
        bash("d1", "2026-11-01T10:00:00Z", "rm -rf build"),
        result(
            "d1",
            "2026-11-01T10:00:01Z",
            true,
            "The user doesn't want to proceed with this tool use.",
        ),
    ]
    .concat();
    let events = [
        started(s, "/work/app"),
        denied,
        captured(s, 3, text.as_bytes()),
    ];
    let review = SessionFold::fold(s, &events).review(&[]);
    assert_eq!(review.blockers.len(), 1, "{:?}", review.blockers);
    assert_eq!(review.blockers[0].kind, "permission_denied");
    assert_eq!(review.blockers[0].count, 1);
    assert_eq!(review.corrections.len(), 1);
    assert_eq!(review.corrections[0].source, "rejected_tool");
}
