//! Codex CLI: rollout files under
//! `${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-<local time>-<thread>.jsonl`
//! (and `archived_sessions/`, and `.jsonl.zst` when compressed), one
//! `{"timestamp","type","payload"}` line per item, appended
//! (`fixtures/AGENT-FORMATS.md` §1).
//!
//! The traps, and how this module avoids them:
//! - `token_count` is written again, unchanged, after each `turn_context`,
//!   and once more with a phantom `last_token_usage` at a compaction: usage
//!   is read from the cumulative `total_token_usage` only
//!   ([`Counting::Cumulative`]), so a repeat adds nothing.
//! - A forked thread's file starts with its parent's lines copied verbatim,
//!   original timestamps kept. Its own lines can only be stamped after the
//!   thread was created, which its id (a UUIDv7, also in the file name)
//!   carries: anything older is marked [`Record::replayed`].
//! - The user's prompt is written twice (a `user` message and a
//!   `user_message` event), as is the agent's text; injected context also
//!   comes as `user` messages. Prompts come from `user_message` events and
//!   replies from `assistant` messages only.

use std::path::Path;

use logbook_core::{CompactionDetected, CompactionTrigger};
use serde::Deserialize;
use serde_json::Value;

use crate::record::{
    Call, CallResult, Counting, Effect, Item, Outcome, Record, Todo, Tokens, Usage, shell_join,
    str_field, target_of, text_of,
};

#[derive(Deserialize)]
struct Line {
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
}

/// When the thread whose rollout `location` is was created, in
/// milliseconds since the epoch: from the UUIDv7 that ends the file name.
/// `None` for names without one (older Codex used other ids).
pub fn created_ms(location: &str) -> Option<i64> {
    let name = Path::new(location).file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".zst")
        .unwrap_or(name)
        .strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    thread_created_ms(id)
}

/// The creation time a UUIDv7 thread id carries.
pub fn thread_created_ms(id: &str) -> Option<i64> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    if uuid.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    i64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

fn millis(at: &str) -> Option<i64> {
    at.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}

