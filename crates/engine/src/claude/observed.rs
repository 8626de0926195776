//! What Claude Code's hooks report as things happen, beyond the session
//! chain: each tool call's outcome (`PostToolUse`, `PostToolUseFailure`),
//! its own compaction summary (`PostCompact`), subagent starts, turns an
//! API error ended (`StopFailure`), permission requests and refusals,
//! working-directory moves and task-list changes. Each becomes one
//! agent-neutral event.
//!
//! Read from the payload as loose JSON, field by field: Claude Code's
//! payloads change between versions, and a field of an unexpected type
//! costs that field, never the whole record.

use logbook_core::{
    CompactionSummarized, CompactionTrigger, Event, PermissionDenied, PermissionRequested,
    SubagentStarted, TaskChange, TaskChanged, Timestamp, ToolCall, ToolCallFinished, ToolOutcome,
    TurnFailed, WorkdirChanged,
};
use serde_json::Value;

/// Longest error, reason or target kept, in characters: enough to tell
/// what happened; the transcript holds the rest.
const MAX_DETAIL: usize = 2_000;

/// Longest compaction summary kept, in characters (Claude Code's run to a
/// few thousand).
const MAX_SUMMARY: usize = 200_000;

/// The keys of a tool's input that name what it acted on, most specific
/// first.
const TARGET_KEYS: [&str; 9] = [
    "file_path",
    "notebook_path",
    "command",
    "url",
    "pattern",
    "query",
    "path",
    "skill",
    "description",
];

/// The event a hook payload of `hook_event_name` reports, if it is one of
/// these and carries what the event needs; `received_at` is when the hook
/// read it.
pub fn observed(payload: &Value, received_at: Option<Timestamp>) -> Option<Event> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    let bounded = |key: &str, max: usize| text(key).map(|t| bound(t, max));
    match text("hook_event_name")? {
        "PostToolUse" => Some(Event::ToolCallFinished(ToolCallFinished {
            call: tool_call(payload)?,
            outcome: ToolOutcome::Succeeded,
            duration_ms: payload.get("duration_ms").and_then(Value::as_u64),
            reported_at: received_at,
        })),
        "PostToolUseFailure" => {
            let error = bounded("error", MAX_DETAIL).unwrap_or_default();
            let interrupted = payload
                .get("is_interrupt")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Some(Event::ToolCallFinished(ToolCallFinished {
                call: tool_call(payload)?,
                outcome: if interrupted {
                    ToolOutcome::Interrupted { error }
                } else {
                    ToolOutcome::Failed { error }
                },
                duration_ms: payload.get("duration_ms").and_then(Value::as_u64),
                reported_at: received_at,
            }))
        }
        "PostCompact" => Some(Event::CompactionSummarized(CompactionSummarized {
            trigger: match text("trigger") {
                Some("auto") => CompactionTrigger::Auto,
                _ => CompactionTrigger::Manual,
            },
            summary: bounded("compact_summary", MAX_SUMMARY)?,
        })),
        "SubagentStart" => Some(Event::SubagentStarted(SubagentStarted {
            agent_id: bounded("agent_id", MAX_DETAIL)?,
            agent_type: bounded("agent_type", MAX_DETAIL).unwrap_or_default(),
        })),
        "StopFailure" => Some(Event::TurnFailed(TurnFailed {
            error: bounded("error", MAX_DETAIL).unwrap_or_else(|| "unknown".into()),
            details: bounded("error_details", MAX_DETAIL),
        })),
        "PermissionRequest" => Some(Event::PermissionRequested(PermissionRequested {
            call: tool_call(payload)?,
        })),
        "PermissionDenied" => Some(Event::PermissionDenied(PermissionDenied {
            call: tool_call(payload)?,
            reason: bounded("reason", MAX_DETAIL),
        })),
        "CwdChanged" => Some(Event::WorkdirChanged(WorkdirChanged {
            from: bounded("old_cwd", MAX_DETAIL).unwrap_or_default(),
            to: bounded("new_cwd", MAX_DETAIL)?,
        })),
        event @ ("TaskCreated" | "TaskCompleted") => Some(Event::TaskChanged(TaskChanged {
            task_id: match payload.get("task_id")? {
                Value::String(s) => bound(s, MAX_DETAIL),
                Value::Number(n) => n.to_string(),
                _ => return None,
            },
            subject: bounded("task_subject", MAX_DETAIL).unwrap_or_default(),
            change: if event == "TaskCreated" {
                TaskChange::Created
            } else {
                TaskChange::Completed
            },
        })),
        _ => None,
    }
}

