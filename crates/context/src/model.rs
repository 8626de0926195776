//! `context.json`: what a session read, changed, ran and was told, folded
//! record by record so each capture only adds to it.

use std::collections::BTreeMap;

use logbook_core::{NoteKind, SessionId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{BlockRef, Record};

/// How many of the user's latest requests are kept.
pub const LAST_REQUESTS: usize = 5;

/// A file and when it was last touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the session's cwd when inside it.
    pub path: String,
    /// Time of the last record that touched it.
    pub last_touched: Option<String>,
    /// How many tool uses touched it.
    pub count: u64,
}

/// A shell command the agent ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEntry {
    /// The command line.
    pub command: String,
    /// When it was issued.
    pub at: Option<String>,
    /// `ok`, `error` or `interrupted` once the result is in.
    pub status: Option<String>,
    /// The exit code, when the result states one.
    pub exit_code: Option<i32>,
    /// The tool use, to match its result.
    pub tool_use_id: String,
}

/// A piece of text someone said, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextEntry {
    /// What was said.
    pub text: String,
    /// When.
    pub at: Option<String>,
    /// `prompt`, `note`, `rejected_tool` or `interrupt`.
    pub source: String,
}

/// A todo item; the last TodoWrite or Task update wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// `pending`, `in_progress`, `completed`, …
    pub status: String,
}

/// What a tool use does to the context once its result says it
/// succeeded: the `tool_use` record only says what was attempted (a `Read`
/// of a missing file, a `TodoWrite` Claude Code refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// A file was read.
    Read {
        /// Relative to the cwd when inside it.
        path: String,
    },
    /// A file was changed.
    Modify {
        /// Relative to the cwd when inside it.
        path: String,
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

/// A tool use whose effect waits for its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUse {
    /// What it does if it succeeds.
    #[serde(flatten)]
    pub effect: Effect,
    /// When it was used (what `last_touched` records).
    pub at: Option<String>,
    /// Whether it is a subagent's.
    pub sidechain: bool,
}

/// Tool activity of one chain (main or sidechains).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Files read (Read, Grep and Glob paths, NotebookRead), last touched first.
    pub files_read: Vec<FileEntry>,
    /// Files modified (Edit, MultiEdit, Write, NotebookEdit), last touched first.
    pub files_modified: Vec<FileEntry>,
    /// Bash commands in order.
    pub commands: Vec<CommandEntry>,
    /// Tool uses by tool name.
    pub tool_counts: BTreeMap<String, u64>,
}

/// The contents of `context.json` (keys per DESIGN.md §4, plus
/// `sidechains`, `plans`, `open_tool_uses` and `seq`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextView {
    /// The session.
    pub session_id: SessionId,
    /// The agent's working directory (paths are relative to it): the one
    /// its records state, else the one the session started with.
    pub cwd: Option<String>,
    /// `cwd` came from the records.
    pub cwd_from_records: bool,
    /// The main chain's activity.
    #[serde(flatten)]
    pub main: Activity,
    /// User corrections: prompts that reject or redirect, refused tool
    /// uses, interrupts and `note --correction`.
    pub corrections: Vec<TextEntry>,
    /// `note --decision` and decisions stated in prompts.
    pub decisions: Vec<TextEntry>,
    /// `note --plan`.
    pub plans: Vec<TextEntry>,
    /// The current todo list.
    pub todos: Vec<Todo>,
    /// The latest user requests, newest last.
    pub last_requests: Vec<TextEntry>,
    /// Time of the first record.
    pub first_activity: Option<String>,
    /// Time of the last record.
    pub last_activity: Option<String>,
    /// Subagent activity, kept apart from the main chain.
    pub sidechains: Activity,
    /// Tool uses still waiting for their result, by id, with the tool name.
    pub open_tool_uses: BTreeMap<String, String>,
    /// The effects of those that have one, applied when the result says the
    /// use succeeded (a result may come in a later capture).
    #[serde(default)]
    pub pending: BTreeMap<String, PendingUse>,
    /// The last log seq folded in: applying an event twice changes nothing.
    pub seq: u64,
}

