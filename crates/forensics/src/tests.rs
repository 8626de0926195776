//! Tests of the timeline and renders on real Claude Code transcripts.

use logbook_core::{
    Bytes, Envelope, Event, EventId, Hash, SessionId, SourceKind, SourceRef, Timestamp,
    TranscriptCaptured,
};

use crate::render::{Format, render};
use crate::timeline::{Kind, Outcome, Timeline};

const VIEWER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/claude-code/viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
);

fn session() -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(42))
}

fn env(seq: u64, event: Event) -> Envelope {
    Envelope {
        format: 1,
        seq,
        id: EventId::new_v7(),
        at: Timestamp::from_micros(1_700_000_000_000_000 + seq as i64),
        session: session(),
        session_seq: seq,
        prev_hash: Hash::ZERO,
        event,
    }
}

fn captured(seq: u64, bytes: &[u8]) -> Envelope {
    env(
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

/// The transcript captured in pieces of `lines` lines, as a live capture
/// would take it.
fn pieces(bytes: &[u8], lines: usize) -> Vec<Envelope> {
    let all: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    all.chunks(lines)
        .enumerate()
        .map(|(i, chunk)| captured(i as u64 + 1, &chunk.concat()))
        .collect()
}

#[test]
fn every_tool_call_of_a_real_transcript_has_its_outcome_and_edits_their_lines() {
    let bytes = std::fs::read(VIEWER).unwrap();
    // Hand count (python over the file): 167 tool_use blocks, 144 results
    // ok and 23 with is_error, none refused; three results carry a
    // structuredPatch: Edit +8 -97, MultiEdit +19 -20, Edit +74 -6.
    for lines in [1, 7, 10_000] {
        let timeline = Timeline::fold(session(), false, &pieces(&bytes, lines));
        let tools: Vec<_> = timeline
            .actions
            .iter()
            .filter(|a| a.kind == Kind::Tool)
            .collect();
        assert_eq!(tools.len(), 167, "captured {lines} lines at a time");
        let count = |o: Outcome| tools.iter().filter(|a| a.outcome == Some(o)).count();
        assert_eq!(count(Outcome::Ok), 144);
        assert_eq!(count(Outcome::Error), 23);
        assert!(timeline.open.is_empty());
        let patched = |id: &str| {
            let a = tools
                .iter()
                .find(|a| a.call_id.as_deref() == Some(id))
                .unwrap();
            (a.added.unwrap(), a.removed.unwrap())
        };
        assert_eq!(patched("toolu_01RU9a5XhCJLTFDUCM5rCMxy"), (8, 97));
        assert_eq!(patched("toolu_01S32MnkYrukXN9L3TTPje5F"), (19, 20));
        assert_eq!(patched("toolu_01HzeRPFdptUwZtZ3YZZzodS"), (74, 6));
        // Errors carry their first line; actions are numbered in order.
        assert!(
            tools
                .iter()
                .filter(|a| a.outcome == Some(Outcome::Error))
                .all(|a| a
                    .error
                    .as_deref()
                    .is_some_and(|e| !e.is_empty() && !e.contains('\n')))
        );
        assert!(
            timeline
                .actions
                .iter()
                .enumerate()
                .all(|(i, a)| a.n == i as u64 + 1)
        );
        let bash = tools
            .iter()
            .find(|a| a.tool.as_deref() == Some("Bash"))
            .unwrap();
        assert!(bash.target.is_some());
    }
}

#[test]
fn folding_an_event_twice_changes_nothing() {
    let bytes = std::fs::read(VIEWER).unwrap();
    let envs = pieces(&bytes, 50);
    let once = Timeline::fold(session(), true, &envs);
    let mut twice = Timeline::new(session(), true);
    for e in &envs {
        twice.apply(e);
        twice.apply(e);
    }
    assert_eq!(once, twice);
}

#[test]
fn prompts_interrupts_and_refusals_are_told_apart() {
    let lines = [
        r#"{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"fix <script>alert(1)</script> in auth.rs"}}"#,
        r#"{"type":"assistant","timestamp":"2026-01-01T00:00:01Z","message":{"id":"m1","role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"/p/auth.rs","old_string":"a\nb","new_string":"c"}}],"usage":{"input_tokens":10,"output_tokens":5}}}"#,
        r#"{"type":"user","timestamp":"2026-01-01T00:00:02Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"The user doesn't want to proceed with this tool use. The tool use was rejected."}]}}"#,
        r#"{"type":"user","timestamp":"2026-01-01T00:00:03Z","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]}}"#,
    ];
    let text = lines.join("\n") + "\n";
    let timeline = Timeline::fold(session(), true, &pieces(text.as_bytes(), 1));
    let kinds: Vec<Kind> = timeline.actions.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [Kind::Prompt, Kind::Tool, Kind::Interrupt]);
    let edit = &timeline.actions[1];
    assert_eq!(edit.outcome, Some(Outcome::Refused));
    assert_eq!((edit.added, edit.removed), (Some(1), Some(2)));
    assert_eq!(edit.target.as_deref(), Some("/p/auth.rs"));
    assert_eq!(edit.at, "2026-01-01T00:00:01Z");
    assert_eq!(edit.ended_at.as_deref(), Some("2026-01-01T00:00:02Z"));

    let page = render(&pieces(text.as_bytes(), 1), "t <b>", Format::Html, true);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&lt;b&gt;"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
    assert!(page.contains("tokens: 10 in, 5 out"));
    let md = render(&pieces(text.as_bytes(), 1), "t", Format::Markdown, true);
    assert!(md.contains("&lt;script&gt;"));
    assert!(md.contains("-a\n-b\n+c"), "{md}");
}

#[test]
fn a_render_of_a_real_transcript_holds_its_prompts_diffs_and_tokens() {
    let bytes = std::fs::read(VIEWER).unwrap();
    let envs = pieces(&bytes, 25);
    let md = render(&envs, "sample", Format::Markdown, true);
    // The patch of the first Edit, as Claude Code recorded it.
    assert!(md.contains("@@ -1,103 +1,14 @@"), "no structured patch");
    assert!(md.contains("*tokens: "));
    assert_eq!(md.matches("<details>").count(), 167);
    let html = render(&envs, "sample", Format::Html, true);
    assert_eq!(html.matches("<details").count(), 167);
    assert!(html.contains("class=\"add\""));
}

#[test]
fn a_fence_outlasts_the_backticks_it_holds() {
    let lines = r#"{"type":"assistant","message":{"id":"m","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"echo ````x"}}]}}"#;
    let md = render(
        &pieces(format!("{lines}\n").as_bytes(), 1),
        "t",
        Format::Markdown,
        false,
    );
    assert!(md.contains("`````json"), "{md}");
}
