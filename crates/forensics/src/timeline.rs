//! The action timeline: every action of a session in order, folded from
//! its log events and the transcript records they carry.
//!
//! A tool call is one action from its `tool_use` on: its result (a later
//! record, maybe a later capture) fills in the outcome, so the fold keeps
//! the calls still waiting ([`Timeline::open`]).

use std::collections::BTreeMap;

use logbook_agents::record::{CallResult, Outcome as AgentOutcome, diff_lines};
use logbook_agents::{Item, Record, Seen};
use logbook_core::sessions::{is_subagent_source, origin_name};
use logbook_core::{Envelope, Event, NoteKind, SessionId, Timestamp, ToolOutcome};
use serde::{Deserialize, Serialize};

/// How much of a prompt, note or error an action keeps: the timeline says
/// what happened; `render` shows it whole.
pub const DETAIL_CHARS: usize = 300;

/// How far back an action the agent dated can be moved to its place in
/// time. Records reach the log out of time order when an agent writes a
/// subagent's records as a block after it returns (Claude Code 1.x) or a
/// subagent has a transcript of its own that is captured after the main
/// one (an import): a window this size holds such a block, and bounds what
/// one insertion shifts when a hostile transcript runs backwards.
pub const ORDER_WINDOW: usize = 1024;

/// How far logbook's clock may run ahead of the agent's latest record
/// before an action of logbook's is taken to be on an unrelated clock
/// (an import's) rather than late: live, records reach the log within
/// seconds of being written.
pub const UNRELATED_CLOCK: std::time::Duration = std::time::Duration::from_secs(60);

/// How a subagent's transcript key starts; its agent id follows.
const SUBAGENT_KEY: &str = "subagents/agent-";

/// What kind of action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The session began (`detail`: its origin).
    SessionStart,
    /// The user asked something.
    Prompt,
    /// The user interrupted the agent.
    Interrupt,
    /// A tool call.
    Tool,
    /// A subagent began (a hook said so, or its transcript appeared: one
    /// action for both).
    SubagentStart,
    /// A subagent's call returned, or (run in the background) its notice
    /// came (`detail`: its status and answer).
    SubagentEnd,
    /// The context was compacted.
    Compaction,
    /// The agent's summary of what a compaction replaced.
    CompactionSummary,
    /// Remaining context fell below a threshold.
    BudgetAlert,
    /// A `logbook note`.
    Note,
    /// A handoff for the next session.
    Handoff,
    /// An API error ended a turn.
    ApiError,
    /// A tool call was refused permission (as a hook reported it).
    PermissionDenied,
    /// A task on the agent's list changed.
    Task,
    /// The agent changed directory.
    Workdir,
    /// Lines scrolled away before they were captured, or a source was reset.
    CaptureGap,
    /// The conversation went on in another session.
    Resumed,
    /// The agent dropped the conversation back to an earlier message
    /// (`target`: the first message removed).
    Rewind,
    /// The session ended (`detail`: why).
    SessionEnd,
}

impl Kind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SessionStart => "session_start",
            Kind::Prompt => "prompt",
            Kind::Interrupt => "interrupt",
            Kind::Tool => "tool",
            Kind::SubagentStart => "subagent_start",
            Kind::SubagentEnd => "subagent_end",
            Kind::Compaction => "compaction",
            Kind::CompactionSummary => "compaction_summary",
            Kind::BudgetAlert => "budget_alert",
            Kind::Note => "note",
            Kind::Handoff => "handoff",
            Kind::ApiError => "api_error",
            Kind::PermissionDenied => "permission_denied",
            Kind::Task => "task",
            Kind::Workdir => "workdir",
            Kind::CaptureGap => "capture_gap",
            Kind::Rewind => "rewind",
            Kind::Resumed => "resumed",
            Kind::SessionEnd => "session_end",
        }
    }
}

/// How a tool call went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No result yet.
    Pending,
    /// It succeeded.
    Ok,
    /// It failed (`error` holds the first line).
    Error,
    /// The user or a rule refused it.
    Refused,
    /// The user interrupted it.
    Interrupted,
}