fn tool_call(payload: &Value) -> Option<ToolCall> {
    let tool = payload.get("tool_name").and_then(Value::as_str)?;
    let input = payload.get("tool_input");
    let target = TARGET_KEYS
        .iter()
        .find_map(|key| input?.get(key)?.as_str().filter(|t| !t.is_empty()));
    Some(ToolCall {
        call_id: payload
            .get("tool_use_id")
            .and_then(Value::as_str)
            .map(|id| bound(id, MAX_DETAIL)),
        tool: bound(tool, MAX_DETAIL),
        target: target.map(|t| bound(t, MAX_DETAIL)),
    })
}

/// `text` cut to `max` characters, marked when cut.
fn bound(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload Claude Code 2.1.328 sent, else one written from its
    /// documentation (`tests/fixtures/*/hooks`).
    fn fixture(name: &str) -> Value {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
        let text = ["claude-code-2.1.328", "claude-code-docs"]
            .iter()
            .find_map(|dir| {
                std::fs::read_to_string(format!("{fixtures}/{dir}/hooks/{name}.json")).ok()
            })
            .expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    fn observed_now(payload: &Value) -> Option<Event> {
        observed(payload, None)
    }

    #[test]
    fn a_tool_call_that_worked() {
        let Some(Event::ToolCallFinished(t)) = observed_now(&fixture("PostToolUse")) else {
            panic!("not a tool call");
        };
        assert_eq!(t.call.tool, "Write");
        assert_eq!(t.call.call_id.as_deref(), Some("toolu_mock_0001_0"));
        assert!(
            t.call
                .target
                .as_deref()
                .is_some_and(|p| p.ends_with("/notes.txt"))
        );
        assert_eq!(t.outcome, ToolOutcome::Succeeded);
        assert_eq!(t.duration_ms, Some(15));
    }

    #[test]
    fn a_tool_call_that_failed_keeps_its_error() {
        let Some(Event::ToolCallFinished(t)) = observed_now(&fixture("PostToolUseFailure")) else {
            panic!("not a tool call");
        };
        assert_eq!(t.call.tool, "Read");
        let ToolOutcome::Failed { error } = t.outcome else {
            panic!("not a failure");
        };
        assert!(error.starts_with("File does not exist."), "{error}");
    }

    #[test]
    fn an_interrupted_tool_call() {
        let mut p = fixture("PostToolUseFailure");
        p["is_interrupt"] = true.into();
        let Some(Event::ToolCallFinished(t)) = observed_now(&p) else {
            panic!("not a tool call");
        };
        assert!(matches!(t.outcome, ToolOutcome::Interrupted { .. }));
    }

    #[test]
    fn every_other_event_maps() {
        let kinds: Vec<&str> = [
            "PostCompact",
            "SubagentStart",
            "StopFailure",
            "CwdChanged",
            "PermissionRequest",
            "PermissionDenied",
            "TaskCreated",
            "TaskCompleted",
        ]
        .iter()
        .map(|name| observed_now(&fixture(name)).map_or("none", |e| e.kind()))
        .collect();
        assert_eq!(
            kinds,
            [
                "compaction_summarized",
                "subagent_started",
                "turn_failed",
                "workdir_changed",
                "permission_requested",
                "permission_denied",
                "task_changed",
                "task_changed",
            ]
        );
    }

    #[test]
    fn the_compaction_summary_is_kept_whole() {
        let Some(Event::CompactionSummarized(c)) = observed_now(&fixture("PostCompact")) else {
            panic!("not a summary");
        };
        assert_eq!(c.trigger, CompactionTrigger::Manual);
        assert!(c.summary.contains("<summary>mock summary"), "{}", c.summary);
    }

    #[test]
    fn fields_of_another_type_cost_the_field_not_the_record() {
        let mut p = fixture("PostToolUse");
        p["duration_ms"] = "fast".into();
        p["tool_input"] = Value::Null;
        let Some(Event::ToolCallFinished(t)) = observed_now(&p) else {
            panic!("not a tool call");
        };
        assert_eq!((t.duration_ms, t.call.target), (None, None));
        // Without the tool's name there is no call to record.
        p["tool_name"] = 7.into();
        assert_eq!(observed_now(&p), None);
    }

    #[test]
    fn long_texts_are_bounded_on_a_character_boundary() {
        let mut p = fixture("StopFailure");
        p["error_details"] = "é".repeat(MAX_DETAIL + 10).into();
        let Some(Event::TurnFailed(f)) = observed_now(&p) else {
            panic!("not a failure");
        };
        let details = f.details.unwrap_or_default();
        assert_eq!(details.chars().count(), MAX_DETAIL + 1);
        assert!(details.ends_with('…'));
    }

    #[test]
    fn other_events_are_not_observations() {
        for name in ["Stop", "SessionStart-startup", "UserPromptSubmit"] {
            assert_eq!(observed_now(&fixture(name)), None, "{name}");
        }
    }
}