/// Reads one rollout line of the file at `location`.
pub fn read(location: &str, line: &[u8]) -> Option<Record> {
    let line: Line = serde_json::from_slice(line).ok()?;
    let p = &line.payload;
    let kind = str_field(p, "type").unwrap_or_default();
    let replayed = match (
        created_ms(location),
        line.timestamp.as_deref().and_then(millis),
    ) {
        (Some(created), Some(at)) => at < created,
        _ => false,
    };
    let mut record = Record {
        at: line.timestamp.clone(),
        replayed,
        ..Record::default()
    };
    let items = &mut record.items;
    match (line.kind.as_str(), kind) {
        ("session_meta", _) => record.cwd = str_field(p, "cwd").map(str::to_owned),
        ("turn_context", _) => {
            record.cwd = str_field(p, "cwd").map(str::to_owned);
            if let Some(model) = str_field(p, "model") {
                items.push(Item::Request {
                    model: model.to_owned(),
                    betas: Vec::new(),
                });
            }
        }
        ("compacted", _) => {
            items.push(Item::Compaction);
            if let Some(text) = str_field(p, "message").filter(|t| !t.trim().is_empty()) {
                items.push(Item::Summary {
                    text: text.to_owned(),
                });
            }
        }
        ("event_msg", "user_message") => {
            let text = str_field(p, "message").unwrap_or_default();
            if !text.trim().is_empty() {
                items.push(Item::Prompt {
                    text: text.to_owned(),
                    command: false,
                });
            }
        }
        ("event_msg", "turn_aborted") => items.push(Item::Interrupt {
            text: format!(
                "turn aborted: {}",
                str_field(p, "reason").unwrap_or("interrupted")
            ),
        }),
        ("event_msg", "token_count") => {
            if let Some(usage) = usage(p) {
                items.push(Item::Usage(usage));
            }
        }
        ("event_msg", "exec_command_end") => {
            // 0.125 parses each command and says which files it read.
            let effects: Vec<Effect> = p
                .get("parsed_cmd")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| str_field(c, "type") == Some("read"))
                .filter_map(|c| str_field(c, "path").or_else(|| str_field(c, "name")))
                .map(|path| Effect::Read {
                    path: path.to_owned(),
                })
                .collect();
            if let Some(id) = str_field(p, "call_id") {
                if !effects.is_empty() {
                    items.push(Item::Touched {
                        id: id.to_owned(),
                        effects,
                    });
                }
                let exit_code = p
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok());
                let failed =
                    exit_code.is_some_and(|c| c != 0) || str_field(p, "status") == Some("failed");
                items.push(Item::Exited {
                    id: id.to_owned(),
                    outcome: if failed { Outcome::Error } else { Outcome::Ok },
                    exit_code,
                    text: str_field(p, "aggregated_output")
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
        ("response_item", "message") if str_field(p, "role") == Some("assistant") => {
            let text = text_of(p.get("content").unwrap_or(&Value::Null));
            if !text.trim().is_empty() {
                items.push(Item::Reply { text });
            }
        }
        ("response_item", "function_call") => {
            let name = str_field(p, "name").unwrap_or_default();
            let arguments = str_field(p, "arguments").unwrap_or_default();
            // Sanitised files replace arguments with markers: kept as text.
            let input = serde_json::from_str::<Value>(arguments)
                .unwrap_or_else(|_| Value::String(arguments.to_owned()));
            let id = str_field(p, "call_id").unwrap_or_default();
            items.push(Item::Call(call(id, name, input)));
        }
        ("response_item", "custom_tool_call") => {
            let name = str_field(p, "name").unwrap_or_default();
            let input = str_field(p, "input").unwrap_or_default();
            let id = str_field(p, "call_id").unwrap_or_default();
            items.push(Item::Call(custom_call(id, name, input)));
        }
        ("response_item", "function_call_output" | "custom_tool_call_output") => {
            let id = str_field(p, "call_id").unwrap_or_default();
            items.push(Item::Result(result(id, p.get("output"))));
        }
        ("response_item", "web_search_call") => {
            let action = p.get("action").unwrap_or(&Value::Null);
            let query = str_field(action, "query").unwrap_or_default();
            // The call has no id and no separate result: it is one line.
            let id = format!(
                "web_search@{}",
                line.timestamp.as_deref().unwrap_or_default()
            );
            items.push(Item::Call(Call {
                id: id.clone(),
                name: "web_search".into(),
                input: action.clone(),
                target: Some(query.to_owned()).filter(|q| !q.is_empty()),
                ..Call::default()
            }));
            if let Some(status) = str_field(p, "status") {
                items.push(Item::Result(CallResult {
                    id,
                    text: status.to_owned(),
                    outcome: if status == "completed" {
                        Outcome::Ok
                    } else {
                        Outcome::Error
                    },
                    exit_code: None,
                    patch: None,
                    running: false,
                }));
            }
        }
        _ => {}
    }
    Some(record)
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct CodexUsage {
    input_tokens: u64,
    cached_input_tokens: u64,
    output_tokens: u64,
}

impl From<CodexUsage> for Tokens {
    // Codex counts cached input inside `input_tokens` and reasoning inside
    // `output_tokens`; logbook's fresh input excludes the cache reads.
    fn from(u: CodexUsage) -> Self {
        Tokens {
            input: u.input_tokens.saturating_sub(u.cached_input_tokens),
            output: u.output_tokens,
            cache_creation: 0,
            cache_read: u.cached_input_tokens.min(u.input_tokens),
        }
    }
}

fn usage(p: &Value) -> Option<Usage> {
    let info = p.get("info").filter(|i| !i.is_null())?;
    let total: CodexUsage = serde_json::from_value(info.get("total_token_usage")?.clone()).ok()?;
    let last: Option<CodexUsage> = info
        .get("last_token_usage")
        .and_then(|l| serde_json::from_value(l.clone()).ok());
    Some(Usage {
        key: None,
        model: None,
        tokens: total.into(),
        counting: Counting::Cumulative,
        // The latest request's input is what the model had in context.
        context: last.map(|l| l.input_tokens).filter(|n| *n > 0),
        window: info.get("model_context_window").and_then(Value::as_u64),
    })
}

fn call(id: &str, name: &str, input: Value) -> Call {
    let mut effects = Vec::new();
    let mut target = target_of(&input);
    let mut diff = None;
    match name {
        "shell" | "container.exec" | "local_shell" => {
            if let Some(argv) = input.get("command").and_then(Value::as_array) {
                let command = shell_join(argv);
                target = Some(command.clone());
                effects.push(Effect::Shell { command });
            }
        }
        "exec_command" => {
            if let Some(command) = str_field(&input, "cmd") {
                effects.push(Effect::Shell {
                    command: command.to_owned(),
                });
            }
        }
        // Input to (or a poll of) a command `exec_command` left running:
        // which one is its session number, as the command's answer gave it.
        "write_stdin" => {
            if let Some(session) = input.get("session_id").filter(|s| !s.is_null()) {
                target = Some(match str_field(&input, "chars").filter(|c| !c.is_empty()) {
                    Some(chars) => format!("session {session}: {chars:?}"),
                    None => format!("session {session}"),
                });
            }
        }
        "update_plan" => {
            if let Some(plan) = input.get("plan").and_then(Value::as_array) {
                let todos = plan
                    .iter()
                    .map(|step| Todo {
                        content: str_field(step, "step").unwrap_or_default().to_owned(),
                        status: str_field(step, "status").unwrap_or_default().to_owned(),
                    })
                    .collect();
                effects.push(Effect::Todos { todos });
                // Why the plan changed, else what it holds.
                if let Some(why) = str_field(&input, "explanation") {
                    target = Some(why.to_owned());
                }
            }
        }
        _ => {}
    }
    // Before `apply_patch` was a tool of its own (0.45), the model ran it
    // through the shell (`apply_patch <<'EOF' …`, or as argv); Codex
    // applies such a patch itself instead of running a command.
    if let [Effect::Shell { command }] = effects.as_slice()
        && let Some(text) = shell_patch(command)
    {
        let (patched, lines) = patch(text);
        target = patched.iter().find_map(|e| match e {
            Effect::Modify { path } => Some(path.clone()),
            _ => None,
        });
        effects = patched;
        diff = Some(lines);
    }
    Call {
        id: id.to_owned(),
        name: name.to_owned(),
        input,
        target,
        effects,
        diff,
        subagent: false,
    }
}

/// The patch of a shell command that only runs `apply_patch` (or its alias
/// `applypatch`) on one.
fn shell_patch(command: &str) -> Option<&str> {
    let rest = command.trim_start();
    let rest = rest
        .strip_prefix("apply_patch")
        .or_else(|| rest.strip_prefix("applypatch"))?;
    if !rest.starts_with([' ', '\n', '<']) {
        return None;
    }
    let start = rest.find("*** Begin Patch")?;
    let end = rest[start..].find("*** End Patch")? + start + "*** End Patch".len();
    Some(&rest[start..end])
}

/// `apply_patch` and other free-text tools.
fn custom_call(id: &str, name: &str, input: &str) -> Call {
    let mut call = Call {
        id: id.to_owned(),
        name: name.to_owned(),
        input: Value::String(input.to_owned()),
        ..Call::default()
    };
    if name == "apply_patch" {
        let (effects, diff) = patch(input);
        call.target = effects.first().map(|e| match e {
            Effect::Modify { path } => path.clone(),
            _ => String::new(),
        });
        call.effects = effects;
        call.diff = Some(diff);
    }
    call
}

/// The files a Codex patch (`*** Begin Patch` … `*** End Patch`) changes,
/// and its `+`/`-` lines.
fn patch(text: &str) -> (Vec<Effect>, String) {
    let mut effects = Vec::new();
    let mut diff = String::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("*** ") {
            for prefix in ["Update File: ", "Add File: ", "Delete File: ", "Move to: "] {
                if let Some(path) = header.strip_prefix(prefix) {
                    effects.push(Effect::Modify {
                        path: path.trim().to_owned(),
                    });
                }
            }
        } else if line.starts_with('+') || line.starts_with('-') || line.starts_with("@@") {
            diff.push_str(line);
            diff.push('\n');
        }
    }
    (effects, diff)
}

fn result(id: &str, output: Option<&Value>) -> CallResult {
    let raw = match output {
        Some(Value::String(s)) => s.clone(),
        Some(other) => text_of(other),
        None => String::new(),
    };
    // `shell` and `apply_patch` answer with a JSON string of the output
    // and its exit code; `exec_command` with plain text that states it.
    let (text, exit_code, running) = match serde_json::from_str::<Value>(&raw) {
        Ok(Value::Object(o)) if o.contains_key("output") => (
            o.get("output")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            o.get("metadata")
                .and_then(|m| m.get("exit_code"))
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok()),
            false,
        ),
        _ => {
            // `exec_command` and `write_stdin` state how the process stands
            // before `Output:`: exited with a code, or still running (it
            // answers after a short wait; the exit comes later).
            let header: Vec<&str> = raw
                .lines()
                .take(6)
                .take_while(|l| *l != "Output:")
                .collect();
            let code = header
                .iter()
                .find_map(|l| l.strip_prefix("Process exited with code "))
                .and_then(|c| c.trim().parse().ok());
            let running = code.is_none()
                && header
                    .iter()
                    .any(|l| l.starts_with("Process running with session ID"));
            // The header is stated apart; what the process wrote is what a
            // reader looks for.
            let text = match raw.split_once("\nOutput:\n") {
                Some((stated, output)) if stated.starts_with("Chunk ID: ") => output.to_owned(),
                _ => raw,
            };
            (text, code, running)
        }
    };
    let failed = exit_code.is_some_and(|c| c != 0)
        || text.starts_with("write_stdin failed")
        || text.starts_with("failed to ");
    let refused = text.contains("rejected by user") || text.starts_with("exec command rejected");
    CallResult {
        id: id.to_owned(),
        outcome: if refused {
            Outcome::Refused
        } else if failed {
            Outcome::Error
        } else {
            Outcome::Ok
        },
        exit_code,
        patch: None,
        text,
        running,
    }
}

/// A `compacted` line: the capture opens a new segment there. Codex does
/// not say whether the user asked for it, so it is recorded as automatic.
pub fn compaction(line: &[u8]) -> Option<CompactionDetected> {
    memchr::memmem::find(line, b"\"compacted\"")?;
    let line: Line = serde_json::from_slice(line).ok()?;
    (line.kind == "compacted").then_some(CompactionDetected {
        trigger: CompactionTrigger::Auto,
        pre_tokens: None,
    })
}

/// What a rollout's `session_meta` says about the thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The thread id.
    pub id: Option<String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// The thread it was forked from.
    pub forked_from: Option<String>,
    /// `cli_version`.
    pub version: Option<String>,
}

/// Reads the thread's identity from its first `session_meta` line.
pub fn meta(line: &[u8]) -> Option<Meta> {
    let line: Line = serde_json::from_slice(line).ok()?;
    if line.kind != "session_meta" {
        return None;
    }
    let p = &line.payload;
    let s = |key: &str| str_field(p, key).map(str::to_owned);
    Some(Meta {
        id: s("id"),
        cwd: s("cwd"),
        forked_from: s("forked_from_id"),
        version: s("cli_version"),
    })
}
