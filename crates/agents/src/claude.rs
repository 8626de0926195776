//! Claude Code: transcripts under `~/.claude/projects/<slug>/<session>.jsonl`,
//! one JSON record per line (DESIGN.md §6).
//!
//! The format is internal to Claude Code and changes between versions, so
//! every field is optional and everything else is ignored: a record this
//! module cannot read contributes nothing rather than failing the capture.

use logbook_core::{CompactionDetected, CompactionTrigger};
use serde::Deserialize;
use serde_json::Value;

use crate::record::{
    Call, CallResult, Counting, Effect, Item, Outcome, Record, Reported, Todo, Tokens, Usage,
    pair_diff, str_field, target_of, text_of,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    is_sidechain: bool,
    is_meta: bool,
    is_compact_summary: bool,
    timestamp: Option<String>,
    cwd: Option<String>,
    request_id: Option<String>,
    message: Option<Message>,
    tool_use_result: Option<Value>,
    origin: Option<Origin>,
}

/// Who wrote a user record, when it was not the user (2.1).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Origin {
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Message {
    id: Option<String>,
    model: Option<String>,
    content: Option<Content>,
    usage: Option<ApiUsage>,
}

/// A message's content: a plain string or a list of blocks.
///
/// Read by hand rather than as an untagged enum of internally tagged
/// blocks: serde reads both of those by first copying the whole value into
/// a buffer of its own and then reading the buffer, so every tool result
/// was copied twice more, on every fold of every line (300,000 lines of
/// the generated corpus read in 505 ms instead of 587). A block field of a
/// shape no version wrote also cost the whole line that way.
#[derive(Debug)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = Content;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of content blocks")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Content, E> {
                Ok(Content::Text(text.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Content, E> {
                Ok(Content::Text(text))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Content, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(raw) = seq.next_element::<RawBlock>()? {
                    blocks.push(Block::from(raw));
                }
                Ok(Content::Blocks(blocks))
            }
        }
        deserializer.deserialize_any(Shape)
    }
}

/// One content block as written: the fields of every kind logbook reads,
/// each any JSON value, so a block of a kind it does not know (or a field
/// of a shape it does not expect) is passed over instead of failing the
/// line.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawBlock {
    #[serde(rename = "type")]
    kind: Value,
    text: Value,
    id: Value,
    name: Value,
    input: Value,
    tool_use_id: Value,
    content: Value,
    is_error: Value,
}

#[derive(Debug)]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Value,
        is_error: Option<bool>,
    },
    Other,
}

