//! The agent-neutral record every adapter reads its lines into, and what
//! the projections fold.
//!
//! An adapter decides what its agent's tool calls mean (a read, a change, a
//! shell command, a plan), what an interrupt or a refusal looks like, and
//! how its token counts are to be added up. The projections only see the
//! meaning, so a new agent changes no projection.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one line of an agent's session file says.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Record {
    /// RFC 3339 time the agent gave the line, if it did.
    pub at: Option<String>,
    /// The agent's working directory, when the line states it.
    pub cwd: Option<String>,
    /// Written by a subagent inside the main file.
    pub sidechain: bool,
    /// History copied from another session (a forked Codex thread replays
    /// its parent): kept, shown as such, never counted again.
    pub replayed: bool,
    /// Its items may repeat in a later line (Gemini CLI writes a message
    /// again whenever it changes); folds drop what they already saw
    /// through [`Seen`].
    pub repeats: bool,
    /// The agent's id of the message the line holds, when it repeats: two
    /// messages may say the same words, one message written twice may not.
    pub message: Option<String>,
    /// What the line holds, in order.
    pub items: Vec<Item>,
}

/// One thing a record holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum Item {
    /// A request the user typed.
    Prompt {
        /// Its text.
        text: String,
        /// A command the agent wrapped in markup (Claude Code's slash
        /// commands and their output), not the user's own words.
        command: bool,
    },
    /// The user stopped the agent mid-turn.
    Interrupt {
        /// What the agent wrote about it.
        text: String,
    },
    /// Text the agent wrote to the user.
    Reply {
        /// Its text.
        text: String,
    },
    /// The summary that opens the context after a compaction.
    Summary {
        /// Its text.
        text: String,
    },
    /// The agent called a tool.
    Call(Call),
    /// A tool's result.
    Result(CallResult),
    /// What a call did, learned after its result (Codex states the files a
    /// shell command read when the command ends).
    Touched {
        /// The call.
        id: String,
        /// What it did.
        effects: Vec<Effect>,
    },
    /// Tokens one API response (or the thread so far) used.
    Usage(Usage),
    /// The agent compacted its context: its size is unknown until the next
    /// response.
    Compaction,
    /// The agent's own running account of the conversation's tokens.
    Reported(Reported),
    /// The model (and flags) a request was made with, which say the
    /// context window.
    Request {
        /// The model.
        model: String,
        /// Beta flags sent with it.
        betas: Vec<String>,
    },
    /// A call that went on after its result has ended: Claude Code (2.1)
    /// runs a subagent in the background, answers the call at once, and
    /// tells the model in a message of its own when the subagent is done.
    Finished {
        /// The call.
        id: String,
        /// As the agent put it: `completed`, `failed`, `killed`, …
        status: String,
        /// What it came to.
        text: String,
    },
    /// A command that was still running when its call was answered has
    /// exited: Codex (0.125) answers `exec_command` after a second with the
    /// output so far, and writes `exec_command_end` with the exit status
    /// when the process ends.
    Exited {
        /// The call that started it.
        id: String,
        /// `Ok` when it exited 0, else `Error`.
        outcome: Outcome,
        /// Its exit code.
        exit_code: Option<i32>,
        /// All it wrote.
        text: String,
    },
    /// The agent dropped the conversation back to before this message
    /// (Gemini CLI's `$rewindTo`).
    Rewind {
        /// The first message removed.
        to: String,
    },
}

/// A tool call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Call {
    /// Its id, which the result names.
    pub id: String,
    /// The tool, as the agent names it.
    pub name: String,
    /// Its input, as the agent wrote it (a JSON object where it was one).
    pub input: Value,
    /// The one thing it acted on: a command, path, URL or pattern.
    pub target: Option<String>,
    /// What it does if it succeeds.
    pub effects: Vec<Effect>,
    /// The change it asked for, as diff lines (`-old`, `+new`).
    pub diff: Option<String>,
    /// It starts a subagent; its result is that subagent's end.
    pub subagent: bool,
}

/// What a tool call does once its result says it succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// A file was read.
    Read {
        /// As the agent named it.
        path: String,
    },
    /// A file was changed.
    Modify {
        /// As the agent named it.
        path: String,
    },
    /// A shell command ran.
    Shell {
        /// The command line.
        command: String,
    },
    /// The todo list was replaced.
    Todos {
        /// The new list.
        todos: Vec<Todo>,
    },
    /// A task was added.
    TaskCreate {
        /// Its subject.
        content: String,
    },
    /// A task's status changed.
    TaskUpdate {
        /// Position in creation order, from 0.
        index: usize,
        /// The new status.
        status: String,
    },
}

