//! A session's review: what it was asked, planned, tested, changed and
//! spent, what went wrong and what the user corrected, folded from its log
//! events and the records they carry.
//!
//! [`SessionFold`] is the fold's state (kept in `review-fold.json`);
//! [`SessionFold::review`] is what `review.json` and `review.md` show, and
//! [`SessionFold::contribution`] what the session gives its project's
//! memory.

use std::collections::{BTreeMap, BTreeSet};

use logbook_agents::record::{Call, CallResult, Effect, Outcome, diff_lines};
use logbook_agents::{Item, Record, Seen};
use logbook_core::sessions::is_subagent_source;
use logbook_core::{Envelope, Event, NoteKind, SessionId, TaskChange};
use logbook_tokens::pricing::{Price, cost, price_of};
use logbook_tokens::projection::{TokensView, Windows};
use serde::{Deserialize, Serialize};

use crate::runner::{passed, test_runner};
use crate::tasks::TaskList;

/// Gaps between two actions longer than this are idle, not active time.
pub const IDLE_SECS: u64 = 300;
/// How many opening requests a review names.
pub const OPENING_REQUESTS: usize = 3;
/// How many still-running commands the fold waits for at once: an agent
/// that never records their exit costs no more than this.
const RUNNING_KEPT: usize = 256;
/// How much of a text (a request, a correction, an error) is kept.
pub const TEXT_CHARS: usize = 300;
/// Test runs a review lists (the newest; the counts cover every run).
pub const TEST_RUNS_KEPT: usize = 50;
/// Failed commands tracked at once, waiting for the run that fixes them.
const FAILING_KEPT: usize = 64;
/// Files a fixed error names as what changed before the fix.
const FIX_FILES: usize = 8;

/// A text and when it was said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What was said (redacted, cut).
    pub text: String,
    /// When.
    pub at: Option<String>,
    /// Where it came from: `prompt`, `interrupt`, `rejected_tool`, `note`.
    pub source: String,
}

/// One run of a test command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRun {
    /// When it ran.
    pub at: Option<String>,
    /// The command line (redacted, cut).
    pub command: String,
    /// The runner recognised (`cargo`, `pytest`, `npm`, …).
    pub runner: String,
    /// Whether it passed.
    pub passed: bool,
    /// Its exit status, when the agent stated it.
    pub exit_code: Option<i32>,
}

/// What happened to one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path, relative to the project when inside it.
    pub path: String,
    /// Edits that succeeded.
    pub edits: u64,
    /// Lines added, where the edit said (one file per edit).
    pub added: u64,
    /// Lines removed, likewise.
    pub removed: u64,
}

/// Something that held the session up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// `repeated_failure`, `permission_denied` or `api_error`.
    pub kind: String,
    /// The command, the refused call, or the error.
    pub what: String,
    /// How many times.
    pub count: u64,
    /// The last time.
    pub at: Option<String>,
}

/// A command that failed, and the run of it that succeeded after, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCase {
    /// The command line.
    pub command: String,
    /// The first line of its first failure.
    pub error: String,
    /// How many times it failed.
    pub failures: u64,
    /// When it first failed.
    pub failed_at: Option<String>,
    /// When it next succeeded, if it did.
    pub fixed_at: Option<String>,
    /// Files changed between the failure and the success.
    pub fixed_by: Vec<String>,
}

/// Tasks planned and done.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Tasks on the list.
    pub planned: u64,
    /// Completed.
    pub completed: u64,
    /// Not completed.
    pub open: u64,
    /// completed / planned, when anything was planned.
    pub completion_rate: Option<f64>,
}

/// Test runs and their verdicts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSummary {
    /// Runs of a test command.
    pub runs: u64,
    /// Runs that passed.
    pub passed: u64,
    /// Runs that failed.
    pub failed: u64,
}

/// Tokens spent, each response once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// Fresh input.
    pub input: u64,
    /// Output.
    pub output: u64,
    /// Written to the prompt cache.
    pub cache_creation: u64,
    /// Read from the prompt cache.
    pub cache_read: u64,
    /// All four.
    pub total: u64,
    /// API responses.
    pub responses: u64,
}

