//! Gemini CLI: chat recordings under `~/.gemini/tmp/<project>/chats/`
//! (`fixtures/AGENT-FORMATS.md` §2), in two forms:
//! - `session-*.jsonl`: an append-only log of a header line, message
//!   records, `{"$set":…}` updates and `{"$rewindTo":id}`; a message is
//!   written again in full whenever it changes (last copy wins).
//! - `session-*.json` (older): one JSON object rewritten whole on every
//!   update. [`Snapshot`] turns each version of it into the JSONL form's
//!   lines, only for messages that are new or changed since the last
//!   version captured, so both forms are stored and read alike.
//!
//! Every message record [`repeats`](Record::repeats): folds drop items they
//! already took, and tokens count each message id once, at its last count.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::record::{
    Call, CallResult, Counting, Effect, Item, Outcome, Record, Todo, Tokens, Usage, pair_diff,
    str_field, target_of, text_of,
};

/// Reads one line of the JSONL form.
pub fn read(line: &[u8]) -> Option<Record> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let mut record = Record {
        repeats: true,
        ..Record::default()
    };
    if let Some(to) = str_field(&value, "$rewindTo") {
        record.items.push(Item::Rewind { to: to.to_owned() });
    } else if let Some(set) = value.get("$set") {
        // A history sync replaces the whole list; what it repeats is
        // dropped by the folds like any repeated message.
        for message in set
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            message_items(message, &mut record.items);
        }
    } else if value.get("id").is_some() {
        record.at = str_field(&value, "timestamp").map(str::to_owned);
        record.message = str_field(&value, "id").map(str::to_owned);
        message_items(&value, &mut record.items);
    }
    Some(record)
}

fn message_items(message: &Value, items: &mut Vec<Item>) {
    let content = text_of(message.get("content").unwrap_or(&Value::Null));
    match str_field(message, "type") {
        Some("user") if !content.trim().is_empty() => items.push(Item::Prompt {
            text: content,
            command: false,
        }),
        Some("gemini") => {
            if !content.trim().is_empty() {
                items.push(Item::Reply { text: content });
            }
            for tool in message
                .get("toolCalls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                tool_items(tool, items);
            }
            if let Some(usage) = usage(message) {
                items.push(Item::Usage(usage));
            }
        }
        _ => {}
    }
}

fn usage(message: &Value) -> Option<Usage> {
    let tokens = message.get("tokens").filter(|t| t.is_object())?;
    let n = |key: &str| tokens.get(key).and_then(Value::as_u64).unwrap_or(0);
    let (input, cached) = (n("input"), n("cached"));
    Some(Usage {
        key: str_field(message, "id").map(str::to_owned),
        model: str_field(message, "model").map(str::to_owned),
        // `input` holds the cached part; `tool` is the tool-use prompt and
        // `thoughts` the reasoning, both billed beside input and output.
        tokens: Tokens {
            input: input.saturating_sub(cached).saturating_add(n("tool")),
            output: n("output").saturating_add(n("thoughts")),
            cache_creation: 0,
            cache_read: cached.min(input),
        },
        counting: Counting::Response,
        context: Some(input.saturating_add(n("tool"))).filter(|n| *n > 0),
        window: None,
    })
}

/// A unified diff's hunks, without the `Index:`, `---` and `+++` lines
/// before them (which would count as lines removed and added).
fn hunks(diff: &str) -> Option<&str> {
    if diff.starts_with("@@") {
        return Some(diff);
    }
    diff.find("\n@@").map(|at| &diff[at + 1..])
}

