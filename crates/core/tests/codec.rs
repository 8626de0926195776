//! Golden bytes of every event variant, and codec round trips.
//!
//! `golden/envelopes-v1.txt` holds `name hex` lines written when format 1 was
//! released. If this test fails, the stored format changed: add a new
//! variant or envelope format instead (DESIGN.md §3). Regenerate only for a
//! variant that has never been released: `LOGBOOK_BLESS=1 cargo test -p
//! logbook-core --test codec`.
#![allow(clippy::unwrap_used)]

use logbook_core::*;
use uuid::Uuid;

fn sid(n: u128) -> SessionId {
    SessionId::from_uuid(Uuid::from_u128(n))
}

fn source() -> SourceRef {
    SourceRef {
        kind: SourceKind::ClaudeCode,
        key: "main".into(),
        location: "/home/u/.claude/projects/p/s.jsonl".into(),
    }
}

fn call() -> ToolCall {
    ToolCall {
        call_id: Some("toolu_01".into()),
        tool: "Read".into(),
        target: Some("/w/src/lib.rs".into()),
    }
}

/// One sample of every variant (and every sub-variant that changes shape).
fn samples() -> Vec<(&'static str, Event)> {
    let agent = AgentInfo {
        kind: "claude-code".into(),
        session_id: Some("5f1c".into()),
        transcript_path: Some("/t.jsonl".into()),
        cwd: Some("/w".into()),
        pid: Some(4242),
    };
    let started = |origin| {
        Event::SessionStarted(SessionStarted {
            command: Some("build".into()),
            agent: Some(agent.clone()),
            origin,
        })
    };
    let ended = |status, reason| {
        Event::SessionEnded(SessionEnded {
            status,
            exit_code: Some(2),
            reason,
            successor: Some(sid(7)),
        })
    };
    vec![
        ("started_fresh", started(Origin::Fresh)),
        ("started_resume", started(Origin::Resume)),
        (
            "started_after_clear",
            started(Origin::AfterClear { from: sid(1) }),
        ),
        (
            "started_after_compaction",
            started(Origin::AfterCompaction { from: sid(1) }),
        ),
        ("started_handoff", started(Origin::Handoff { from: sid(1) })),
        (
            "started_transition",
            started(Origin::Transition { from: sid(1) }),
        ),
        ("started_resumed", started(Origin::Resumed { from: sid(1) })),
        (
            "started_bare",
            Event::SessionStarted(SessionStarted {
                command: None,
                agent: None,
                origin: Origin::Fresh,
            }),
        ),
        (
            "ended_completed_exit",
            ended(EndStatus::Completed, EndReason::Exit),
        ),
        (
            "ended_failed_clear",
            ended(EndStatus::Failed, EndReason::Clear),
        ),
        (
            "ended_abandoned_compaction",
            ended(EndStatus::Abandoned, EndReason::Compaction),
        ),
        (
            "ended_logout",
            ended(EndStatus::Completed, EndReason::Logout),
        ),
        (
            "ended_transition",
            ended(EndStatus::Completed, EndReason::Transition),
        ),
        (
            "ended_other",
            ended(
                EndStatus::Completed,
                EndReason::Other("prompt_input_exit".into()),
            ),
        ),
        (
            "transcript_captured",
            Event::TranscriptCaptured(TranscriptCaptured {
                source: source(),
                byte_start: 1024,
                line_start: 10,
                lines: 2,
                fingerprint: Hash([9; 32]),
                bytes: Bytes(b"{\"type\":\"user\"}\n\xff\xfe\n".to_vec()),
            }),
        ),
        (
            "source_reset",
            Event::SourceReset(SourceReset {
                source: source(),
                reason: ResetReason::Replaced,
                old_offset: 77,
            }),
        ),
        (
            "compaction_auto",
            Event::CompactionDetected(CompactionDetected {
                trigger: CompactionTrigger::Auto,
                pre_tokens: Some(167_000),
            }),
        ),
        (
            "compaction_manual",
            Event::CompactionDetected(CompactionDetected {
                trigger: CompactionTrigger::Manual,
                pre_tokens: None,
            }),
        ),
        (
            "compaction_heuristic",
            Event::CompactionDetected(CompactionDetected {
                trigger: CompactionTrigger::Heuristic {
                    before: 900,
                    after: 120,
                },
                pre_tokens: None,
            }),
        ),
        (
            "token_usage",
            Event::TokenUsageObserved(TokenUsageObserved {
                used: 123_456,
                window: 200_000,
                source: UsageSource::StatusLine,
            }),
        ),
        (
            "budget_alert",
            Event::BudgetAlert(BudgetAlert {
                threshold: 18,
                remaining_pct: 17.25,
            }),
        ),
        (
            "note_decision",
            Event::NoteRecorded(NoteRecorded {
                kind: NoteKind::Decision,
                text: "use sled".into(),
            }),
        ),
        (
            "handoff_created",
            Event::HandoffCreated(HandoffCreated {
                from: sid(1),
                next_session: sid(2),
                context_ref: "sessions/x/context.json".into(),
            }),
        ),
        (
            "capture_gap",
            Event::CaptureGap(CaptureGap {
                source: SourceRef {
                    kind: SourceKind::Tmux,
                    key: "main".into(),
                    location: "%1".into(),
                },
                lines_missed: Some(40),
            }),
        ),
        (
            "session_resumed",
            Event::SessionResumed(SessionResumed { successor: sid(2) }),
        ),
        (
            "session_dated",
            Event::SessionDated(SessionDated {
                started_at: Timestamp::from_micros(1_790_000_000_654_321),
            }),
        ),
        (
            "tool_call_succeeded",
            Event::ToolCallFinished(ToolCallFinished {
                call: call(),
                outcome: ToolOutcome::Succeeded,
                duration_ms: Some(15),
                reported_at: Some(Timestamp::from_micros(1_790_000_000_111_111)),
            }),
        ),
        (
            "tool_call_failed",
            Event::ToolCallFinished(ToolCallFinished {
                call: call(),
                outcome: ToolOutcome::Failed {
                    error: "File does not exist.".into(),
                },
                duration_ms: None,
                reported_at: None,
            }),
        ),
        (
            "tool_call_interrupted",
            Event::ToolCallFinished(ToolCallFinished {
                call: ToolCall {
                    call_id: None,
                    tool: "Bash".into(),
                    target: None,
                },
                outcome: ToolOutcome::Interrupted {
                    error: "Interrupted by user".into(),
                },
                duration_ms: Some(2),
                reported_at: None,
            }),
        ),
        (
            "compaction_summarized",
            Event::CompactionSummarized(CompactionSummarized {
                trigger: CompactionTrigger::Manual,
                summary: "<summary>the plan</summary>".into(),
            }),
        ),
        (
            "subagent_started",
            Event::SubagentStarted(SubagentStarted {
                agent_id: "a2db0e7c49880717e".into(),
                agent_type: "general-purpose".into(),
            }),
        ),
        (
            "turn_failed",
            Event::TurnFailed(TurnFailed {
                error: "invalid_request".into(),
                details: Some("400 prompt is too long".into()),
            }),
        ),
        (
            "permission_requested",
            Event::PermissionRequested(PermissionRequested { call: call() }),
        ),
        (
            "permission_denied",
            Event::PermissionDenied(PermissionDenied {
                call: call(),
                reason: Some("rule Bash(rm:*)".into()),
            }),
        ),
        (
            "workdir_changed",
            Event::WorkdirChanged(WorkdirChanged {
                from: "/w".into(),
                to: "/w/sub".into(),
            }),
        ),
        (
            "task_created",
            Event::TaskChanged(TaskChanged {
                task_id: "1".into(),
                subject: "write tests".into(),
                change: TaskChange::Created,
            }),
        ),
        (
            "task_completed",
            Event::TaskChanged(TaskChanged {
                task_id: "1".into(),
                subject: "write tests".into(),
                change: TaskChange::Completed,
            }),
        ),
        (
            "session_end_dated",
            Event::SessionEndDated(SessionEndDated {
                ended_at: Timestamp::from_micros(1_790_000_000_765_432),
            }),
        ),
    ]
}

