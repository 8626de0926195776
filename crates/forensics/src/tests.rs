//! Tests of the timeline and renders on real Claude Code transcripts.

use logbook_core::{
    Bytes, CompactionDetected, CompactionTrigger, Envelope, Event, EventId, Hash, NoteKind,
    NoteRecorded, SessionId, SourceKind, SourceRef, SubagentStarted, Timestamp, TranscriptCaptured,
};

use crate::render::{Format, render};
use crate::timeline::{Kind, ORDER_WINDOW, Outcome, Timeline};

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
    captured_from(seq, "main", bytes)
}

fn captured_from(seq: u64, key: &str, bytes: &[u8]) -> Envelope {
    env(
        seq,
        Event::TranscriptCaptured(TranscriptCaptured {
            source: SourceRef {
                kind: SourceKind::ClaudeCode,
                key: key.into(),
                location: format!("{key}.jsonl"),
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
        assert!(numbered_in_order(&timeline));
        let bash = tools
            .iter()
            .find(|a| a.tool.as_deref() == Some("Bash"))
            .unwrap();
        assert!(bash.target.is_some());
    }
}

/// Whether each action's `n` is its place, from 1.
fn numbered_in_order(timeline: &Timeline) -> bool {
    timeline
        .actions
        .iter()
        .enumerate()
        .all(|(i, a)| a.n == i as u64 + 1)
}

/// Each action's time in microseconds, with whether it was placed at
/// another.
fn times(timeline: &Timeline) -> Vec<(i64, bool)> {
    timeline
        .actions
        .iter()
        .map(|a| {
            let at = a.placed.as_deref().unwrap_or(&a.at);
            (
                Timestamp::parse(at).unwrap().as_micros(),
                a.placed.is_some(),
            )
        })
        .collect()
}

#[test]
fn parallel_sidechains_written_as_blocks_are_put_in_time_order() {
    // Claude Code 1.0.98 ran three Task subagents at once and wrote each
    // one's records as a block when it returned: in the file, the second
    // block starts at 00:52:54 after the first ended at 00:53:39.
    let bytes = std::fs::read(VIEWER).unwrap();
    let whole = Timeline::fold(session(), false, &pieces(&bytes, 10_000));
    let dated: Vec<i64> = times(&whole).into_iter().map(|(t, _)| t).collect();
    assert!(dated.len() > 167);
    assert!(
        dated.windows(2).all(|w| w[0] <= w[1]),
        "actions out of time order"
    );
    // The first subagent's end comes after the other subagents' work
    // that happened before it.
    let position = |pred: &dyn Fn(&crate::timeline::Action) -> bool| {
        whole.actions.iter().position(pred).unwrap()
    };
    let end = position(&|a| {
        a.kind == Kind::SubagentEnd && a.target.as_deref() == Some("Build TODO components")
    });
    let create_app = position(&|a| {
        a.target
            .as_deref()
            .is_some_and(|t| t.starts_with("npx create-next-app"))
    });
    assert!(create_app < end);
    // The same order whatever pieces the capture took.
    let unlogged = |t: Timeline| {
        t.actions
            .into_iter()
            .map(|a| crate::timeline::Action { seq: 0, ..a })
            .collect::<Vec<_>>()
    };
    let expected = unlogged(whole.clone());
    for lines in [1, 7] {
        let pieces = Timeline::fold(session(), false, &pieces(&bytes, lines));
        assert_eq!(
            unlogged(pieces),
            expected,
            "captured {lines} lines at a time"
        );
    }
}

#[test]
fn a_subagent_transcript_captured_after_the_main_one_is_put_in_its_place() {
    // As an import logs a Claude Code 2.x conversation: the main
    // transcript whole, then the subagent's own, then logbook's note, all
    // logged long after the agent wrote them.
    let main = [
        r#"{"type":"user","timestamp":"2020-01-01T00:00:00Z","message":{"role":"user","content":"look around"}}"#,
        r#"{"type":"assistant","timestamp":"2020-01-01T00:00:01Z","message":{"id":"m1","role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Agent","input":{"description":"look","prompt":"list"}}]}}"#,
        r#"{"type":"user","timestamp":"2020-01-01T00:00:09Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"done"}]}}"#,
        r#"{"type":"assistant","timestamp":"2020-01-01T00:00:10Z","message":{"id":"m2","role":"assistant","content":[{"type":"tool_use","id":"t2","name":"Bash","input":{"command":"make"}}]}}"#,
        r#"{"type":"user","timestamp":"2020-01-01T00:00:11Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t2","content":"ok"}]}}"#,
    ];
    let sub = [
        r#"{"type":"user","isSidechain":true,"timestamp":"2020-01-01T00:00:02Z","message":{"role":"user","content":"list"}}"#,
        r#"{"type":"assistant","isSidechain":true,"timestamp":"2020-01-01T00:00:03Z","message":{"id":"s1","role":"assistant","content":[{"type":"tool_use","id":"s1t","name":"Bash","input":{"command":"ls -a"}}]}}"#,
        r#"{"type":"user","isSidechain":true,"timestamp":"2020-01-01T00:00:04Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"s1t","content":"."}]}}"#,
    ];
    let note = env(
        3,
        Event::NoteRecorded(NoteRecorded {
            kind: NoteKind::Decision,
            text: "ship it".into(),
        }),
    );
    let envs = [
        captured_from(1, "main", (main.join("\n") + "\n").as_bytes()),
        captured_from(2, "subagents/agent-a1", (sub.join("\n") + "\n").as_bytes()),
        note,
    ];
    let timeline = Timeline::fold(session(), false, &envs);
    let shown: Vec<(Kind, Option<&str>)> = timeline
        .actions
        .iter()
        .map(|a| (a.kind, a.target.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (Kind::Prompt, None),
            (Kind::Tool, Some("look")),
            (Kind::SubagentStart, None),
            (Kind::Tool, Some("ls -a")),
            (Kind::SubagentEnd, Some("look")),
            (Kind::Tool, Some("make")),
            (Kind::Note, Some("decision")),
        ]
    );
    assert_eq!(timeline.actions[2].at, "2020-01-01T00:00:02Z");
    assert_eq!(timeline.actions[3].outcome, Some(Outcome::Ok));
    // The note, logged today, is placed at the latest action's time.
    assert_eq!(
        timeline.actions[6].placed.as_deref(),
        Some("2020-01-01T00:00:10.000000Z")
    );
    assert!(numbered_in_order(&timeline));
    // A logged action stays where it fell among the agent's: a record
    // logged after the note goes after it when dated after the action
    // before the note, and to its own time when dated earlier.
    let late = |seq, at: &str, command: &str| {
        captured_from(
            seq,
            "main",
            format!(
                r#"{{"type":"assistant","timestamp":"{at}","message":{{"id":"m{seq}","role":"assistant","content":[{{"type":"tool_use","id":"t{seq}","name":"Bash","input":{{"command":"{command}"}}}}]}}}}"#
            )
            .as_bytes(),
        )
    };
    let mut more = timeline.clone();
    more.apply(&late(4, "2020-01-01T00:00:10.500Z", "after"));
    more.apply(&late(5, "2020-01-01T00:00:05Z", "between"));
    let targets: Vec<Option<&str>> = more.actions.iter().map(|a| a.target.as_deref()).collect();
    assert_eq!(
        targets,
        [
            None,
            Some("look"),
            None,
            Some("ls -a"),
            Some("between"),
            Some("look"),
            Some("make"),
            Some("decision"),
            Some("after"),
        ]
    );
    // The open calls still point at their actions.
    for (id, index) in &more.open {
        assert_eq!(more.actions[*index].call_id.as_deref(), Some(id.as_str()));
    }
}

#[test]
fn a_background_subagent_is_shown_from_its_launch_to_its_notification() {
    // Claude Code 2.1.328 answers the Agent call at once and tells the
    // model when the subagent is done; imported, the main transcript is
    // logged whole before the subagent's own.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/claude-code-2.1.328/transcripts/e"
    );
    let main = std::fs::read(format!("{dir}/eec2edc2-2bee-49da-bf84-17de1eb2d1f6.jsonl")).unwrap();
    let sub = std::fs::read(format!(
        "{dir}/eec2edc2-2bee-49da-bf84-17de1eb2d1f6/subagents/agent-a0ceeb1e88bcefaef.jsonl"
    ))
    .unwrap();
    let key = "subagents/agent-a0ceeb1e88bcefaef";
    let timeline = Timeline::fold(
        session(),
        false,
        &[captured_from(1, "main", &main), captured_from(2, key, &sub)],
    );
    let shown: Vec<(Kind, Option<&str>, Option<&str>)> = timeline
        .actions
        .iter()
        .map(|a| (a.kind, a.tool.as_deref(), a.agent.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (Kind::Prompt, None, None),
            (Kind::Tool, Some("Agent"), None),
            (Kind::SubagentStart, None, Some(key)),
            (Kind::Tool, Some("Read"), Some(key)),
            (Kind::Tool, Some("Bash"), Some(key)),
            (Kind::SubagentEnd, None, None),
        ]
    );
    let end = &timeline.actions[5];
    assert_eq!(end.at, "2026-11-21T19:28:01.957Z");
    assert_eq!(end.target.as_deref(), Some("Read notes"));
    assert!(end.detail.as_deref().unwrap().starts_with("completed: "));
    let times: Vec<i64> = times(&timeline).into_iter().map(|(t, _)| t).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_subagent_the_hook_and_its_transcript_both_announce_starts_once_at_its_first_record() {
    let hook = |seq| {
        env(
            seq,
            Event::SubagentStarted(SubagentStarted {
                agent_id: "a7".into(),
                agent_type: "general-purpose".into(),
            }),
        )
    };
    // The subagent's first record, a second before the hook reached the
    // log.
    let line = br#"{"type":"user","isSidechain":true,"timestamp":"2023-11-14T22:13:19Z","message":{"role":"user","content":"go"}}
"#;
    let transcript = |seq| captured_from(seq, "subagents/agent-a7", line);
    for events in [[hook(1), transcript(2)], [transcript(1), hook(2)]] {
        let timeline = Timeline::fold(session(), false, &events);
        let starts: Vec<(&str, Option<&str>, Option<&str>)> = timeline
            .actions
            .iter()
            .filter(|a| a.kind == Kind::SubagentStart)
            .map(|a| (a.at.as_str(), a.agent.as_deref(), a.target.as_deref()))
            .collect();
        assert_eq!(
            starts,
            [(
                "2023-11-14T22:13:19Z",
                Some("subagents/agent-a7"),
                Some("general-purpose")
            )],
            "{:?}",
            events.iter().map(|e| e.seq).collect::<Vec<_>>()
        );
    }
    // A transcript with no time keeps the hook's.
    let undated = captured_from(
        2,
        "subagents/agent-a7",
        br#"{"type":"user","isSidechain":true,"message":{"role":"user","content":"go"}}
"#,
    );
    let timeline = Timeline::fold(session(), false, &[hook(1), undated]);
    let start = &timeline.actions[0];
    assert_eq!(
        (start.kind, start.at.clone(), start.agent.as_deref()),
        (
            Kind::SubagentStart,
            Timestamp::from_micros(1_700_000_000_000_001).to_string(),
            Some("subagents/agent-a7")
        )
    );
}

#[test]
fn an_imported_compaction_is_dated_by_its_boundary() {
    // Claude Code 2.1.328, `/compact` in an interactive session: the
    // boundary (19:27:14.612) is written before the `/compact` command's
    // own record (dated 14.435). The capture logs the compaction just
    // before the records that begin with the boundary, at its own time: an
    // import's, long after.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/claude-code-2.1.328/transcripts/b/3ae36436-c043-4496-b420-dd6e89fb80be.jsonl"
    );
    let bytes = std::fs::read(path).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let boundary = lines
        .iter()
        .position(|l| String::from_utf8_lossy(l).contains("\"compact_boundary\""))
        .unwrap();
    let mut detected = env(
        2,
        Event::CompactionDetected(CompactionDetected {
            trigger: CompactionTrigger::Manual,
            pre_tokens: None,
        }),
    );
    detected.at = Timestamp::parse("2026-11-23T12:00:00Z").unwrap();
    let events = [
        captured(1, &lines[..boundary].concat()),
        detected,
        captured(3, &lines[boundary..].concat()),
    ];
    let timeline = Timeline::fold(session(), false, &events);
    let shown: Vec<(Kind, String)> = timeline
        .actions
        .iter()
        .filter(|a| matches!(a.kind, Kind::Compaction | Kind::Prompt))
        .map(|a| (a.kind, a.at.clone()))
        .collect();
    let compaction = shown
        .iter()
        .position(|(k, _)| *k == Kind::Compaction)
        .unwrap();
    assert_eq!(shown[compaction].1, "2026-11-21T19:27:14.612Z");
    // After the command that asked for it, before the next prompt.
    assert_eq!(shown[compaction - 1].1, "2026-11-21T19:27:14.435Z");
    assert_eq!(shown[compaction + 1].1, "2026-11-21T19:27:18.446Z");
    assert!(timeline.actions.iter().all(|a| a.placed.is_none()));
    assert!(numbered_in_order(&timeline));
    // The user's slash commands as typed; Claude Code's output of them
    // (`<local-command-stdout>`) is not the user acting.
    let prompts: Vec<&str> = timeline
        .actions
        .iter()
        .filter(|a| a.kind == Kind::Prompt)
        .filter_map(|a| a.detail.as_deref())
        .collect();
    assert_eq!(
        prompts,
        [
            "/clear",
            "TASK-B3: edit b2 after the clear",
            "TASK-B4: no, don't use postgres; let's use sqlite instead",
            "/compact",
            "TASK-B5: after the compaction",
            "TASK-B6: last one"
        ]
    );
}

#[test]
fn live_logbook_and_the_agent_share_a_clock() {
    // A hook's report can reach the log before the records written just
    // before it are captured: live, logbook's time places it.
    let at = |seq: u64| Timestamp::from_micros(1_700_000_000_000_000 + seq as i64);
    let note = env(
        1,
        Event::NoteRecorded(NoteRecorded {
            kind: NoteKind::Plan,
            text: "next".into(),
        }),
    );
    let line = |when: Timestamp, command: &str| {
        format!(
            r#"{{"type":"assistant","timestamp":"{when}","message":{{"id":"{command}","role":"assistant","content":[{{"type":"tool_use","id":"{command}","name":"Bash","input":{{"command":"{command}"}}}}]}}}}"#
        ) + "\n"
    };
    let records = line(at(0), "before") + &line(at(2), "after");
    let timeline = Timeline::fold(
        session(),
        false,
        &[note, captured_from(2, "main", records.as_bytes())],
    );
    let targets: Vec<Option<&str>> = timeline
        .actions
        .iter()
        .map(|a| a.target.as_deref())
        .collect();
    assert_eq!(targets, [Some("before"), Some("plan"), Some("after")]);
    assert!(timeline.actions.iter().all(|a| a.placed.is_none()));
}

#[test]
fn a_transcript_that_runs_backwards_is_ordered_within_the_window() {
    // Hostile input: every record dated before the one above it. Each
    // insertion is bounded by the window, and the result stays ordered
    // within it.
    let count = ORDER_WINDOW + 200;
    let mut text = String::new();
    for i in 0..count {
        let second = 1_000_000 - i;
        text.push_str(&format!(
            r#"{{"type":"assistant","timestamp":"{}","message":{{"id":"m{i}","role":"assistant","content":[{{"type":"tool_use","id":"t{i}","name":"Bash","input":{{"command":"c{i}"}}}}]}}}}"#,
            Timestamp::from_micros(second as i64 * 1_000_000)
        ));
        text.push('\n');
    }
    let timeline = Timeline::fold(session(), false, &pieces(text.as_bytes(), 1));
    assert_eq!(timeline.actions.len(), count);
    let last: Vec<i64> = times(&timeline)[200..].iter().map(|(t, _)| *t).collect();
    assert!(last.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(timeline.open.len(), count);
    for (id, index) in &timeline.open {
        assert_eq!(
            timeline.actions[*index].call_id.as_deref(),
            Some(id.as_str())
        );
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

#[test]
fn printable_escapes_what_would_act_on_a_terminal_and_keeps_json_json() {
    use crate::printable;
    assert_eq!(printable("plain\ttext\nline"), "plain\ttext\nline");
    assert_eq!(
        printable("a\u{1b}[2Jb\u{7}c\u{9b}d\u{202e}e\u{7f}"),
        "a\\u001b[2Jb\\u0007c\\u009bd\\u202ee\\u007f"
    );
    let value = serde_json::json!({"text": "x\u{202e}y\u{85}z\u{1b}"});
    let shown = printable(&value.to_string()).into_owned();
    assert!(!shown.contains(['\u{202e}', '\u{85}', '\u{1b}']));
    let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(back, value);
}