impl ContextView {
    /// An empty context for `session`.
    pub fn new(session_id: SessionId, cwd: Option<String>) -> Self {
        Self {
            session_id,
            cwd,
            cwd_from_records: false,
            main: Activity::default(),
            corrections: Vec::new(),
            decisions: Vec::new(),
            plans: Vec::new(),
            todos: Vec::new(),
            last_requests: Vec::new(),
            first_activity: None,
            last_activity: None,
            sidechains: Activity::default(),
            open_tool_uses: BTreeMap::new(),
            pending: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Folds one transcript line. `sidechain` is true for lines of a
    /// subagent's own transcript. Lines that are not records are ignored.
    pub fn apply_line(&mut self, line: &[u8], sidechain: bool) {
        let Some(record) = Record::parse(line) else {
            return;
        };
        if !self.cwd_from_records && record.cwd.is_some() {
            self.cwd.clone_from(&record.cwd);
            self.cwd_from_records = true;
        }
        let at = record.timestamp.clone();
        if at.is_some() {
            if self.first_activity.is_none() {
                self.first_activity.clone_from(&at);
            }
            self.last_activity.clone_from(&at);
        }
        let side = sidechain || record.is_sidechain;
        for block in record.blocks() {
            match block {
                BlockRef::ToolUse { id, name, input } => self.tool_use(side, id, name, input, &at),
                BlockRef::ToolResult { id, text, is_error } => {
                    self.tool_result(side, id, &text, is_error, &record, &at);
                }
                BlockRef::Text(text) if record.kind == "user" && !side => {
                    self.prompt(text, &record, &at);
                }
                BlockRef::Text(_) => {}
            }
        }
    }

    /// Folds a `logbook note`.
    pub fn apply_note(&mut self, kind: NoteKind, text: &str, at: String) {
        let entry = TextEntry {
            text: text.to_owned(),
            at: Some(at),
            source: "note".into(),
        };
        match kind {
            NoteKind::Decision => self.decisions.push(entry),
            NoteKind::Correction => self.corrections.push(entry),
            NoteKind::Plan | NoteKind::Memory => self.plans.push(entry),
        }
    }

    fn chain(&mut self, side: bool) -> &mut Activity {
        if side {
            &mut self.sidechains
        } else {
            &mut self.main
        }
    }

    fn relative(&self, path: &str) -> String {
        match &self.cwd {
            Some(cwd) => path
                .strip_prefix(cwd.trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|rest| !rest.is_empty())
                .map_or_else(|| path.to_owned(), str::to_owned),
            None => path.to_owned(),
        }
    }

    fn tool_use(&mut self, side: bool, id: &str, name: &str, input: &Value, at: &Option<String>) {
        let field = |key: &str| input.get(key).and_then(Value::as_str);
        *self
            .chain(side)
            .tool_counts
            .entry(name.to_owned())
            .or_default() += 1;
        self.open_tool_uses.insert(id.to_owned(), name.to_owned());
        let effect = match name {
            "Read" | "NotebookRead" | "Grep" | "Glob" => field("file_path")
                .or_else(|| field("notebook_path"))
                .or_else(|| field("path"))
                .map(|path| Effect::Read {
                    path: self.relative(path),
                }),
            "Edit" | "MultiEdit" | "Write" | "NotebookEdit" => field("file_path")
                .or_else(|| field("notebook_path"))
                .map(|path| Effect::Modify {
                    path: self.relative(path),
                }),
            "Bash" => {
                // Commands are recorded as run, with the outcome their
                // result gives them.
                if let Some(command) = field("command") {
                    self.chain(side).commands.push(CommandEntry {
                        command: command.to_owned(),
                        at: at.clone(),
                        status: None,
                        exit_code: None,
                        tool_use_id: id.to_owned(),
                    });
                }
                None
            }
            "TodoWrite" if !side => {
                input
                    .get("todos")
                    .and_then(Value::as_array)
                    .map(|items| Effect::Todos {
                        todos: items
                            .iter()
                            .map(|item| Todo {
                                content: text_of(item, "content"),
                                status: text_of(item, "status"),
                            })
                            .collect(),
                    })
            }
            "TaskCreate" if !side => Some(Effect::TaskCreate {
                content: field("subject")
                    .or_else(|| field("description"))
                    .unwrap_or_default()
                    .to_owned(),
            }),
            // Task ids count from 1 in creation order.
            "TaskUpdate" if !side => field("taskId")
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .zip(field("status"))
                .map(|(index, status)| Effect::TaskUpdate {
                    index,
                    status: status.to_owned(),
                }),
            _ => None,
        };
        if let Some(effect) = effect {
            self.pending.insert(
                id.to_owned(),
                PendingUse {
                    effect,
                    at: at.clone(),
                    sidechain: side,
                },
            );
        }
    }

    /// Applies what a tool use did, now that its result says it succeeded.
    fn take_effect(&mut self, pending: PendingUse) {
        let side = pending.sidechain;
        let at = &pending.at;
        match pending.effect {
            Effect::Read { path } => touch(&mut self.chain(side).files_read, path, at),
            Effect::Modify { path } => touch(&mut self.chain(side).files_modified, path, at),
            Effect::Todos { todos } => self.todos = todos,
            Effect::TaskCreate { content } => self.todos.push(Todo {
                content,
                status: "pending".into(),
            }),
            Effect::TaskUpdate { index, status } => {
                if let Some(todo) = self.todos.get_mut(index) {
                    todo.status = status;
                }
            }
        }
    }

    fn tool_result(
        &mut self,
        side: bool,
        id: &str,
        text: &str,
        is_error: bool,
        record: &Record,
        at: &Option<String>,
    ) {
        let tool = self.open_tool_uses.remove(id);
        // Only a use that succeeded read, changed or planned anything.
        if let Some(pending) = self.pending.remove(id)
            && !is_error
        {
            self.take_effect(pending);
        }
        let interrupted = record
            .tool_use_result
            .as_ref()
            .and_then(|r| r.get("interrupted"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let rejected = is_error && text.contains("doesn't want to proceed with this tool use");
        if rejected && !side {
            self.corrections.push(TextEntry {
                text: format!(
                    "rejected {}: {}",
                    tool.as_deref().unwrap_or("a tool use"),
                    first_line(text)
                ),
                at: at.clone(),
                source: "rejected_tool".into(),
            });
        }
        if let Some(entry) = self
            .chain(side)
            .commands
            .iter_mut()
            .rev()
            .find(|c| c.tool_use_id == id)
        {
            entry.exit_code = exit_code(text);
            entry.status = Some(
                if interrupted || rejected {
                    "interrupted"
                } else if is_error {
                    "error"
                } else {
                    "ok"
                }
                .into(),
            );
        }
    }

    fn prompt(&mut self, text: &str, record: &Record, at: &Option<String>) {
        let text = text.trim();
        if text.starts_with("[Request interrupted by user") {
            self.corrections.push(TextEntry {
                text: text.to_owned(),
                at: at.clone(),
                source: "interrupt".into(),
            });
            return;
        }
        // Slash commands, command output, reminders and summaries are
        // Claude Code talking, not the user.
        if record.is_meta || record.is_compact_summary || text.is_empty() || text.starts_with('<') {
            return;
        }
        let entry = TextEntry {
            text: text.to_owned(),
            at: at.clone(),
            source: "prompt".into(),
        };
        if is_correction(text) {
            self.corrections.push(entry.clone());
        }
        if is_decision(text) {
            self.decisions.push(entry.clone());
        }
        self.last_requests.push(entry);
        let excess = self.last_requests.len().saturating_sub(LAST_REQUESTS);
        self.last_requests.drain(..excess);
    }
}

/// Moves `path` to the front (most recently touched first).
fn touch(list: &mut Vec<FileEntry>, path: String, at: &Option<String>) {
    let count = match list.iter().position(|f| f.path == path) {
        Some(i) => list.remove(i).count,
        None => 0,
    };
    list.insert(
        0,
        FileEntry {
            path,
            last_touched: at.clone(),
            count: count + 1,
        },
    );
}

fn text_of(item: &Value, key: &str) -> String {
    item.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
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

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('’', "'"))
        .collect()
}

/// A prompt that rejects or redirects: it opens with a refusal ("no",
/// "stop", "wrong", …) or says "don't", "never", "wrong" or "revert"
/// anywhere. A plain "no" inside a request ("make sure there is no panic")
/// does not count.
pub fn is_correction(text: &str) -> bool {
    const OPENERS: [&str; 10] = [
        "no", "nope", "don't", "dont", "never", "wrong", "stop", "revert", "undo", "wait",
    ];
    const ANYWHERE: [&str; 5] = ["don't", "never", "wrong", "revert", "stop"];
    let words = words(text);
    words.first().is_some_and(|w| OPENERS.contains(&w.as_str()))
        || words.iter().any(|w| ANYWHERE.contains(&w.as_str()))
}

/// A prompt that states a decision ("let's use X", "we decided …").
pub fn is_decision(text: &str) -> bool {
    const PHRASES: [&str; 7] = [
        "let's use",
        "lets use",
        "let's go with",
        "we decided",
        "we've decided",
        "decided to",
        "we'll go with",
    ];
    let lower = text.to_lowercase().replace('’', "'");
    PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn view() -> ContextView {
        ContextView::new(SessionId::new_v7(), Some("/home/dev/demo".into()))
    }

    #[test]
    fn tool_uses_become_files_commands_and_counts() {
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","timestamp":"t1","message":{"content":[{"type":"tool_use","id":"a","name":"Read","input":{"file_path":"/home/dev/demo/src/a.rs"}},{"type":"tool_use","id":"b","name":"Edit","input":{"file_path":"/etc/hosts"}},{"type":"tool_use","id":"c","name":"Bash","input":{"command":"cargo test"}}]}}"#, false);
        v.apply_line(br#"{"type":"user","timestamp":"t2","message":{"content":[{"type":"tool_result","tool_use_id":"c","content":"Exit code 101\nfailed","is_error":true}]}}"#, false);
        v.apply_line(br#"{"type":"assistant","timestamp":"t3","message":{"content":[{"type":"tool_use","id":"d","name":"Read","input":{"file_path":"/home/dev/demo/src/b.rs"}},{"type":"tool_use","id":"e","name":"Read","input":{"file_path":"/home/dev/demo/src/a.rs"}}]}}"#, false);
        v.apply_line(br#"{"type":"user","timestamp":"t4","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":"fn a()"},{"type":"tool_result","tool_use_id":"b","content":"ok"},{"type":"tool_result","tool_use_id":"d","content":"fn b()"},{"type":"tool_result","tool_use_id":"e","content":"fn a()"}]}}"#, false);
        let paths: Vec<&str> = v.main.files_read.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/a.rs", "src/b.rs"]);
        assert_eq!(v.main.files_read[0].count, 2);
        assert_eq!(v.main.files_modified[0].path, "/etc/hosts");
        assert_eq!(v.main.commands[0].exit_code, Some(101));
        assert_eq!(v.main.commands[0].status.as_deref(), Some("error"));
        assert_eq!(v.main.tool_counts["Read"], 3);
        assert_eq!(v.first_activity.as_deref(), Some("t1"));
        assert_eq!(v.last_activity.as_deref(), Some("t4"));
        assert!(v.open_tool_uses.is_empty() && v.pending.is_empty());
    }

    #[test]
    fn sidechains_are_kept_apart() {
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","isSidechain":true,"message":{"content":[{"type":"tool_use","id":"a","name":"Write","input":{"file_path":"x"}}]}}"#, false);
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"b","name":"Glob","input":{"pattern":"*","path":"/home/dev/demo/src"}}]}}"#, true);
        v.apply_line(br#"{"type":"user","isSidechain":true,"message":{"content":[{"type":"tool_result","tool_use_id":"a","content":"ok"}]}}"#, false);
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"b","content":"src/x.rs"}]}}"#, true);
        assert!(v.main.files_modified.is_empty() && v.main.files_read.is_empty());
        assert_eq!(v.sidechains.files_modified[0].path, "x");
        assert_eq!(v.sidechains.files_read[0].path, "src");
    }

    #[test]
    fn prompts_give_requests_corrections_and_decisions() {
        let mut v = view();
        for text in [
            "please look at main.rs",
            "No, that's wrong: never edit the generated files.",
            "let's use sled for the log",
            "make sure there is no panic",
            "<command-name>/clear</command-name>",
            "[Request interrupted by user for tool use]",
        ] {
            let line = serde_json::json!({"type":"user","message":{"role":"user","content":text}});
            v.apply_line(line.to_string().as_bytes(), false);
        }
        let requests: Vec<&str> = v.last_requests.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(requests.len(), 4);
        assert_eq!(requests[3], "make sure there is no panic");
        let corrections: Vec<&str> = v.corrections.iter().map(|c| c.source.as_str()).collect();
        assert_eq!(corrections, ["prompt", "interrupt"]);
        assert_eq!(v.decisions[0].text, "let's use sled for the log");
    }

    #[test]
    fn a_refused_tool_use_is_a_correction() {
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Edit","input":{"file_path":"f"}}]}}"#, false);
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":"The user doesn't want to proceed with this tool use. The tool use was rejected."}]}}"#, false);
        assert_eq!(v.corrections[0].source, "rejected_tool");
        assert!(v.corrections[0].text.starts_with("rejected Edit:"));
    }

    #[test]
    fn todos_last_state_wins() {
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"TodoWrite","input":{"todos":[{"content":"one","status":"pending"},{"content":"two","status":"pending"}]}}]}}"#, false);
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"b","name":"TodoWrite","input":{"todos":[{"content":"one","status":"completed"},{"content":"two","status":"in_progress"}]}}]}}"#, false);
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":"Todos have been modified successfully"},{"type":"tool_result","tool_use_id":"b","content":"Todos have been modified successfully"}]}}"#, false);
        assert_eq!(v.todos[0].status, "completed");
        assert_eq!(v.todos[1].status, "in_progress");
    }

    #[test]
    fn a_tool_use_that_failed_reads_changes_and_plans_nothing() {
        // A Read of a missing file, an Edit that did not apply, and a
        // TodoWrite Claude Code refused (seen with 2.1.328).
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Read","input":{"file_path":"/home/dev/demo/missing.rs"}},{"type":"tool_use","id":"b","name":"Edit","input":{"file_path":"/home/dev/demo/src/a.rs"}},{"type":"tool_use","id":"c","name":"TodoWrite","input":{"todos":[{"content":"ghost","status":"pending"}]}}]}}"#, false);
        assert!(
            v.main.files_read.is_empty() && v.todos.is_empty(),
            "not before the result"
        );
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":"File does not exist."},{"type":"tool_result","tool_use_id":"b","is_error":true,"content":"<tool_use_error>String to replace not found in file.</tool_use_error>"},{"type":"tool_result","tool_use_id":"c","is_error":true,"content":"<tool_use_error>Error: No such tool available: TodoWrite</tool_use_error>"}]}}"#, false);
        assert!(v.main.files_read.is_empty());
        assert!(v.main.files_modified.is_empty());
        assert!(v.todos.is_empty());
        assert!(v.pending.is_empty());
        // Attempts still count as uses.
        assert_eq!(v.main.tool_counts["Read"], 1);
    }

    #[test]
    fn a_result_in_a_later_capture_still_applies_its_use() {
        let mut v = view();
        v.apply_line(br#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Write","input":{"file_path":"/home/dev/demo/out.rs"}}]}}"#, false);
        // What a projection writes between captures, and reads back.
        let saved = serde_json::to_vec(&v).unwrap();
        let mut v: ContextView = serde_json::from_slice(&saved).unwrap();
        v.apply_line(br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":"File created"}]}}"#, false);
        assert_eq!(v.main.files_modified[0].path, "out.rs");
    }

    #[test]
    fn garbage_and_unknown_records_change_nothing() {
        let mut v = view();
        let before = v.clone();
        for line in [
            &b"not json"[..],
            b"",
            b"{\"type\":\"x-future\",\"message\":{\"content\":[{\"type\":\"hologram\"}]}}",
            b"[1,2]",
        ] {
            v.apply_line(line, false);
        }
        assert_eq!(v, before);
    }
}