fn envelope(event: Event) -> Envelope {
    Envelope {
        format: ENVELOPE_FORMAT,
        seq: 300,
        id: EventId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_00aa)),
        at: Timestamp::from_micros(1_790_000_000_123_456),
        session: sid(0x0190_0000_0000_7000_8000_0000_0000_0001),
        session_seq: 3,
        prev_hash: Hash([0xab; 32]),
        event,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/envelopes-v1.txt");

#[test]
fn every_variant_matches_its_golden_bytes() {
    let rendered: String = samples()
        .into_iter()
        .map(|(name, event)| format!("{name} {}\n", hex(&envelope(event).encode().unwrap())))
        .collect();
    if std::env::var_os("LOGBOOK_BLESS").is_some() {
        std::fs::write(GOLDEN, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN).expect("golden file is committed");
    assert_eq!(rendered, golden, "the stored event format changed");
}

#[test]
fn every_golden_record_decodes_to_its_sample() {
    let golden = std::fs::read_to_string(GOLDEN).unwrap();
    let samples = samples();
    assert_eq!(golden.lines().count(), samples.len());
    for (line, (name, event)) in golden.lines().zip(samples) {
        let (golden_name, bytes) = line.split_once(' ').unwrap();
        assert_eq!(golden_name, name);
        let decoded = Envelope::decode(&unhex(bytes)).unwrap();
        assert_eq!(decoded, envelope(event), "{name}");
    }
}

#[test]
fn every_variant_round_trips_through_json() {
    for (name, event) in samples() {
        let env = envelope(event);
        let json = serde_json::to_string(&env).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, env, "{name}");
    }
}

