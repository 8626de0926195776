//! `context.json`: what a session read, changed, ran and was told, folded
//! record by record so each capture only adds to it.

use std::collections::BTreeMap;

use logbook_core::{NoteKind, SessionId};
use serde::{Deserialize, Serialize};

use logbook_agents::record::{Call, CallResult, Item, Outcome, Record, Seen};

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

/// A todo item (the last list or task update wins), and what a tool use
/// does to the context once its result says it succeeded: the call itself
/// only says what was attempted (a read of a missing file, a plan the agent
/// refused). Paths are kept relative to the cwd when inside it.
pub use logbook_agents::record::{Effect, Todo};

/// A tool use whose effect waits for its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUse {
    /// What it does if it succeeds.
    pub effects: Vec<Effect>,
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
    /// Items already taken from records an agent writes again (Gemini
    /// CLI), so a repeat adds nothing.
    #[serde(default, skip_serializing_if = "Seen::is_empty")]
    pub seen: Seen,
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
            seen: Seen::default(),
            seq: 0,
        }
    }

    /// Folds one record an agent adapter read. `sidechain` is true for
    /// lines of a subagent's own file.
    pub fn apply_record(&mut self, record: &Record, sidechain: bool) {
        // Copied history is the other session's activity, not this one's.
        if record.replayed {
            return;
        }
        if !self.cwd_from_records && record.cwd.is_some() {
            self.cwd.clone_from(&record.cwd);
            self.cwd_from_records = true;
        }
        let at = record.at.clone();
        if at.is_some() {
            if self.first_activity.is_none() {
                self.first_activity.clone_from(&at);
            }
            self.last_activity.clone_from(&at);
        }
        let side = sidechain || record.sidechain;
        let mut seen = std::mem::take(&mut self.seen);
        for item in record.fresh(&mut seen) {
            match item {
                Item::Call(call) => self.tool_use(side, call, &at),
                Item::Result(result) => self.tool_result(side, result, &at),
                Item::Exited {
                    id,
                    outcome,
                    exit_code,
                    ..
                } => {
                    if let Some(entry) = self.command_mut(side, id) {
                        entry.exit_code = *exit_code;
                        entry.status = Some(status_of(*outcome).into());
                    }
                }
                Item::Touched { effects, .. } => {
                    for effect in effects {
                        if let Some(effect) = self.effect(side, effect) {
                            self.take_effect(PendingUse {
                                effects: vec![effect],
                                at: at.clone(),
                                sidechain: side,
                            });
                        }
                    }
                }
                // A command the user typed to set the agent to work is
                // their request too, as typed.
                Item::Prompt { .. } if !side => {
                    if let Some(request) = item.request() {
                        self.prompt(&request, &at);
                    }
                }
                Item::Interrupt { text } if !side => self.corrections.push(TextEntry {
                    text: text.clone(),
                    at: at.clone(),
                    source: "interrupt".into(),
                }),
                _ => {}
            }
        }
        self.seen = seen;
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
        relative_to(self.cwd.as_deref(), path)
    }

    fn tool_use(&mut self, side: bool, call: &Call, at: &Option<String>) {
        *self
            .chain(side)
            .tool_counts
            .entry(call.name.clone())
            .or_default() += 1;
        self.open_tool_uses
            .insert(call.id.clone(), call.name.clone());
        let mut effects = Vec::new();
        for effect in &call.effects {
            match effect {
                // Commands are recorded as run, with the outcome their
                // result gives them.
                Effect::Shell { command } => self.chain(side).commands.push(CommandEntry {
                    command: command.clone(),
                    at: at.clone(),
                    status: None,
                    exit_code: None,
                    tool_use_id: call.id.clone(),
                }),
                other => effects.extend(self.effect(side, other)),
            }
        }
        if !effects.is_empty() {
            self.pending.insert(
                call.id.clone(),
                PendingUse {
                    effects,
                    at: at.clone(),
                    sidechain: side,
                },
            );
        }
    }

    /// What an agent's effect does to this context (paths made relative);
    /// a subagent's plans are its own, and commands are kept apart.
    fn effect(&self, side: bool, effect: &Effect) -> Option<Effect> {
        Some(match effect {
            Effect::Read { path } => Effect::Read {
                path: self.relative(path),
            },
            Effect::Modify { path } => Effect::Modify {
                path: self.relative(path),
            },
            Effect::Shell { .. } => return None,
            _ if side => return None,
            other => other.clone(),
        })
    }

    /// Applies what a tool use did, now that its result says it succeeded.
    fn take_effect(&mut self, pending: PendingUse) {
        let side = pending.sidechain;
        let at = &pending.at;
        for effect in pending.effects {
            self.take_one(side, effect, at);
        }
    }

    fn take_one(&mut self, side: bool, effect: Effect, at: &Option<String>) {
        match effect {
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
            Effect::Shell { .. } => {}
        }
    }

    fn tool_result(&mut self, side: bool, result: &CallResult, at: &Option<String>) {
        let id = result.id.as_str();
        let tool = self.open_tool_uses.remove(id);
        // Only a use that succeeded read, changed or planned anything.
        if let Some(pending) = self.pending.remove(id)
            && result.outcome == Outcome::Ok
        {
            self.take_effect(pending);
        }
        let rejected = result.outcome == Outcome::Refused;
        if rejected && !side {
            self.corrections.push(TextEntry {
                text: format!(
                    "rejected {}: {}",
                    tool.as_deref().unwrap_or("a tool use"),
                    first_line(&result.text)
                ),
                at: at.clone(),
                source: "rejected_tool".into(),
            });
        }
        if let Some(entry) = self.command_mut(side, id) {
            entry.exit_code = result.exit_code;
            entry.status = Some(status_of(result.outcome).into());
        }
    }

    /// The command call `id` ran, if it is still listed.
    fn command_mut(&mut self, side: bool, id: &str) -> Option<&mut CommandEntry> {
        self.chain(side)
            .commands
            .iter_mut()
            .rev()
            .find(|c| c.tool_use_id == id)
    }

    fn prompt(&mut self, text: &str, at: &Option<String>) {
        let text = text.trim();
        if text.is_empty() {
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

/// `path` relative to `cwd` when it lies inside it, else as it is: what
/// a person in the project would call the file.
pub fn relative_to(cwd: Option<&str>, path: &str) -> String {
    match cwd {
        Some(cwd) => path
            .strip_prefix(cwd.trim_end_matches('/'))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .map_or_else(|| path.to_owned(), str::to_owned),
        None => path.to_owned(),
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

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
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

/// A command's status as `context.json` states it.
fn status_of(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Interrupted | Outcome::Refused => "interrupted",
        Outcome::Error => "error",
        Outcome::Ok => "ok",
    }
}

#[cfg(test)]
impl ContextView {
    /// Folds a Claude Code line: the tests' shorthand.
    pub(crate) fn apply_line(&mut self, line: &[u8], sidechain: bool) {
        if let Some(record) = logbook_agents::claude::read(line) {
            self.apply_record(&record, sidechain);
        }
    }
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