/// `review.json`: what one session achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// The session.
    pub session_id: SessionId,
    /// The agent (`claude-code`, `codex`, `gemini`), when known.
    pub agent: Option<String>,
    /// The directory the agent ran in: the project.
    pub project: Option<String>,
    /// `start --command`, if given.
    pub command: Option<String>,
    /// `active`, `completed`, `failed` or `abandoned`.
    pub status: String,
    /// When it began (the agent's time where it gave one).
    pub started_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// The first requests the user made.
    pub requests: Vec<Entry>,
    /// Tasks planned, completed and left open.
    pub tasks: TaskSummary,
    /// Test runs.
    pub tests: TestSummary,
    /// The newest test runs, oldest first.
    pub test_runs: Vec<TestRun>,
    /// Files changed, by path.
    pub files_changed: Vec<FileChange>,
    /// Lines added over every edit.
    pub lines_added: u64,
    /// Lines removed over every edit.
    pub lines_removed: u64,
    /// The first action's time, as the agent wrote it.
    pub first_activity: Option<String>,
    /// The last action's time.
    pub last_activity: Option<String>,
    /// Seconds between actions, gaps over [`IDLE_SECS`] left out.
    pub active_secs: u64,
    /// Seconds from the first action to the last.
    pub wall_secs: u64,
    /// Tokens spent.
    pub tokens: TokenSummary,
    /// At list prices (or the store's `[pricing]`), for models with a
    /// price.
    pub cost_usd_estimate: Option<f64>,
    /// What the user corrected.
    pub corrections: Vec<Entry>,
    /// What was decided.
    pub decisions: Vec<Entry>,
    /// What `note --memory` asked the project to remember.
    pub remembered: Vec<Entry>,
    /// Compactions.
    pub compactions: u64,
    /// What held it up.
    pub blockers: Vec<Blocker>,
    /// Commands that failed, and what fixed them.
    pub errors: Vec<ErrorCase>,
    /// The last log seq folded in.
    pub seq: u64,
}

/// A call waiting for its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PendingCall {
    name: String,
    target: Option<String>,
    effects: Vec<Effect>,
    command: Option<String>,
    runner: Option<String>,
    lines: Option<(u64, u64)>,
    side: bool,
}

/// A command failing until a run of it succeeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Failing {
    command: String,
    error: String,
    failures: u64,
    failed_at: Option<String>,
    changed: Vec<String>,
}

/// The review fold's state: `review-fold.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionFold {
    /// The session.
    pub session_id: SessionId,
    /// The agent.
    pub agent: Option<String>,
    /// The directory the agent ran in.
    pub project: Option<String>,
    /// `start --command`.
    pub command: Option<String>,
    /// Its status.
    pub status: String,
    /// Start, as logged (or as the agent dated it).
    pub started_at: Option<String>,
    /// End, as logged.
    pub ended_at: Option<String>,
    /// The task list.
    pub tasks: TaskList,
    /// Opening requests.
    pub requests: Vec<Entry>,
    /// Corrections.
    pub corrections: Vec<Entry>,
    /// Decisions.
    pub decisions: Vec<Entry>,
    /// `note --memory`.
    pub remembered: Vec<Entry>,
    /// Every test run counted.
    pub tests: TestSummary,
    /// The newest test runs.
    pub test_runs: Vec<TestRun>,
    /// Changes by path.
    pub changes: BTreeMap<String, FileChange>,
    /// Reads by path.
    pub reads: BTreeMap<String, u64>,
    /// Lines added and removed over every edit.
    pub lines: (u64, u64),
    /// First and last action, and the active seconds between.
    pub first_at: Option<String>,
    /// The last action.
    pub last_at: Option<String>,
    /// Active seconds so far.
    pub active_secs: u64,
    /// Compactions.
    pub compactions: u64,
    /// Blockers by kind and what.
    blockers: BTreeMap<String, Blocker>,
    /// Failures of each command, over the whole session.
    fail_counts: BTreeMap<String, u64>,
    /// Commands failing now.
    failing: Vec<Failing>,
    /// Fixed errors.
    fixed: Vec<ErrorCase>,
    /// Refused calls already counted.
    refused: BTreeSet<String>,
    pending: BTreeMap<String, PendingCall>,
    /// Commands still running when their call was answered, until they
    /// exit (at most [`RUNNING_KEPT`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    running: BTreeMap<String, PendingCall>,
    /// Tokens, folded as `tokens.json` folds them.
    tokens: TokensView,
    #[serde(default, skip_serializing_if = "Seen::is_empty")]
    seen: Seen,
    /// A digest of the part last given to the project's memory: a batch
    /// that changes nothing there (most turns) leaves `memory.json` unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) contributed: Option<String>,
    /// The last log seq folded in.
    pub seq: u64,
}