/// A todo item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// `pending`, `in_progress`, `completed`, …
    pub status: String,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
    /// The user or a rule refused it.
    Refused,
    /// The user interrupted it.
    Interrupted,
}

/// A tool's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallResult {
    /// The call it answers.
    pub id: String,
    /// Its text.
    pub text: String,
    /// How the call ended.
    pub outcome: Outcome,
    /// A shell command's exit code, when stated.
    pub exit_code: Option<i32>,
    /// The change made, as diff lines, when the result states it exactly.
    pub patch: Option<String>,
    /// What the call started goes on after this result: a subagent
    /// launched in the background, which ends with an [`Item::Finished`],
    /// or a process still running, which ends with an [`Item::Exited`]
    /// when the agent records its end.
    pub running: bool,
}

impl Item {
    /// The request the user made in this item, if it is one: a prompt's
    /// text, or the request in a command they typed
    /// ([`crate::claude::command_request`]).
    pub fn request(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Item::Prompt {
                text,
                command: false,
            } => Some(std::borrow::Cow::Borrowed(text)),
            Item::Prompt {
                text,
                command: true,
            } => crate::claude::command_request(text).map(std::borrow::Cow::Owned),
            _ => None,
        }
    }
}

/// Token counts, in the four kinds every agent's counts map onto.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Fresh input.
    pub input: u64,
    /// Output (reasoning included).
    pub output: u64,
    /// Written to the prompt cache.
    pub cache_creation: u64,
    /// Read from the prompt cache.
    pub cache_read: u64,
}

impl Tokens {
    /// What the model had in its context.
    pub fn context(&self) -> u64 {
        self.input
            .saturating_add(self.cache_creation)
            .saturating_add(self.cache_read)
    }

    /// What a running total adds over the `previous` total of the same
    /// source: the step, field by field. A total below the previous one in
    /// any field is a new counter (a thread that did not carry its parent's
    /// over), and counts whole.
    pub fn step_from(&self, previous: Option<&Tokens>) -> Tokens {
        match previous {
            Some(before)
                if self.input >= before.input
                    && self.output >= before.output
                    && self.cache_creation >= before.cache_creation
                    && self.cache_read >= before.cache_read =>
            {
                Tokens {
                    input: self.input - before.input,
                    output: self.output - before.output,
                    cache_creation: self.cache_creation - before.cache_creation,
                    cache_read: self.cache_read - before.cache_read,
                }
            }
            _ => *self,
        }
    }

    /// All tokens.
    pub fn all(&self) -> u64 {
        self.context().saturating_add(self.output)
    }
}

/// How a usage item is to be added up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// One API response's tokens; a later item with the same key is the
    /// same response, and its count replaces this one.
    Response,
    /// The thread's running total so far: what it adds is the step from
    /// the previous total of the same source (a repeat adds nothing).
    Cumulative,
}

/// Tokens the agent reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Usage {
    /// Names the response, for [`Counting::Response`].
    pub key: Option<String>,
    /// The model, when the line names it.
    pub model: Option<String>,
    /// The counts.
    pub tokens: Tokens,
    /// How to add them up.
    pub counting: Counting,
    /// What the model had in its context for this response, when known.
    pub context: Option<u64>,
    /// The context window the agent states, when it does.
    pub window: Option<u64>,
}

/// The agent's own running account, per model.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reported {
    /// Per model.
    pub by_model: Vec<(String, Tokens)>,
    /// What the agent says it cost, in US dollars.
    pub cost_usd: Option<f64>,
}

impl Record {
    /// The items a fold has not seen yet: all of them, unless the record
    /// [`repeats`](Self::repeats) what an earlier line held. Usage is never
    /// dropped here: its own counting replaces a repeated response.
    pub fn fresh<'a>(&'a self, seen: &'a mut Seen) -> impl Iterator<Item = &'a Item> + 'a {
        let repeats = self.repeats;
        let message = self.message.as_deref();
        self.items.iter().filter(move |item| {
            !repeats || matches!(item, Item::Usage(_)) || seen.first_time(message, item)
        })
    }
}