impl From<RawBlock> for Block {
    fn from(raw: RawBlock) -> Self {
        let string = |v: Value| match v {
            Value::String(s) => s,
            _ => String::new(),
        };
        match raw.kind.as_str() {
            Some("text") => Block::Text {
                text: string(raw.text),
            },
            Some("tool_use") => Block::ToolUse {
                id: string(raw.id),
                name: string(raw.name),
                input: raw.input,
            },
            Some("tool_result") => Block::ToolResult {
                tool_use_id: string(raw.tool_use_id),
                content: raw.content,
                is_error: raw.is_error.as_bool(),
            },
            _ => Block::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
struct ApiUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
}

impl From<ApiUsage> for Tokens {
    fn from(u: ApiUsage) -> Self {
        Tokens {
            input: u.input_tokens,
            output: u.output_tokens,
            cache_creation: u.cache_creation_input_tokens,
            cache_read: u.cache_read_input_tokens,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CostState {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    model_usage: std::collections::BTreeMap<String, ModelUsage>,
    #[serde(rename = "totalCostUSD")]
    total_cost_usd: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ModelUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiRequest {
    #[serde(rename = "type")]
    kind: String,
    query_source: Option<String>,
    #[serde(default)]
    params: RequestParams,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestParams {
    model: Option<String>,
    betas: Vec<String>,
}

/// Claude Code's own records about accounting (2.1.x): its running
/// account (`cost-state`) and the requests it made (`api-request`).
fn accounting(line: &[u8]) -> Option<Record> {
    let has = |needle: &[u8]| memchr::memmem::find(line, needle).is_some();
    if has(b"\"cost-state\"")
        && let Ok(c) = serde_json::from_slice::<CostState>(line)
        && c.kind == "cost-state"
    {
        let by_model = c
            .model_usage
            .into_iter()
            .map(|(model, u)| {
                let tokens = Tokens {
                    input: u.input_tokens,
                    output: u.output_tokens,
                    cache_creation: u.cache_creation_input_tokens,
                    cache_read: u.cache_read_input_tokens,
                };
                (model, tokens)
            })
            .collect();
        return Some(Record {
            items: vec![Item::Reported(Reported {
                by_model,
                cost_usd: c.total_cost_usd,
            })],
            ..Record::default()
        });
    }
    if has(b"\"api-request\"")
        && let Ok(r) = serde_json::from_slice::<ApiRequest>(line)
        && r.kind == "api-request"
        && let Some(model) = r.params.model
    {
        return Some(Record {
            sidechain: r.query_source.is_some_and(|q| q.starts_with("agent:")),
            items: vec![Item::Request {
                model,
                betas: r.params.betas,
            }],
            ..Record::default()
        });
    }
    None
}

/// The usage-only fields of a line: the content (most of the bytes) is
/// skipped, not built.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UsageLine {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    is_sidechain: bool,
    timestamp: Option<String>,
    request_id: Option<String>,
    message: Option<UsageMessage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UsageMessage {
    id: Option<String>,
    model: Option<String>,
    usage: Option<ApiUsage>,
}

/// [`read`] for the tokens fold: usage, compactions and accounting only.
/// `None` without parsing for a line that can hold none of them.
pub fn read_usage(line: &[u8]) -> Option<Record> {
    if let Some(record) = accounting(line) {
        return Some(record);
    }
    let has = |needle: &[u8]| memchr::memmem::find(line, needle).is_some();
    if !has(b"\"usage\"") && !has(b"compact_boundary") {
        return None;
    }
    let line: UsageLine = serde_json::from_slice(line).ok()?;
    let mut record = Record {
        at: line.timestamp,
        sidechain: line.is_sidechain,
        ..Record::default()
    };
    if line.kind == "system" && line.subtype.as_deref() == Some("compact_boundary") {
        record.items.push(Item::Compaction);
    } else if line.kind == "assistant"
        && let Some(message) = line.message
        && let Some(usage) = usage_item(
            message.id.as_deref(),
            message.model,
            message.usage,
            line.request_id.as_deref(),
        )
    {
        record.items.push(usage);
    }
    Some(record)
}

/// One response's usage, keyed so its lines count once; none for Claude
/// Code's own placeholder answers, which cost nothing.
fn usage_item(
    id: Option<&str>,
    model: Option<String>,
    usage: Option<ApiUsage>,
    request_id: Option<&str>,
) -> Option<Item> {
    let usage = usage?;
    let model = model.unwrap_or_else(|| "unknown".into());
    if model == "<synthetic>" {
        return None;
    }
    let tokens = Tokens::from(usage);
    Some(Item::Usage(Usage {
        // One response is several lines sharing `message.id` and
        // `requestId`; the last line's usage is the response's.
        key: id.map(|id| format!("{id}:{}", request_id.unwrap_or_default())),
        model: Some(model),
        context: Some(tokens.context()),
        tokens,
        counting: Counting::Response,
        window: None,
    }))
}

/// Reads one transcript line; `None` for anything that is not a JSON
/// object this module can read.
pub fn read(line: &[u8]) -> Option<Record> {
    if let Some(record) = accounting(line) {
        return Some(record);
    }
    let mut line: Line = serde_json::from_slice(line).ok()?;
    let mut record = Record {
        at: line.timestamp.clone(),
        cwd: line.cwd.clone(),
        sidechain: line.is_sidechain,
        ..Record::default()
    };
    if line.kind == "system" && line.subtype.as_deref() == Some("compact_boundary") {
        record.items.push(Item::Compaction);
        return Some(record);
    }
    // Only user and assistant records are the conversation: 2.1 also
    // writes the messages each API request sent (`api-request-blob`),
    // copies of records already read.
    let user = line.kind == "user";
    if !user && line.kind != "assistant" {
        return Some(record);
    }
    let Some(message) = line.message.take() else {
        return Some(record);
    };
    let flags = Flags {
        meta: line.is_meta,
        compact_summary: line.is_compact_summary,
        notification: line
            .origin
            .as_ref()
            .and_then(|o| o.kind.as_deref())
            .is_some_and(|k| k == "task-notification"),
    };
    match message.content {
        None => {}
        Some(Content::Text(text)) => user_text(flags, text, &mut record.items),
        Some(Content::Blocks(blocks)) => {
            for block in blocks {
                match block {
                    Block::Text { text } if user => user_text(flags, text, &mut record.items),
                    Block::Text { text } if line.kind == "assistant" => {
                        record.items.push(Item::Reply { text });
                    }
                    Block::Text { .. } | Block::Other => {}
                    Block::ToolUse { id, name, input } => {
                        record.items.push(Item::Call(call(id, name, input)));
                    }
                    Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } => record.items.push(Item::Result(result(
                        tool_use_id,
                        &content,
                        is_error.unwrap_or(false),
                        line.tool_use_result.as_ref(),
                    ))),
                }
            }
        }
    }
    if line.kind == "assistant"
        && let Some(usage) = usage_item(
            message.id.as_deref(),
            message.model,
            message.usage,
            line.request_id.as_deref(),
        )
    {
        record.items.push(usage);
    }
    Some(record)
}

/// What a user record says about whose words its text is.
#[derive(Clone, Copy)]
struct Flags {
    meta: bool,
    compact_summary: bool,
    /// Claude Code telling the model a background task ended.
    notification: bool,
}

fn user_text(flags: Flags, text: String, items: &mut Vec<Item>) {
    let trimmed = text.trim();
    if flags.notification || trimmed.starts_with("<task-notification>") {
        if let Some(id) = tag(trimmed, "tool-use-id") {
            // A word of Claude Code's (`completed`, `failed`, `killed`):
            // anything else in its place is not trusted as one.
            let status = match tag(trimmed, "status") {
                None => "completed",
                Some(word)
                    if !word.is_empty()
                        && word.len() <= 32
                        && word
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
                {
                    word
                }
                Some(_) => "other",
            };
            let said = tag(trimmed, "result").or_else(|| tag(trimmed, "summary"));
            items.push(Item::Finished {
                id: id.to_owned(),
                status: status.to_owned(),
                text: said.unwrap_or_default().to_owned(),
            });
        }
    } else if flags.compact_summary {
        items.push(Item::Summary { text });
    } else if trimmed.starts_with("[Request interrupted by user") {
        items.push(Item::Interrupt {
            text: trimmed.to_owned(),
        });
    } else if !flags.meta && !trimmed.is_empty() {
        // Slash commands and their output come wrapped in tags: Claude
        // Code talking, not the user's own words.
        let command = is_markup(trimmed);
        items.push(Item::Prompt { text, command });
    }
}

fn call(id: String, name: String, input: Value) -> Call {
    let field = |key: &str| str_field(&input, key);
    let path = || {
        field("file_path")
            .or_else(|| field("notebook_path"))
            .map(str::to_owned)
    };
    let mut effects = Vec::new();
    let mut diff = None;
    match name.as_str() {
        "Read" | "NotebookRead" | "Grep" | "Glob" => {
            if let Some(path) = path().or_else(|| field("path").map(str::to_owned)) {
                effects.push(Effect::Read { path });
            }
        }
        "Edit" | "MultiEdit" | "Write" | "NotebookEdit" => {
            if let Some(path) = path() {
                effects.push(Effect::Modify { path });
            }
            let s = |v: &Value, key: &str| str_field(v, key).unwrap_or_default().to_owned();
            diff = match name.as_str() {
                "Edit" => Some(pair_diff(
                    &s(&input, "old_string"),
                    &s(&input, "new_string"),
                )),
                "MultiEdit" => input.get("edits").and_then(Value::as_array).map(|edits| {
                    edits
                        .iter()
                        .map(|e| pair_diff(&s(e, "old_string"), &s(e, "new_string")))
                        .collect::<Vec<_>>()
                        .join("@@\n")
                }),
                "Write" => Some(pair_diff("", &s(&input, "content"))),
                _ => None,
            };
        }
        "Bash" => {
            if let Some(command) = field("command") {
                effects.push(Effect::Shell {
                    command: command.to_owned(),
                });
            }
        }
        "TodoWrite" => {
            if let Some(items) = input.get("todos").and_then(Value::as_array) {
                let todos = items
                    .iter()
                    .map(|item| Todo {
                        content: str_field(item, "content").unwrap_or_default().to_owned(),
                        status: str_field(item, "status").unwrap_or_default().to_owned(),
                    })
                    .collect();
                effects.push(Effect::Todos { todos });
            }
        }
        "TaskCreate" => effects.push(Effect::TaskCreate {
            content: field("subject")
                .or_else(|| field("description"))
                .unwrap_or_default()
                .to_owned(),
        }),
        // Task ids count from 1 in creation order.
        "TaskUpdate" => {
            if let Some((index, status)) = field("taskId")
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .zip(field("status"))
            {
                effects.push(Effect::TaskUpdate {
                    index,
                    status: status.to_owned(),
                });
            }
        }
        _ => {}
    }
    Call {
        target: target_of(&input),
        subagent: matches!(name.as_str(), "Task" | "Agent"),
        id,
        name,
        input,
        effects,
        diff,
    }
}

fn result(id: String, content: &Value, is_error: bool, details: Option<&Value>) -> CallResult {
    let text = text_of(content);
    let interrupted = details
        .and_then(|r| r.get("interrupted"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || text.contains("[Request interrupted by user");
    let outcome = if interrupted {
        Outcome::Interrupted
    } else if is_error && is_refusal(&text) {
        Outcome::Refused
    } else if is_error {
        Outcome::Error
    } else {
        Outcome::Ok
    };
    // 2.1 answers an Agent call at once and runs the subagent on.
    let running = details.is_some_and(|d| {
        d.get("isAsync").and_then(Value::as_bool) == Some(true)
            || d.get("status").and_then(Value::as_str) == Some("async_launched")
    });
    CallResult {
        id,
        exit_code: if is_error { exit_code(&text) } else { None },
        patch: details.filter(|_| !is_error).and_then(patch_of),
        text,
        outcome,
        running,
    }
}

/// The text of the first `<name>…</name>` in markup Claude Code wrote (a
/// notification, a command; its own markup, not HTML: no attributes, no
/// nesting of a name).
fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))?;
    Some(text[start..start + end].trim())
}

/// What Claude Code writes when the user or a rule refuses a call.
fn is_refusal(text: &str) -> bool {
    text.contains("doesn't want to proceed with this tool use")
        || text.contains("tool use was rejected")
        || (text.contains("Permission to use") && text.contains("denied"))
}

/// `Exit code N` as Claude Code's Bash tool reports a failure.
fn exit_code(text: &str) -> Option<i32> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("exit code")?;
    lower[at + "exit code".len()..]
        .trim_start_matches([' ', ':'])
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()?
        .parse()
        .ok()
}

/// The hunks of a result's `structuredPatch`, as diff lines.
fn patch_of(details: &Value) -> Option<String> {
    let hunks = details.get("structuredPatch")?.as_array()?;
    // A file written anew states no hunks: the call's own content is then
    // the change.
    if hunks.is_empty() {
        return None;
    }
    let mut out = String::new();
    for hunk in hunks {
        let n = |key: &str| hunk.get(key).and_then(Value::as_u64).unwrap_or(0);
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            n("oldStart"),
            n("oldLines"),
            n("newStart"),
            n("newLines")
        ));
        for line in hunk
            .get("lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push_str(line.as_str().unwrap_or_default());
            out.push('\n');
        }
    }
    Some(out)
}

/// What the user ran, from a prompt Claude Code wrapped in markup: a slash
/// command (`/compact keep the tests`) or a `!` shell command (`!ls`).
/// `None` for the rest of its markup: a command's output, a caveat, a
/// reminder, a notice, which are Claude Code talking, not the user acting.
pub fn command_line(text: &str) -> Option<String> {
    if let Some(name) = tag(text, "command-name") {
        return Some(match tag(text, "command-args").filter(|a| !a.is_empty()) {
            Some(args) => format!("{name} {args}"),
            None => name.to_owned(),
        });
    }
    tag(text, "bash-input").map(|command| format!("!{command}"))
}

/// Claude Code's commands that steer the session itself (clear it, compact
/// it, pick a model, show a status): typing one asks the agent for no work.
const SESSION_COMMANDS: &[&str] = &[
    "add-dir",
    "agents",
    "bashes",
    "bug",
    "clear",
    "compact",
    "config",
    "context",
    "continue",
    "cost",
    "doctor",
    "exit",
    "export",
    "feedback",
    "help",
    "hooks",
    "ide",
    "keybindings",
    "login",
    "logout",
    "mcp",
    "memory",
    "model",
    "output-style",
    "permissions",
    "plugin",
    "plugins",
    "privacy-settings",
    "quit",
    "release-notes",
    "rename",
    "resume",
    "rewind",
    "sandbox",
    "settings",
    "stats",
    "status",
    "statusline",
    "tasks",
    "terminal-setup",
    "theme",
    "todos",
    "upgrade",
    "usage",
    "vim",
];

/// The tags Claude Code wraps what it writes in the user's place in:
/// slash and `!` commands, their output, and its notes about them.
const MARKUP: &[&str] = &[
    "command-name",
    "command-message",
    "command-args",
    "local-command-stdout",
    "local-command-stderr",
    "local-command-caveat",
    "bash-input",
    "bash-stdout",
    "bash-stderr",
    "system-reminder",
];

/// The tags that hold a command's output, in the order it is shown.
const OUTPUT: &[&str] = &[
    "local-command-stdout",
    "local-command-stderr",
    "bash-stdout",
    "bash-stderr",
];

/// Whether a prompt is Claude Code's markup rather than the user's words:
/// it opens with one of its tags. A prompt the user began with `<div>` or
/// `<script>` is theirs, and is kept as they wrote it.
fn is_markup(text: &str) -> bool {
    text.strip_prefix('<').is_some_and(|rest| {
        MARKUP.iter().any(|name| {
            rest.strip_prefix(name).is_some_and(|after| {
                after.starts_with('>') || after.starts_with(char::is_whitespace)
            })
        })
    })
}

/// What a command the user ran through Claude Code printed (`/mcp`'s
/// "Reconnected to tidewave.", a `!ls` listing), without the markup;
/// `None` when the text holds no command output.
pub fn command_output(text: &str) -> Option<String> {
    let found: Vec<&str> = OUTPUT.iter().filter_map(|name| tag(text, name)).collect();
    if found.is_empty() {
        return None;
    }
    let printed: Vec<&str> = found.into_iter().filter(|out| !out.is_empty()).collect();
    Some(printed.join("\n"))
}

/// The request in a slash command the user typed, as typed: a command of
/// their own or one that sets the agent to work (`/orchestrator build the
/// app`, `/init`), not one that steers the session (`/clear`, `/compact`,
/// `/model`), and not a `!` shell command, which Claude Code runs itself.
pub fn command_request(text: &str) -> Option<String> {
    let line = command_line(text)?;
    let name = line.strip_prefix('/')?.split_whitespace().next()?;
    (!SESSION_COMMANDS.contains(&name)).then_some(line)
}

/// A `compact_boundary` system record, if `line` is one: the capture opens
/// a new segment there.
pub fn compaction(line: &[u8]) -> Option<CompactionDetected> {
    memchr::memmem::find(line, b"compact_boundary")?;
    let record: Value = serde_json::from_slice(line).ok()?;
    if record.get("type")?.as_str()? != "system"
        || record.get("subtype")?.as_str()? != "compact_boundary"
    {
        return None;
    }
    let meta = record.get("compactMetadata");
    let trigger = match meta.and_then(|m| m.get("trigger")).and_then(Value::as_str) {
        Some("manual") => CompactionTrigger::Manual,
        _ => CompactionTrigger::Auto,
    };
    Some(CompactionDetected {
        trigger,
        pre_tokens: meta
            .and_then(|m| m.get("preTokens"))
            .and_then(Value::as_u64),
    })
}