fn tool_items(tool: &Value, items: &mut Vec<Item>) {
    let id = str_field(tool, "id").unwrap_or_default().to_owned();
    let name = str_field(tool, "name").unwrap_or_default();
    let input = tool.get("args").cloned().unwrap_or(Value::Null);
    let field = |key: &str| str_field(&input, key).map(str::to_owned);
    let path = field("file_path").or_else(|| field("absolute_path"));
    let mut effects = Vec::new();
    let mut diff = None;
    match name {
        "read_file" | "list_directory" | "glob" | "search_file_content" | "grep" => {
            if let Some(path) = path.or_else(|| field("dir_path")).or_else(|| field("path")) {
                effects.push(Effect::Read { path });
            }
        }
        "read_many_files" => {
            for path in input
                .get("paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                effects.push(Effect::Read {
                    path: path.to_owned(),
                });
            }
        }
        "write_file" | "replace" | "edit" => {
            if let Some(path) = path {
                effects.push(Effect::Modify { path });
            }
            // What the write did to the file, as Gemini CLI diffed it: a
            // rewrite of a 264-line README that changed 60 lines is not
            // 264 lines added. Only the call's own input when it has none.
            let written = tool
                .get("resultDisplay")
                .and_then(|d| str_field(d, "fileDiff"))
                .and_then(hunks);
            diff = Some(match (written, name) {
                (Some(hunks), _) => hunks.to_owned(),
                (None, "write_file") => pair_diff("", &field("content").unwrap_or_default()),
                (None, _) => pair_diff(
                    &field("old_string").unwrap_or_default(),
                    &field("new_string").unwrap_or_default(),
                ),
            });
        }
        "run_shell_command" => {
            if let Some(command) = field("command") {
                effects.push(Effect::Shell { command });
            }
        }
        "write_todos" => {
            if let Some(list) = input.get("todos").and_then(Value::as_array) {
                let todos = list
                    .iter()
                    .map(|t| Todo {
                        content: str_field(t, "description")
                            .or_else(|| str_field(t, "content"))
                            .unwrap_or_default()
                            .to_owned(),
                        status: str_field(t, "status").unwrap_or_default().to_owned(),
                    })
                    .collect();
                effects.push(Effect::Todos { todos });
            }
        }
        _ => {}
    }
    items.push(Item::Call(Call {
        id: id.clone(),
        name: name.to_owned(),
        target: target_of(&input),
        input,
        effects,
        diff,
        subagent: name == "delegate_to_agent",
    }));
    let outcome = match str_field(tool, "status") {
        Some("success") => Outcome::Ok,
        Some("error") => Outcome::Error,
        Some("cancelled") => Outcome::Interrupted,
        // Scheduled, executing, awaiting approval: no result yet.
        _ => return,
    };
    let text = result_text(tool);
    items.push(Item::Result(CallResult {
        id,
        exit_code: text
            .lines()
            .find_map(|l| l.strip_prefix("Exit Code: "))
            .and_then(|c| c.trim().parse().ok()),
        text,
        outcome,
        patch: None,
        running: false,
    }));
}

fn result_text(tool: &Value) -> String {
    let parts: Vec<String> = tool
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| {
            let response = part.get("functionResponse")?.get("response")?;
            Some(
                match response.get("output").or_else(|| response.get("error")) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => response.to_string(),
                },
            )
        })
        .collect();
    if parts.is_empty() {
        match tool.get("resultDisplay") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    } else {
        parts.join("\n")
    }
}

/// What a chat file says about its session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `sessionId`.
    pub session_id: Option<String>,
    /// `projectHash`: sha256 of the project root.
    pub project_hash: Option<String>,
    /// `startTime`.
    pub start: Option<String>,
}

impl Header {
    fn of(value: &Value) -> Self {
        let s = |key: &str| str_field(value, key).map(str::to_owned);
        Header {
            session_id: s("sessionId"),
            project_hash: s("projectHash"),
            start: s("startTime"),
        }
    }

    /// The header of a JSONL chat file, from its first line.
    pub fn of_line(line: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(line).ok()?;
        value.get("sessionId").map(|_| Self::of(&value))
    }
}