impl SessionFold {
    /// An empty fold.
    pub fn new(session_id: SessionId) -> Self {
        SessionFold {
            session_id,
            agent: None,
            project: None,
            command: None,
            status: "active".into(),
            started_at: None,
            ended_at: None,
            tasks: TaskList::default(),
            requests: Vec::new(),
            corrections: Vec::new(),
            decisions: Vec::new(),
            remembered: Vec::new(),
            tests: TestSummary::default(),
            test_runs: Vec::new(),
            changes: BTreeMap::new(),
            reads: BTreeMap::new(),
            lines: (0, 0),
            first_at: None,
            last_at: None,
            active_secs: 0,
            compactions: 0,
            blockers: BTreeMap::new(),
            fail_counts: BTreeMap::new(),
            failing: Vec::new(),
            fixed: Vec::new(),
            refused: BTreeSet::new(),
            pending: BTreeMap::new(),
            running: BTreeMap::new(),
            tokens: TokensView::new(session_id),
            seen: Seen::default(),
            contributed: None,
            seq: 0,
        }
    }

    /// Folds a session's envelopes, oldest first.
    pub fn fold<'a>(
        session_id: SessionId,
        envelopes: impl IntoIterator<Item = &'a Envelope>,
    ) -> Self {
        let mut fold = SessionFold::new(session_id);
        for env in envelopes {
            fold.apply(env);
        }
        fold
    }

    /// Folds one envelope of this session; one already folded changes
    /// nothing.
    pub fn apply(&mut self, env: &Envelope) {
        if env.seq <= self.seq {
            return;
        }
        self.seq = env.seq;
        let logged = Some(env.at.to_string());
        match &env.event {
            Event::SessionStarted(s) => {
                self.command = s.command.as_deref().map(redacted);
                if let Some(agent) = &s.agent {
                    self.agent = Some(agent.kind.clone());
                    self.project.clone_from(&agent.cwd);
                }
                self.started_at = logged;
            }
            Event::SessionDated(d) => self.started_at = Some(d.started_at.to_string()),
            Event::SessionEndDated(d) => self.ended_at = Some(d.ended_at.to_string()),
            Event::SessionEnded(e) => {
                self.status = e.status.as_str().to_owned();
                self.ended_at = logged;
            }
            Event::TranscriptCaptured(c) if c.source.kind.is_agent_jsonl() => {
                if self.agent.is_none() {
                    self.agent = logbook_agents::Agent::of_source(c.source.kind)
                        .map(|a| a.name().to_owned());
                }
                let subagent = is_subagent_source(&c.source.key);
                for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                    if let Some(record) =
                        logbook_agents::read(c.source.kind, &c.source.location, line)
                    {
                        self.tokens.apply_record(
                            &record,
                            &c.source.key,
                            subagent,
                            &Windows::default(),
                        );
                        self.record(&record, subagent);
                    }
                }
            }
            Event::CompactionDetected(_) => self.compactions += 1,
            Event::NoteRecorded(n) => {
                let entry = entry(&n.text, &logged, "note");
                match n.kind {
                    NoteKind::Decision => self.decisions.push(entry),
                    NoteKind::Correction => self.corrections.push(entry),
                    NoteKind::Memory => self.remembered.push(entry),
                    NoteKind::Plan => self.tasks.plan(&redacted(&n.text), &logged),
                }
            }
            Event::TaskChanged(t) => {
                // `logbook task` gives no agent id; every agent does.
                let source = if t.task_id.is_empty() {
                    "logbook"
                } else {
                    "hook"
                };
                let subject = redacted(&t.subject);
                match t.change {
                    TaskChange::Created => {
                        self.tasks
                            .reported_created(&t.task_id, &subject, source, &logged);
                    }
                    TaskChange::Completed => {
                        self.tasks
                            .reported_completed(&t.task_id, &subject, source, &logged);
                    }
                }
            }
            Event::PermissionDenied(p) => {
                if let Some(id) = &p.call.call_id
                    && !self.refused.insert(id.clone())
                {
                    return;
                }
                let what = match &p.call.target {
                    Some(target) => format!("{} {}", p.call.tool, cut(&redacted(target))),
                    None => p.call.tool.clone(),
                };
                self.block("permission_denied", what, &logged);
            }
            Event::TurnFailed(t) => {
                let what = first_line(&t.error);
                self.block("api_error", what, &logged);
            }
            _ => {}
        }
    }

    fn block(&mut self, kind: &str, what: String, at: &Option<String>) {
        let key = format!("{kind}\u{0}{what}");
        let blocker = self.blockers.entry(key).or_insert_with(|| Blocker {
            kind: kind.to_owned(),
            what,
            count: 0,
            at: None,
        });
        blocker.count += 1;
        blocker.at.clone_from(at);
    }

    fn relative(&self, path: &str) -> String {
        logbook_context::model::relative_to(self.project.as_deref(), path)
    }

    fn activity(&mut self, at: &Option<String>) {
        let Some(now) = at else { return };
        if self.first_at.is_none() {
            self.first_at = Some(now.clone());
        }
        if let (Some(last), Some(now_t)) = (self.last_at.as_deref().and_then(instant), instant(now))
        {
            let gap = now_t.as_second().saturating_sub(last.as_second());
            match u64::try_from(gap) {
                Ok(gap) if gap <= IDLE_SECS => self.active_secs += gap,
                Ok(_) => {}
                // Out of order (a subagent's file read late): not later.
                Err(_) => return,
            }
        }
        self.last_at = Some(now.clone());
    }

    fn record(&mut self, record: &Record, subagent: bool) {
        if record.replayed {
            return;
        }
        let at = record.at.clone();
        self.activity(&at);
        let side = subagent || record.sidechain;
        let mut seen = std::mem::take(&mut self.seen);
        for item in record.fresh(&mut seen) {
            match item {
                Item::Call(call) => self.call(call, side),
                Item::Result(result) => self.result(result, &at),
                Item::Exited {
                    id,
                    outcome,
                    exit_code,
                    text,
                } => self.exited(id, *outcome == Outcome::Ok, *exit_code, text, &at),
                Item::Touched { effects, .. } => {
                    for effect in effects {
                        self.effect(effect, None, side, &at);
                    }
                }
                // A command the user typed to set the agent to work is
                // their request too, as typed.
                Item::Prompt { .. } if !side => {
                    if let Some(request) = item.request() {
                        self.prompt(&request, &at);
                    }
                }
                Item::Interrupt { text } if !side => {
                    self.corrections.push(entry(text, &at, "interrupt"));
                }
                _ => {}
            }
        }
        self.seen = seen;
    }

    fn prompt(&mut self, text: &str, at: &Option<String>) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if self.requests.len() < OPENING_REQUESTS {
            self.requests.push(entry(text, at, "prompt"));
        }
        if logbook_context::model::is_correction(text) {
            self.corrections.push(entry(text, at, "prompt"));
        }
        if logbook_context::model::is_decision(text) {
            self.decisions.push(entry(text, at, "prompt"));
        }
    }

    fn call(&mut self, call: &Call, side: bool) {
        let command = call.effects.iter().find_map(|e| match e {
            Effect::Shell { command } => Some(command.trim().to_owned()),
            _ => None,
        });
        let runner = command.as_deref().and_then(test_runner).map(str::to_owned);
        self.pending.insert(
            call.id.clone(),
            PendingCall {
                name: call.name.clone(),
                target: call.target.clone(),
                effects: call.effects.clone(),
                command,
                runner,
                lines: call.diff.as_deref().map(diff_lines),
                side,
            },
        );
    }

    fn result(&mut self, result: &CallResult, at: &Option<String>) {
        let Some(call) = self.pending.remove(&result.id) else {
            return;
        };
        let ok = result.outcome == Outcome::Ok;
        if result.outcome == Outcome::Refused {
            if !call.side {
                let text = format!("rejected {}: {}", call.name, first_line(&result.text));
                self.corrections.push(entry(&text, at, "rejected_tool"));
            }
            // The hook may have reported this denial already.
            if self.refused.insert(result.id.clone()) {
                let what = match &call.target {
                    Some(target) => format!("{} {}", call.name, cut(&redacted(target))),
                    None => call.name.clone(),
                };
                self.block("permission_denied", what, at);
            }
            return;
        }
        if result.outcome == Outcome::Interrupted {
            return;
        }
        if call.command.is_some() && result.running && self.running.len() < RUNNING_KEPT {
            // How it ends is what it did: wait for its exit.
            self.running.insert(result.id.clone(), call.clone());
        } else {
            self.ran(&call, ok, result.exit_code, &result.text, at);
        }
        if !ok {
            return;
        }
        let lines = result.patch.as_deref().map(diff_lines).or(call.lines);
        let modified: Vec<&str> = call
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Modify { path } => Some(path.as_str()),
                _ => None,
            })
            .collect();
        if let Some((added, removed)) = lines
            && !modified.is_empty()
        {
            self.lines.0 += added;
            self.lines.1 += removed;
        }
        let single = (modified.len() == 1).then_some(lines).flatten();
        for effect in &call.effects {
            self.effect(effect, single, call.side, at);
        }
    }

    /// What a command call did, once it is known how it ended: a test run
    /// counted, a failure remembered until a run of it succeeds.
    fn ran(
        &mut self,
        call: &PendingCall,
        ok: bool,
        exit_code: Option<i32>,
        text: &str,
        at: &Option<String>,
    ) {
        let Some(command) = &call.command else {
            return;
        };
        if let Some(runner) = &call.runner {
            let passed = passed(ok, exit_code, text);
            self.tests.runs += 1;
            if passed {
                self.tests.passed += 1;
            } else {
                self.tests.failed += 1;
            }
            self.test_runs.push(TestRun {
                at: at.clone(),
                command: cut(&redacted(command)),
                runner: runner.clone(),
                passed,
                exit_code,
            });
            let excess = self.test_runs.len().saturating_sub(TEST_RUNS_KEPT);
            self.test_runs.drain(..excess);
        }
        let failed = !ok || exit_code.is_some_and(|c| c != 0);
        self.command_ran(command, failed, text, at);
    }

    /// A command that was still running when its call was answered exited.
    fn exited(
        &mut self,
        id: &str,
        ok: bool,
        exit_code: Option<i32>,
        text: &str,
        at: &Option<String>,
    ) {
        if let Some(call) = self.running.remove(id) {
            self.ran(&call, ok, exit_code, text, at);
        }
    }

    /// Applies what a call (or a file the agent reports touching) did.
    fn effect(
        &mut self,
        effect: &Effect,
        lines: Option<(u64, u64)>,
        side: bool,
        at: &Option<String>,
    ) {
        match effect {
            Effect::Read { path } => *self.reads.entry(self.relative(path)).or_default() += 1,
            Effect::Modify { path } => {
                let path = self.relative(path);
                let change = self.changes.entry(path.clone()).or_default();
                change.path.clone_from(&path);
                change.edits += 1;
                if let Some((added, removed)) = lines {
                    change.added += added;
                    change.removed += removed;
                }
                self.tasks.changed(&path);
                for failing in &mut self.failing {
                    if !failing.changed.contains(&path) && failing.changed.len() < FIX_FILES {
                        failing.changed.push(path.clone());
                    }
                }
            }
            // A subagent's plans are its own.
            _ if side => {}
            Effect::Todos { todos } => {
                let todos: Vec<(String, &str)> = todos
                    .iter()
                    .map(|t| (redacted(&t.content), t.status.as_str()))
                    .collect();
                self.tasks.todos(
                    todos.iter().map(|(text, status)| (text.as_str(), *status)),
                    at,
                );
            }
            Effect::TaskCreate { content } => self.tasks.tool_created(&redacted(content), at),
            Effect::TaskUpdate { index, status } => self.tasks.tool_updated(*index, status, at),
            Effect::Shell { .. } => {}
        }
    }

    fn command_ran(&mut self, command: &str, failed: bool, output: &str, at: &Option<String>) {
        let shown = cut(&redacted(command));
        let known = self.failing.iter().position(|f| f.command == shown);
        if failed {
            let count = self.fail_counts.entry(shown.clone()).or_default();
            *count += 1;
            let count = *count;
            if count >= 2 {
                self.block("repeated_failure", shown.clone(), at);
                // Counted in failures, not in times it was found repeated.
                if let Some(b) = self
                    .blockers
                    .get_mut(&format!("repeated_failure\u{0}{shown}"))
                {
                    b.count = count;
                }
            }
            match known {
                Some(i) => self.failing[i].failures += 1,
                None => {
                    self.failing.push(Failing {
                        command: shown,
                        error: error_line(output),
                        failures: 1,
                        failed_at: at.clone(),
                        changed: Vec::new(),
                    });
                    let excess = self.failing.len().saturating_sub(FAILING_KEPT);
                    self.failing.drain(..excess);
                }
            }
        } else if let Some(i) = known {
            let f = self.failing.remove(i);
            self.fixed.push(ErrorCase {
                command: f.command,
                error: f.error,
                failures: f.failures,
                failed_at: f.failed_at,
                fixed_at: at.clone(),
                fixed_by: f.changed,
            });
        }
    }

    /// Errors worth remembering: those fixed (the log shows how), and
    /// those that failed again and again without a fix.
    pub fn errors(&self) -> Vec<ErrorCase> {
        let mut errors = self.fixed.clone();
        errors.extend(
            self.failing
                .iter()
                .filter(|f| f.failures >= 2)
                .map(|f| ErrorCase {
                    command: f.command.clone(),
                    error: f.error.clone(),
                    failures: f.failures,
                    failed_at: f.failed_at.clone(),
                    fixed_at: None,
                    fixed_by: f.changed.clone(),
                }),
        );
        errors
    }

    /// The review as of the last event folded; `pricing` overrides the
    /// built-in list prices.
    pub fn review(&self, pricing: &[(String, Price)]) -> Review {
        let mut tokens = self.tokens.clone();
        tokens.settle();
        let t = &tokens.totals;
        let mut priced = None;
        for (model, totals) in &tokens.by_model {
            if let Some(price) = price_of(model, pricing) {
                *priced.get_or_insert(0.0) += cost(totals, &price);
            }
        }
        let (planned, completed) = self.tasks.counts();
        let wall_secs = match (
            self.first_at.as_deref().and_then(instant),
            self.last_at.as_deref().and_then(instant),
        ) {
            (Some(a), Some(b)) => u64::try_from(b.as_second() - a.as_second()).unwrap_or(0),
            _ => 0,
        };
        Review {
            session_id: self.session_id,
            agent: self.agent.clone(),
            project: self.project.clone(),
            command: self.command.clone(),
            status: self.status.clone(),
            started_at: self.started_at.clone(),
            ended_at: self.ended_at.clone(),
            requests: self.requests.clone(),
            tasks: TaskSummary {
                planned,
                completed,
                open: planned - completed,
                completion_rate: (planned > 0)
                    .then(|| (completed as f64 / planned as f64 * 1000.0).round() / 1000.0),
            },
            tests: self.tests.clone(),
            test_runs: self.test_runs.clone(),
            files_changed: self.changes.values().cloned().collect(),
            lines_added: self.lines.0,
            lines_removed: self.lines.1,
            first_activity: self.first_at.clone(),
            last_activity: self.last_at.clone(),
            active_secs: self.active_secs,
            wall_secs,
            tokens: TokenSummary {
                input: t.input,
                output: t.output,
                cache_creation: t.cache_creation,
                cache_read: t.cache_read,
                total: t.all(),
                responses: t.responses,
            },
            cost_usd_estimate: priced.map(|c: f64| (c * 10_000.0).round() / 10_000.0),
            corrections: self.corrections.clone(),
            decisions: self.decisions.clone(),
            remembered: self.remembered.clone(),
            compactions: self.compactions,
            blockers: self.blockers.values().cloned().collect(),
            errors: self.errors(),
            seq: self.seq,
        }
    }
}

fn instant(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

fn redacted(text: &str) -> String {
    logbook_redact::redact(text).into_owned()
}

/// An entry of `text`, redacted before it is cut, so no cut leaves half a
/// secret behind.
fn entry(text: &str, at: &Option<String>, source: &str) -> Entry {
    Entry {
        text: cut(&redacted(text.trim())),
        at: at.clone(),
        source: source.to_owned(),
    }
}

/// The line of a failed command's output that says what went wrong: the
/// first that names an error, else the first (tools print warnings first).
fn error_line(text: &str) -> String {
    const WORDS: [&str; 6] = [
        "error",
        "fail",
        "cannot",
        "not found",
        "panicked",
        "exception",
    ];
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| {
            let lower = l.to_lowercase();
            WORDS.iter().any(|w| lower.contains(w))
        })
        .unwrap_or_else(|| text.trim().lines().next().unwrap_or_default());
    cut(&redacted(line))
}

fn first_line(text: &str) -> String {
    cut(&redacted(text.trim().lines().next().unwrap_or_default()))
}

/// `text` cut to [`TEXT_CHARS`] characters, marked when cut.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