#[test]
fn json_shows_bytes_as_base64_and_times_as_text() {
    let (_, event) = samples()
        .into_iter()
        .find(|(n, _)| *n == "transcript_captured")
        .unwrap();
    let json: serde_json::Value = serde_json::to_value(envelope(event)).unwrap();
    assert_eq!(json["at"], "2026-09-21T14:13:20.123456Z");
    let bytes = json["event"]["transcript_captured"]["bytes"]
        .as_str()
        .unwrap();
    assert_eq!(bytes, "eyJ0eXBlIjoidXNlciJ9Cv/+Cg==");
    assert_eq!(json["prev_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn corrupt_bytes_are_typed_errors_not_panics() {
    assert!(matches!(Envelope::decode(&[]), Err(CodecError::Empty)));
    assert!(matches!(
        Envelope::decode(&[9, 1, 2]),
        Err(CodecError::UnknownFormat(9))
    ));
    let mut good = envelope(samples().remove(0).1).encode().unwrap();
    assert!(matches!(
        Envelope::decode(&good[..good.len() - 3]),
        Err(CodecError::Decode(_))
    ));
    good.push(0);
    assert!(matches!(
        Envelope::decode(&good),
        Err(CodecError::Trailing(1))
    ));
    // A length prefix claiming more than the limit must fail, not allocate.
    let mut huge = vec![1u8];
    huge.extend_from_slice(&[0xff; 40]);
    assert!(Envelope::decode(&huge).is_err());
}

const GOLDEN_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/envelopes-v2.txt");

/// A turn of a real transcript (the shape Claude Code writes), big enough
/// to be stored compressed.
fn big_capture() -> Event {
    let line = r#"{"parentUuid":"5b9dbb26-5ec3-423d-8db5-b3688952f9d3","isSidechain":false,"type":"assistant","message":{"id":"msg_01","role":"assistant","model":"claude-opus-5-5","content":[{"type":"tool_use","id":"toolu_01","name":"Read","input":{"file_path":"/home/dev/demo/src/parser.rs"}}],"usage":{"input_tokens":3,"output_tokens":40,"cache_creation_input_tokens":500,"cache_read_input_tokens":1000}},"uuid":"53c6d6be-170d-492a-8526-d62d6d8614c4","timestamp":"2026-11-21T19:27:01.829Z","cwd":"/home/dev/demo","sessionId":"c6aa3d7d-8b0d-46c6-b5f8-639955ceba17","version":"2.1.328"}"#;
    let bytes = format!("{line}\n").repeat(8).into_bytes();
    Event::TranscriptCaptured(TranscriptCaptured {
        source: source(),
        byte_start: 4096,
        line_start: 12,
        lines: 8,
        fingerprint: Hash([7; 32]),
        bytes: Bytes(bytes),
    })
}

#[test]
fn a_big_event_is_stored_compressed_and_its_golden_bytes_decode() {
    let env = envelope(big_capture());
    let stored = env.encode().unwrap();
    assert_eq!(stored[0], COMPRESSED_FORMAT);
    assert!(
        stored.len() * 3 < big_capture_len(),
        "{} bytes",
        stored.len()
    );
    let rendered = format!("transcript_captured_compressed {}\n", hex(&stored));
    if std::env::var_os("LOGBOOK_BLESS").is_some() {
        std::fs::write(GOLDEN_V2, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN_V2).expect("golden file is committed");
    assert_eq!(rendered, golden, "the stored compressed format changed");
    let (_, bytes) = golden.trim_end().split_once(' ').unwrap();
    let decoded = Envelope::decode(&unhex(bytes)).unwrap();
    assert_eq!(
        decoded,
        Envelope {
            format: COMPRESSED_FORMAT,
            ..envelope(big_capture())
        }
    );
}

fn big_capture_len() -> usize {
    match big_capture() {
        Event::TranscriptCaptured(c) => c.bytes.0.len(),
        _ => 0,
    }
}

#[test]
fn a_corrupt_compressed_record_is_a_typed_error() {
    let mut stored = envelope(big_capture()).encode().unwrap();
    stored.truncate(stored.len() / 2);
    assert!(matches!(
        Envelope::decode(&stored),
        Err(CodecError::Decompress(_))
    ));
    assert!(matches!(
        Envelope::decode(&[COMPRESSED_FORMAT, 1, 2, 3]),
        Err(CodecError::Decompress(_))
    ));
}

#[test]
fn a_frame_that_states_no_size_is_streamed_and_one_that_states_too_much_is_refused() {
    let stored = envelope(big_capture()).encode().unwrap();
    assert_eq!(stored[0], COMPRESSED_FORMAT);
    let body = zstd::bulk::decompress(&stored[1..], 1 << 24).unwrap();
    // A streaming encoder does not know the size ahead, so it states none.
    let streamed = zstd::stream::encode_all(&body[..], 3).unwrap();
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&streamed).unwrap(),
        None
    );
    let mut restated = vec![COMPRESSED_FORMAT];
    restated.extend_from_slice(&streamed);
    assert_eq!(
        Envelope::decode(&restated).unwrap(),
        Envelope::decode(&stored).unwrap()
    );
    // A frame header claiming 2 GiB: refused before anything is allocated.
    let mut huge = vec![COMPRESSED_FORMAT, 0x28, 0xB5, 0x2F, 0xFD, 0xE0];
    huge.extend_from_slice(&(2u64 << 30).to_le_bytes());
    huge.extend_from_slice(&[1, 0, 0]);
    let err = Envelope::decode(&huge).unwrap_err();
    assert!(err.to_string().contains("size limit"), "{err}");
    // A frame whose content outgrows the size it states is corrupt.
    let mut short = stored.clone();
    let descriptor = stored[5];
    let window = usize::from(descriptor & 0x20 == 0);
    let dict = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
    let fcs_at = 1 + 4 + 1 + window + dict;
    assert_ne!(short[fcs_at], 0, "the size's low byte can go down by one");
    short[fcs_at] -= 1;
    assert!(matches!(
        Envelope::decode(&short),
        Err(CodecError::Decompress(_))
    ));
}