/// One action.
///
/// Actions are in time order, ties in the order they were logged. The
/// agent's records carry their own time; logbook's own actions (the
/// session's start, first always, and end, notes, alerts, hook reports)
/// carry logbook's, which is the same clock while logbook records live.
/// An import logs old records today, so one of logbook's actions dated
/// more than [`UNRELATED_CLOCK`] after the agent's latest is `placed` at
/// that latest time instead: a compaction found in an imported transcript
/// stays where its boundary was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Its place in the session, from 1, in the order actions began.
    pub n: u64,
    /// When it happened: the record's own time, else the event's.
    pub at: String,
    /// The log event it was read from.
    pub seq: u64,
    /// What it is.
    pub kind: Kind,
    /// A subagent's actions: its transcript (`subagents/agent-…`) or
    /// `sidechain` for inline records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The tool, for tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// What it acted on: a path, command, URL, pattern or query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// How a tool call went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The first line of an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A prompt's, note's or alert's text, cut to [`DETAIL_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Lines an edit added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<u64>,
    /// Lines an edit removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<u64>,
    /// When a tool call's result came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// How long the agent says the call took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The agent's id of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The call starts a subagent, whose end its result is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subagent: bool,
    /// Where in the agent's time one of logbook's actions is placed, when
    /// logbook's clock was too far ahead of the agent's (see [`Action`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<String>,
}

impl Action {
    fn new(n: u64, at: String, seq: u64, kind: Kind) -> Self {
        Action {
            n,
            at,
            seq,
            kind,
            agent: None,
            tool: None,
            target: None,
            outcome: None,
            error: None,
            detail: None,
            added: None,
            removed: None,
            ended_at: None,
            duration_ms: None,
            call_id: None,
            subagent: false,
            placed: None,
        }
    }
}

/// A session's timeline, and what its fold needs to go on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The session.
    pub session_id: SessionId,
    /// Every action, in the order they began (see [`Action`]).
    pub actions: Vec<Action>,
    /// Tool calls waiting for their result: call id to index in `actions`.
    pub open: BTreeMap<String, usize>,
    /// Durations a hook reported before the transcript showed the call.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub early: BTreeMap<String, u64>,
    /// Sidechain transcripts already seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Items already taken from records an agent writes again.
    #[serde(default, skip_serializing_if = "Seen::is_empty")]
    pub seen: Seen,
    /// Whether shown texts (targets, details, errors) were redacted as
    /// they were folded: before they were cut, so no cut leaves half a
    /// secret behind.
    pub redacted: bool,
    /// The last log seq folded in: folding an event twice changes nothing.
    pub seq: u64,
    /// The seq of a compaction logged just before the records that begin
    /// with its boundary: it takes the boundary's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<u64>,
}

impl Timeline {
    /// An empty timeline; `redacted` masks secrets in what it keeps.
    pub fn new(session_id: SessionId, redacted: bool) -> Self {
        Timeline {
            session_id,
            redacted,
            actions: Vec::new(),
            open: BTreeMap::new(),
            early: BTreeMap::new(),
            agents: Vec::new(),
            seen: Seen::default(),
            seq: 0,
            compaction: None,
        }
    }