/// How many items a [`Seen`] remembers. Gemini CLI writes a message again
/// soon after it changes (a tool result or the tokens arrive), never long
/// after, so a window of recent items is enough and stays small in the
/// projected files that keep it.
pub const SEEN_WINDOW: usize = 512;

/// Items a fold has already taken from records that repeat, by a stable
/// hash (the state is kept in projected files, so the hash must not change
/// between builds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen(VecDeque<u64>);

impl Seen {
    /// True the first time `item` of `message` is offered.
    pub fn first_time(&mut self, message: Option<&str>, item: &Item) -> bool {
        let mut hasher = blake3::Hasher::new();
        hasher.update(message.unwrap_or_default().as_bytes());
        hasher.update(&[0]);
        hasher.update(&serde_json::to_vec(item).unwrap_or_default());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        let key = u64::from_le_bytes(first);
        if self.0.contains(&key) {
            return false;
        }
        if self.0.len() == SEEN_WINDOW {
            self.0.pop_front();
        }
        self.0.push_back(key);
        true
    }

    /// Whether nothing was seen yet (keeps the projected files small).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The text of a content value: a string, or its text parts joined.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A string field of a JSON object.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The one thing a call acted on, by the input fields common tools use.
pub(crate) fn target_of(input: &Value) -> Option<String> {
    const FIELDS: &[&str] = &[
        "command",
        "cmd",
        "file_path",
        "notebook_path",
        "absolute_path",
        "url",
        "pattern",
        "path",
        "dir_path",
        "query",
        "description",
        "subject",
        "prompt",
        // Gemini CLI's `delegate_to_agent` names the subagent it runs.
        "agent_name",
        // Claude Code's `BashOutput` and `KillBash`: the background shell.
        "bash_id",
        "shell_id",
    ];
    FIELDS
        .iter()
        .find_map(|key| match input.get(*key) {
            Some(Value::String(s)) => Some(s.clone()),
            // Codex's older `shell` tool takes an argv.
            Some(Value::Array(argv)) if *key == "command" => Some(shell_join(argv)),
            _ => None,
        })
        .or_else(|| question(input))
        .or_else(|| todo_list(input))
}

/// What Claude Code's `AskUserQuestion` asked: an auditor reads the
/// user's answer in its result, and needs the question beside it.
fn question(input: &Value) -> Option<String> {
    let questions = input.get("questions")?.as_array()?;
    let first = str_field(questions.first()?, "question")?;
    Some(match questions.len() {
        1 => first.to_owned(),
        n => format!("{first} (+{} more)", n - 1),
    })
}

/// A to-do list as its size and the item in progress: Claude Code's
/// `TodoWrite` (`todos[].content`), Gemini CLI's `write_todos`
/// (`todos[].description`) and Codex's `update_plan` (`plan[].step`).
fn todo_list(input: &Value) -> Option<String> {
    let items = input
        .get("todos")
        .or_else(|| input.get("plan"))?
        .as_array()?;
    let doing = items
        .iter()
        .find(|item| str_field(item, "status") == Some("in_progress"))
        .and_then(|item| {
            ["content", "description", "step"]
                .iter()
                .find_map(|key| str_field(item, key))
        });
    let count = match items.len() {
        1 => "1 item".to_owned(),
        n => format!("{n} items"),
    };
    Some(match doing {
        Some(doing) => format!("{count}, in progress: {doing}"),
        None => count,
    })
}

/// An argv as one command line; `bash -lc SCRIPT` is shown as its script.
pub(crate) fn shell_join(argv: &[Value]) -> String {
    let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
    match words.as_slice() {
        [shell, flag, script] if shell.ends_with("sh") && flag.starts_with('-') => {
            (*script).to_owned()
        }
        _ => words.join(" "),
    }
}

/// `-old` and `+new` lines for an edit that replaced `old` with `new`.
pub(crate) fn pair_diff(old: &str, new: &str) -> String {
    let mut out = String::new();
    for line in old.lines() {
        out.push('-');
        out.push_str(line);
        out.push('\n');
    }
    for line in new.lines() {
        out.push('+');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Lines a diff adds and removes (adapters write diffs without file
/// headers, so every `+` and `-` line counts).
pub fn diff_lines(diff: &str) -> (u64, u64) {
    diff.lines().fold((0, 0), |(added, removed), line| {
        if line.starts_with('+') {
            (added + 1, removed)
        } else if line.starts_with('-') {
            (added, removed + 1)
        } else {
            (added, removed)
        }
    })
}