/// Why a whole-file chat could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON, or cut off mid-write.
    #[error("not a Gemini CLI chat file: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a chat object with a message list.
    #[error("not a Gemini CLI chat file: no `messages` list")]
    Shape,
}

/// One version of a whole-file (`.json`) chat.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The header fields.
    pub header: Header,
    /// The header as a JSONL line (every top-level key but `messages`).
    header_line: Vec<u8>,
    /// Each message's id and its JSONL line, in order.
    messages: Vec<(String, Vec<u8>)>,
}

/// What changed between the version captured last and this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Earlier history is gone (the file was replaced, or Gemini CLI
    /// rewound or rewrote it): the message the lines rewind to.
    pub rewind_to: Option<String>,
    /// The JSONL lines to capture, each ending in a newline.
    pub lines: Vec<u8>,
    /// How many lines.
    pub count: u64,
}

impl Snapshot {
    /// Parses a whole chat file.
    pub fn parse(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let Value::Object(mut object) = serde_json::from_slice::<Value>(bytes)? else {
            return Err(SnapshotError::Shape);
        };
        let Some(Value::Array(list)) = object.remove("messages") else {
            return Err(SnapshotError::Shape);
        };
        let header = Header::of(&Value::Object(object.clone()));
        let header_line = line_of(&Value::Object(object));
        let messages = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let id = str_field(m, "id").map_or_else(|| format!("#{i}"), str::to_owned);
                (id, line_of(m))
            })
            .collect();
        Ok(Snapshot {
            header,
            header_line,
            messages,
        })
    }

    /// The lines that bring a reader who saw `seen` (from the captures so
    /// far) to this version. A first capture starts with the header line.
    /// When earlier history is gone the stream starts again: header, a
    /// `$rewindTo` naming the first message that went, and every message
    /// this version holds ([`Change::rewind_to`]; the capture records the
    /// restart as a source reset).
    pub fn change(&self, seen: &Captured, first: bool) -> Change {
        let mut change = Change::default();
        let present: std::collections::HashSet<&str> =
            self.messages.iter().map(|(id, _)| id.as_str()).collect();
        // Gemini's own `$rewindTo` drops the named message and every later
        // one: name the earliest message this version no longer has.
        change.rewind_to = seen
            .order
            .iter()
            .find(|id| !present.contains(id.as_str()))
            .cloned();
        if first || change.rewind_to.is_some() {
            push(&mut change, &self.header_line);
        }
        if let Some(gone) = &change.rewind_to {
            let mut rewind = Map::new();
            rewind.insert("$rewindTo".into(), Value::String(gone.clone()));
            push(&mut change, &line_of(&Value::Object(rewind)));
        }
        let rewound = change.rewind_to.is_some();
        for (id, line) in &self.messages {
            let known = seen
                .hashes
                .get(id)
                .is_some_and(|h| *h == blake3::hash(line));
            if rewound || !known {
                push(&mut change, line);
            }
        }
        change
    }
}

/// The messages captured so far from a whole-file chat, in the order they
/// were first written, with the hash of each one's latest line: what
/// [`Snapshot::change`] diffs against.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    order: Vec<String>,
    hashes: HashMap<String, blake3::Hash>,
}

impl Captured {
    /// Takes in lines already captured (the transcoded JSONL form).
    pub fn take(&mut self, bytes: &[u8]) {
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            if value.get("$rewindTo").is_some() {
                // Everything is written again after a rewind.
                self.order.clear();
                self.hashes.clear();
            } else if let Some(id) = str_field(&value, "id") {
                let hash = blake3::hash(&[line, b"\n"].concat());
                if self.hashes.insert(id.to_owned(), hash).is_none() {
                    self.order.push(id.to_owned());
                }
            }
        }
    }

    /// Whether nothing was captured yet.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

fn line_of(value: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

fn push(change: &mut Change, line: &[u8]) {
    change.lines.extend_from_slice(line);
    change.count += 1;
}