    /// Folds a session's envelopes, oldest first.
    pub fn fold<'a>(
        session_id: SessionId,
        redacted: bool,
        envelopes: impl IntoIterator<Item = &'a Envelope>,
    ) -> Self {
        let mut timeline = Timeline::new(session_id, redacted);
        for env in envelopes {
            timeline.apply(env);
        }
        timeline
    }

    fn push(&mut self, env: &Envelope, at: Option<&str>, kind: Kind) -> &mut Action {
        let index = self.place(env, at, kind);
        &mut self.actions[index]
    }

    /// The start of the subagent `agent` names (a hook's agent id or a
    /// transcript's key).
    fn start_of(&self, agent: &str) -> Option<usize> {
        self.actions
            .iter()
            .rposition(|a| a.kind == Kind::SubagentStart && a.agent.as_deref() == Some(agent))
    }

    /// Adds an action at its place in time and returns its index.
    fn place(&mut self, env: &Envelope, at: Option<&str>, kind: Kind) -> usize {
        let dated = at.and_then(|t| Timestamp::parse(t).ok().map(|ts| (t, ts.as_micros())));
        let (action, time) = match dated {
            Some((at, time)) => (Action::new(0, at.to_owned(), env.seq, kind), Some(time)),
            None => {
                let mut action = Action::new(0, env.at.to_string(), env.seq, kind);
                let own = env.at.as_micros();
                let latest = self
                    .actions
                    .len()
                    .checked_sub(1)
                    .and_then(|i| self.time_of(i));
                let time = match latest {
                    _ if kind == Kind::SessionStart => None,
                    Some(latest) if own - latest > UNRELATED_CLOCK.as_micros() as i64 => {
                        action.placed = Some(Timestamp::from_micros(latest).to_string());
                        Some(latest)
                    }
                    _ => Some(own),
                };
                (action, time)
            }
        };
        self.put(action, time)
    }

    /// Inserts `action`, which sorts at `time`, at its place.
    fn put(&mut self, action: Action, time: Option<i64>) -> usize {
        let latest = self
            .actions
            .len()
            .checked_sub(1)
            .and_then(|i| self.time_of(i));
        // Most actions come in order.
        if latest <= time {
            return self.insert(self.actions.len(), action);
        }
        // After the last action no later than this one, among the last
        // ORDER_WINDOW: actions are in time order, so a binary search.
        let (mut lo, mut hi) = (
            self.actions.len().saturating_sub(ORDER_WINDOW),
            self.actions.len(),
        );
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time_of(mid) > time {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        self.insert(lo, action)
    }

    /// The capture logs a compaction it finds just before the records
    /// that begin with its boundary, at the capture's time (an import's,
    /// today): when `first` is that boundary, it dates the compaction.
    fn date_compaction(&mut self, seq: u64, first: &Record) {
        if first.items.contains(&Item::Compaction)
            && let Some(at) = first.at.as_deref()
            && let Ok(time) = Timestamp::parse(at)
            && let Some(index) = self
                .actions
                .iter()
                .rposition(|a| a.kind == Kind::Compaction && a.seq == seq)
        {
            let mut action = self.remove(index);
            action.at = at.to_owned();
            action.placed = None;
            self.put(action, Some(time.as_micros()));
        }
    }

    /// A subagent's transcript (`key`) was first captured, with `records`.
    /// It began when its first record says, not when logbook first saw
    /// its file, nor when the hook that said so reached the log; a start
    /// the hook already added becomes this one.
    fn subagent_appeared(&mut self, env: &Envelope, key: &str, records: &[Record]) {
        self.agents.push(key.to_owned());
        let began = records
            .iter()
            .find(|r| !r.replayed && r.at.is_some())
            .and_then(|r| r.at.as_deref());
        let hooked = key
            .strip_prefix(SUBAGENT_KEY)
            .and_then(|id| self.start_of(id))
            .map(|index| self.remove(index));
        match (hooked, began) {
            (Some(mut hooked), None) => {
                let time = time_of(&hooked);
                hooked.agent = Some(key.to_owned());
                self.put(hooked, time);
            }
            (hooked, began) => {
                let action = self.push(env, began, Kind::SubagentStart);
                action.agent = Some(key.to_owned());
                if let Some(hooked) = hooked {
                    action.target = hooked.target;
                    action.seq = hooked.seq;
                }
            }
        }
    }

    fn time_of(&self, index: usize) -> Option<i64> {
        time_of(&self.actions[index])
    }

    fn remove(&mut self, index: usize) -> Action {
        let action = self.actions.remove(index);
        for open in self.open.values_mut() {
            if *open > index {
                *open -= 1;
            }
        }
        self.renumber(index);
        action
    }

    fn renumber(&mut self, from: usize) {
        for (i, action) in self.actions.iter_mut().enumerate().skip(from) {
            action.n = i as u64 + 1;
        }
    }

    fn insert(&mut self, index: usize, action: Action) -> usize {
        self.actions.insert(index, action);
        for open in self.open.values_mut() {
            if *open >= index {
                *open += 1;
            }
        }
        self.renumber(index);
        index
    }

    /// Folds one envelope of this session.
    pub fn apply(&mut self, env: &Envelope) {
        if env.seq <= self.seq {
            return;
        }
        self.seq = env.seq;
        let r = self.redacted;
        match &env.event {
            Event::SessionStarted(s) => {
                let action = self.push(env, None, Kind::SessionStart);
                action.detail = Some(origin_name(&s.origin).to_owned());
                action.target = s.command.as_deref().map(|c| head_line(r, c));
            }
            Event::SessionEnded(e) => {
                let action = self.push(env, None, Kind::SessionEnd);
                action.detail = Some(format!("{} ({})", e.reason, e.status));
            }
            // The agent's own times for a start or end logbook recorded
            // later (a compaction's boundary, an import of old work).
            Event::SessionDated(d) => {
                if let Some(start) = self
                    .actions
                    .iter_mut()
                    .find(|a| a.kind == Kind::SessionStart)
                {
                    start.at = d.started_at.to_string();
                }
            }
            Event::SessionEndDated(d) => {
                if let Some(index) = self
                    .actions
                    .iter()
                    .rposition(|a| a.kind == Kind::SessionEnd)
                {
                    let mut action = self.remove(index);
                    action.at = d.ended_at.to_string();
                    action.placed = None;
                    self.put(action, Some(d.ended_at.as_micros()));
                }
            }
            Event::TranscriptCaptured(c) if c.source.kind.is_agent_jsonl() => {
                let agent = is_subagent_source(&c.source.key).then(|| c.source.key.clone());
                let compaction = self.compaction.take();
                let mut records = c
                    .bytes
                    .0
                    .split_inclusive(|b| *b == b'\n')
                    .filter_map(|line| {
                        logbook_agents::read(c.source.kind, &c.source.location, line)
                    })
                    .peekable();
                if let (Some(seq), None, Some(first)) = (compaction, &agent, records.peek()) {
                    self.date_compaction(seq, first);
                }
                match &agent {
                    Some(key) if !self.agents.contains(key) => {
                        let records: Vec<Record> = records.collect();
                        self.subagent_appeared(env, key, &records);
                        for record in &records {
                            self.record(env, record, agent.as_deref());
                        }
                    }
                    _ => {
                        for record in records {
                            self.record(env, &record, agent.as_deref());
                        }
                    }
                }
            }
            Event::CompactionDetected(c) => {
                self.compaction = Some(env.seq);
                let action = self.push(env, None, Kind::Compaction);
                let trigger = match c.trigger {
                    logbook_core::CompactionTrigger::Manual => "manual".to_owned(),
                    logbook_core::CompactionTrigger::Auto => "auto".to_owned(),
                    logbook_core::CompactionTrigger::Heuristic { before, after } => {
                        format!("heuristic: {before} → {after} tokens")
                    }
                };
                action.detail = Some(match c.pre_tokens {
                    Some(tokens) => format!("{trigger}, {tokens} tokens before"),
                    None => trigger,
                });
            }
            Event::CompactionSummarized(s) => {
                let action = self.push(env, None, Kind::CompactionSummary);
                action.detail = Some(shown(r, &s.summary));
            }
            Event::BudgetAlert(b) => {
                let action = self.push(env, None, Kind::BudgetAlert);
                action.detail = Some(format!(
                    "{:.1}% of the context window left (threshold {}%)",
                    b.remaining_pct, b.threshold
                ));
            }
            Event::NoteRecorded(n) => {
                let action = self.push(env, None, Kind::Note);
                let kind = match n.kind {
                    NoteKind::Decision => "decision",
                    NoteKind::Correction => "correction",
                    NoteKind::Plan => "plan",
                    NoteKind::Memory => "memory",
                };
                action.target = Some(kind.to_owned());
                action.detail = Some(shown(r, &n.text));
            }
            Event::HandoffCreated(h) => {
                let action = self.push(env, None, Kind::Handoff);
                action.target = Some(h.next_session.to_string());
            }
            Event::TurnFailed(t) => {
                let action = self.push(env, None, Kind::ApiError);
                action.error = Some(first_line(r, &t.error));
                action.detail = t.details.as_deref().map(|t| shown(r, t));
            }
            Event::PermissionDenied(p) => {
                let action = self.push(env, None, Kind::PermissionDenied);
                action.tool = Some(p.call.tool.clone());
                action.target = p.call.target.as_deref().map(|t| head_line(r, t));
                action.call_id = p.call.call_id.clone();
                action.detail = p.reason.as_deref().map(|t| shown(r, t));
            }
            Event::SubagentStarted(s) => {
                // One start per subagent, whichever of the hook and its
                // transcript came first.
                let key = format!("{SUBAGENT_KEY}{}", s.agent_id);
                let action = match self.start_of(&key) {
                    Some(index) => &mut self.actions[index],
                    None => {
                        let action = self.push(env, None, Kind::SubagentStart);
                        action.agent = Some(s.agent_id.clone());
                        action
                    }
                };
                action.target = Some(s.agent_type.clone());
            }
            Event::TaskChanged(t) => {
                let action = self.push(env, None, Kind::Task);
                action.target = Some(t.task_id.clone());
                let change = match t.change {
                    logbook_core::TaskChange::Created => "created",
                    logbook_core::TaskChange::Completed => "completed",
                };
                action.detail = Some(format!("{change}: {}", shown(r, &t.subject)));
            }
            Event::WorkdirChanged(w) => {
                let action = self.push(env, None, Kind::Workdir);
                action.target = Some(w.to.clone());
            }
            Event::CaptureGap(g) => {
                let action = self.push(env, None, Kind::CaptureGap);
                action.target = Some(g.source.key.clone());
                action.detail = g.lines_missed.map(|n| format!("{n} lines missed"));
            }
            Event::SourceReset(r) => {
                let action = self.push(env, None, Kind::CaptureGap);
                action.target = Some(r.source.key.clone());
                action.detail = Some(format!("source reset at byte {}", r.old_offset));
            }
            Event::SessionResumed(r) => {
                let action = self.push(env, None, Kind::Resumed);
                action.target = Some(r.successor.to_string());
            }
            Event::ToolCallFinished(f) => {
                let Some(id) = f.call.call_id.clone() else {
                    return;
                };
                let known = self
                    .actions
                    .iter_mut()
                    .rev()
                    .find(|a| a.kind == Kind::Tool && a.call_id.as_deref() == Some(&id));
                match known {
                    Some(action) => {
                        action.duration_ms = f.duration_ms.or(action.duration_ms);
                        // The hook may speak before the transcript does.
                        if action.outcome == Some(Outcome::Pending) {
                            set_outcome(action, &f.outcome, r);
                        }
                    }
                    None => {
                        if let Some(ms) = f.duration_ms {
                            self.early.insert(id, ms);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, env: &Envelope, record: &Record, agent: Option<&str>) {
        // Copied history belongs to the session it was copied from.
        if record.replayed {
            return;
        }
        let r = self.redacted;
        let at = record.at.as_deref();
        let agent = agent
            .map(str::to_owned)
            .or_else(|| record.sidechain.then(|| "sidechain".to_owned()));
        let mut seen = std::mem::take(&mut self.seen);
        for item in record.fresh(&mut seen) {
            match item {
                Item::Call(call) => {
                    let early = self.early.remove(&call.id);
                    let index = self.place(env, at, Kind::Tool);
                    let action = &mut self.actions[index];
                    action.agent.clone_from(&agent);
                    action.tool = Some(call.name.clone());
                    action.target = call.target.as_deref().map(|t| head_line(r, t));
                    action.outcome = Some(Outcome::Pending);
                    action.call_id = Some(call.id.clone());
                    action.duration_ms = early;
                    action.subagent = call.subagent;
                    if let Some(diff) = &call.diff {
                        let (added, removed) = diff_lines(diff);
                        action.added = Some(added);
                        action.removed = Some(removed);
                    }
                    self.open.insert(call.id.clone(), index);
                }
                Item::Result(result) => self.result(env, at, result, &agent),
                Item::Finished { id, status, text } => {
                    let call = self
                        .actions
                        .iter()
                        .rev()
                        .find(|a| a.subagent && a.call_id.as_deref() == Some(id.as_str()))
                        .and_then(|a| a.target.clone());
                    let end = self.push(env, at, Kind::SubagentEnd);
                    end.target = call;
                    end.detail = Some(format!("{status}: {}", first_line(r, text)));
                }
                Item::Exited {
                    id,
                    outcome,
                    exit_code,
                    text,
                } => self.exited(id, *outcome, *exit_code, text),
                // What the user ran through Claude Code is theirs: the
                // command itself, not its markup or Claude Code's output.
                Item::Prompt {
                    text,
                    command: true,
                } if agent.is_none() => {
                    if let Some(line) = logbook_agents::claude::command_line(text) {
                        let action = self.push(env, at, Kind::Prompt);
                        action.detail = Some(shown(r, &line));
                    }
                }
                Item::Prompt { text, .. } if agent.is_none() => {
                    let action = self.push(env, at, Kind::Prompt);
                    action.detail = Some(shown(r, text.trim()));
                }
                Item::Interrupt { text } if agent.is_none() => {
                    let action = self.push(env, at, Kind::Interrupt);
                    action.detail = Some(shown(r, text));
                }
                Item::Rewind { to } => {
                    let action = self.push(env, at, Kind::Rewind);
                    action.target = Some(to.clone());
                }
                _ => {}
            }
        }
        self.seen = seen;
    }

    /// A command still running when its call was answered (and shown then
    /// as it went so far) has exited: its outcome is how it ended.
    fn exited(&mut self, id: &str, outcome: AgentOutcome, exit_code: Option<i32>, text: &str) {
        let r = self.redacted;
        let Some(action) = self
            .actions
            .iter_mut()
            .rev()
            .find(|a| a.call_id.as_deref() == Some(id))
        else {
            return;
        };
        if outcome == AgentOutcome::Ok {
            action.outcome = Some(Outcome::Ok);
            action.error = None;
        } else {
            action.outcome = Some(Outcome::Error);
            // Its output is the whole run's: the exit code says more.
            action.error = Some(match exit_code {
                Some(code) => format!("exit code {code}"),
                None => first_line(r, text),
            });
        }
    }

    fn result(
        &mut self,
        env: &Envelope,
        at: Option<&str>,
        result: &CallResult,
        agent: &Option<String>,
    ) {
        let r = self.redacted;
        let Some(index) = self.open.remove(&result.id) else {
            return;
        };
        let Some(action) = self.actions.get_mut(index) else {
            return;
        };
        action.ended_at = at.map(str::to_owned);
        action.outcome = Some(match result.outcome {
            AgentOutcome::Ok => Outcome::Ok,
            AgentOutcome::Error => Outcome::Error,
            AgentOutcome::Refused => Outcome::Refused,
            AgentOutcome::Interrupted => Outcome::Interrupted,
        });
        if result.outcome != AgentOutcome::Ok {
            action.error = Some(error_line(r, result.exit_code, &result.text));
        }
        if let Some(patch) = &result.patch {
            let (added, removed) = diff_lines(patch);
            action.added = Some(added);
            action.removed = Some(removed);
        }
        let target = action.target.clone();
        // A subagent launched in the background ends with its own notice.
        if action.subagent && !result.running {
            let end = self.push(env, at, Kind::SubagentEnd);
            end.agent.clone_from(agent);
            end.target = target;
        }
    }
}

/// The time an action is ordered by; the session's start comes first.
fn time_of(action: &Action) -> Option<i64> {
    if action.kind == Kind::SessionStart {
        return None;
    }
    let at = action.placed.as_deref().unwrap_or(&action.at);
    Timestamp::parse(at).ok().map(Timestamp::as_micros)
}

/// Sets a tool call's outcome from what a hook reported.
fn set_outcome(action: &mut Action, outcome: &ToolOutcome, r: bool) {
    match outcome {
        ToolOutcome::Succeeded => action.outcome = Some(Outcome::Ok),
        ToolOutcome::Failed { error } => {
            action.outcome = Some(Outcome::Error);
            action.error = Some(first_line(r, error));
        }
        ToolOutcome::Interrupted { error } => {
            action.outcome = Some(Outcome::Interrupted);
            action.error = Some(first_line(r, error));
        }
    }
}

/// What a failed call's error says: the first line of its text, else its
/// exit code.
fn error_line(r: bool, exit_code: Option<i32>, text: &str) -> String {
    match (first_line(r, text), exit_code) {
        (line, Some(code)) if line.is_empty() => format!("exit code {code}"),
        (line, _) => line,
    }
}

fn first_line(r: bool, text: &str) -> String {
    shown(r, text.trim().lines().next().unwrap_or_default())
}

/// A target's first line, marked when more follows: a command of many
/// lines shown as its first alone would read as the whole of it.
fn head_line(r: bool, text: &str) -> String {
    let text = text.trim();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if lines.any(|l| !l.trim().is_empty()) {
        let shown = shown(r, first);
        if shown.ends_with('…') {
            shown
        } else {
            format!("{} …", shown.trim_end())
        }
    } else {
        shown(r, first)
    }
}

/// A text as an action keeps it: redacted when `r`, then cut.
fn shown(r: bool, text: &str) -> String {
    cut(&logbook_redact::maybe(text, r))
}

/// `text` cut to [`DETAIL_CHARS`] characters, marked when cut.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(DETAIL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
