//! The `tokens` projection: `tokens.json` per session, folded from
//! captured agent records (through `logbook-agents`), status-line and
//! text-line readings, budget
//! alerts and compactions. The file is its own state (with the last seq it
//! applied), so each capture only adds to it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use logbook_core::projection::{json_file, seq_before};
use logbook_core::sessions::{session_dir, session_file};
use logbook_core::{
    Envelope, Event, EventLog, Projection, ProjectionError, ProjectionFiles, SessionId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::budget::{AlertFired, ContextNow, DEFAULT_WINDOW, ModelWindows};
use logbook_agents::record::{Counting, Usage as AgentUsage};
use logbook_agents::{Item, Record, Tokens};

use crate::usage::{Ledger, Reported, Totals, Usage};

/// The contents of `tokens.json` (keys per DESIGN.md §4, plus the split
/// by chain and day, and the fold's own state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokensView {
    /// The session.
    pub session_id: SessionId,
    /// The agent's session id, for grouping by conversation.
    pub agent_session_id: Option<String>,
    /// Everything, sidechains included, each response once.
    pub totals: Totals,
    /// The main chain alone.
    pub main: Totals,
    /// Subagents alone.
    pub sidechains: Totals,
    /// Per model.
    pub by_model: BTreeMap<String, Totals>,
    /// Per day (`YYYY-MM-DD` of the response).
    pub by_day: BTreeMap<String, Totals>,
    /// The context window now.
    pub context: ContextNow,
    /// Alerts in the order they fired.
    pub alerts: Vec<AlertFired>,
    /// Index in `alerts` where the current compaction epoch starts: alerts
    /// before it no longer block a threshold from firing again.
    pub armed_from: usize,
    /// Time of the first response.
    pub first: Option<String>,
    /// Time of the last response.
    pub last: Option<String>,
    /// The time of the main-chain record `context` was read from: a record
    /// older than it, from a second file of the session folded later, does
    /// not set it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_at: Option<String>,
    /// The per-response ledger (state of the fold).
    pub ledger: Ledger,
    /// The last window a reading stated.
    pub stated_window: Option<u64>,
    /// The window the last main-chain API request implies (its model and
    /// beta flags), for sessions with no status line.
    #[serde(default)]
    pub request_window: Option<u64>,
    /// The window the last main-chain response's model implies.
    #[serde(default)]
    pub model_window: Option<u64>,
    /// Claude Code's own running account of the conversation, as of the
    /// last `cost-state` record in this session (cumulative over the whole
    /// conversation, not this session alone).
    #[serde(default)]
    pub claude_code_reported: Option<Reported>,
    /// The agent that wrote the session (`agent.kind` at its start).
    #[serde(default)]
    pub agent: Option<String>,
    /// Per source: what adding up its usage needs from earlier lines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceCount>,
    /// The last log seq folded in.
    pub seq: u64,
}

/// What the fold keeps per source between lines: Codex names the model
/// only in its `turn_context` lines and counts tokens as running totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    /// The model of the last request.
    pub model: Option<String>,
    /// The last running total.
    pub total: Option<Tokens>,
}

impl TokensView {
    /// An empty view.
    pub fn new(session_id: SessionId) -> Self {
        Self {
            session_id,
            agent_session_id: None,
            totals: Totals::default(),
            main: Totals::default(),
            sidechains: Totals::default(),
            by_model: BTreeMap::new(),
            by_day: BTreeMap::new(),
            context: ContextNow::new(None, DEFAULT_WINDOW, None),
            alerts: Vec::new(),
            armed_from: 0,
            first: None,
            last: None,
            context_at: None,
            ledger: Ledger::default(),
            stated_window: None,
            request_window: None,
            model_window: None,
            claude_code_reported: None,
            agent: None,
            sources: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Alerts of the current epoch (since the last compaction).
    pub fn armed(&self) -> &[AlertFired] {
        self.alerts.get(self.armed_from..).unwrap_or_default()
    }

    /// The window as best known: what a status line stated, else what the
    /// requests or the model imply, else Claude Code's default.
    fn window(&self) -> u64 {
        self.stated_window
            .or(self.request_window)
            .or(self.model_window)
            .unwrap_or(DEFAULT_WINDOW)
    }

    /// Folds one record of source `source` (its key); `subagent` for a
    /// subagent's own file.
    pub fn apply_record(
        &mut self,
        record: &Record,
        source: &str,
        subagent: bool,
        windows: &Windows,
    ) {
        let side = subagent || record.sidechain;
        for item in &record.items {
            match item {
                Item::Usage(usage) => self.usage(record, source, side, usage, windows),
                Item::Compaction if !subagent && !record.replayed => self.compacted(),
                Item::Reported(r) if !subagent => self.claude_code_reported = Some(r.into()),
                Item::Request { model, betas } => {
                    self.sources.entry(source.to_owned()).or_default().model = Some(model.clone());
                    if !side && !record.replayed {
                        self.request_window = Some(
                            windows
                                .models
                                .window(model, betas)
                                .unwrap_or(DEFAULT_WINDOW),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn usage(
        &mut self,
        record: &Record,
        source: &str,
        side: bool,
        usage: &AgentUsage,
        windows: &Windows,
    ) {
        let state = self.sources.entry(source.to_owned()).or_default();
        let model = usage
            .model
            .clone()
            .or_else(|| state.model.clone())
            .unwrap_or_else(|| "unknown".into());
        let counted = match usage.counting {
            Counting::Response => usage.tokens,
            Counting::Cumulative => {
                let step = usage.tokens.step_from(state.total.as_ref());
                state.total = Some(usage.tokens);
                step
            }
        };
        // Copied history was counted in the session it came from; a
        // repeated total adds nothing.
        if record.replayed || (usage.counting == Counting::Cumulative && counted.all() == 0) {
            return;
        }
        let key = match usage.counting {
            Counting::Response => usage.key.clone(),
            Counting::Cumulative => None,
        };
        let newest = match (&record.at, &self.context_at) {
            (Some(at), Some(read)) => !later(read, at),
            _ => true,
        };
        if !side && newest {
            if let Some(window) = usage.window.filter(|w| *w > 0) {
                self.stated_window = Some(window);
            }
            self.model_window = windows.models.window(&model, &[]);
            let used = usage.context.unwrap_or_else(|| usage.tokens.context());
            self.context = ContextNow::new(Some(used), self.window(), windows.fixed);
            if record.at.is_some() {
                self.context_at.clone_from(&record.at);
            }
        }
        if let Some(at) = &record.at {
            if self.first.as_deref().is_none_or(|first| later(first, at)) {
                self.first = Some(at.clone());
            }
            if self.last.as_deref().is_none_or(|last| later(at, last)) {
                self.last = Some(at.clone());
            }
        }
        self.ledger
            .record(key, model, side, Usage::from(counted), record.at.as_deref());
    }

    fn compacted(&mut self) {
        self.context = ContextNow::new(None, self.context.window, None);
        self.armed_from = self.alerts.len();
    }

    /// This view with `extra` tokens added (per model; to the main chain,
    /// on the day of the last response): what the reconciliation with
    /// Claude Code's account found missing from the transcript.
    pub fn with_extra(&self, extra: &BTreeMap<String, Totals>) -> TokensView {
        let mut view = self.clone();
        let day = view
            .last
            .as_deref()
            .and_then(|t| t.get(..10))
            .unwrap_or("unknown")
            .to_owned();
        for (model, t) in extra {
            view.main = view.main.plus(t);
            view.totals = view.totals.plus(t);
            let m = view.by_model.entry(model.clone()).or_default();
            *m = m.plus(t);
            let d = view.by_day.entry(day.clone()).or_default();
            *d = d.plus(t);
        }
        view
    }

    /// Recomputes the totals from the ledger.
    pub fn settle(&mut self) {
        self.main = self.ledger.main_totals();
        self.sidechains = self.ledger.sidechain_totals();
        self.totals = self.main.plus(&self.sidechains);
        self.by_model = self.ledger.models();
        self.by_day = self.ledger.days();
    }
}

/// Reconciles one conversation's sessions with Claude Code's own account:
/// the tokens its latest `cost-state` counts beyond every assistant record
/// captured in `sessions` (compaction summaries, side calls, or turns
/// before logbook was installed), and the session holding that report, to
/// which they belong. `None` when nothing is missing or nothing reported.
pub fn missing_from_transcript(
    sessions: &[&TokensView],
) -> Option<(SessionId, BTreeMap<String, Totals>)> {
    let reporting = sessions
        .iter()
        .filter(|v| v.claude_code_reported.is_some())
        .max_by_key(|v| v.session_id)?;
    let mut counted: BTreeMap<String, Totals> = BTreeMap::new();
    for v in sessions {
        for (model, t) in &v.by_model {
            let c = counted.entry(model.clone()).or_default();
            *c = c.plus(t);
        }
    }
    let extra = reporting.claude_code_reported.as_ref()?.beyond(&counted);
    (!extra.is_empty()).then_some((reporting.session_id, extra))
}

/// How a session's context window is known, beyond what it states.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows {
    /// The window configured for every session (`context_window`), if any.
    pub fixed: Option<u64>,
    /// Windows by model.
    pub models: ModelWindows,
}

/// Projects `tokens.json`.
#[derive(Clone, Debug, Default)]
pub struct TokensProjection {
    windows: Windows,
}

impl TokensProjection {
    /// Windows as `windows` says.
    pub fn new(windows: Windows) -> Self {
        Self { windows }
    }

    /// Folds one envelope into its session's view.
    fn fold(&self, view: &mut TokensView, env: &Envelope) {
        match &env.event {
            Event::SessionStarted(s) => {
                view.agent_session_id = s.agent.as_ref().and_then(|a| a.session_id.clone());
                view.agent = s.agent.as_ref().map(|a| a.kind.clone());
            }
            Event::TranscriptCaptured(c) if c.source.kind.is_agent_jsonl() => {
                // A session started by hand that captures an agent's file
                // is that agent's.
                if view.agent.is_none() {
                    view.agent = logbook_agents::Agent::of_source(c.source.kind)
                        .map(|a| a.name().to_owned());
                }
                let subagent = logbook_core::sessions::is_subagent_source(&c.source.key);
                for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                    if let Some(record) =
                        logbook_agents::read_usage(c.source.kind, &c.source.location, line)
                    {
                        view.apply_record(&record, &c.source.key, subagent, &self.windows);
                    }
                }
            }
            Event::TokenUsageObserved(t) => {
                if t.window > 0 {
                    view.stated_window = Some(t.window);
                }
                let window = view.stated_window.unwrap_or(view.context.window);
                view.context = ContextNow::new(Some(t.used), window, self.windows.fixed);
            }
            Event::CompactionDetected(_) => view.compacted(),
            Event::BudgetAlert(a) => view.alerts.push(AlertFired {
                threshold: a.threshold,
                remaining_pct: a.remaining_pct,
                at: env.at.to_string(),
            }),
            _ => {}
        }
        view.seq = env.seq;
    }
}

/// The path of a session's `tokens.json`.
pub fn tokens_path(id: SessionId) -> String {
    format!("{}/tokens.json", session_dir(id))
}

#[async_trait]
impl Projection for TokensProjection {
    fn name(&self) -> &'static str {
        "tokens"
    }

    fn owns(&self, path: &str) -> bool {
        session_file(path).is_some_and(|(_, file)| file == "tokens.json")
    }

    async fn apply(
        &self,
        log: &(dyn EventLog + 'static),
        batch: &[Envelope],
        files: &(dyn ProjectionFiles + 'static),
    ) -> Result<(), ProjectionError> {
        let mut views: Vec<(TokensView, bool)> = Vec::new();
        for env in batch {
            let index = match views.iter().position(|(v, _)| v.session_id == env.session) {
                Some(i) => i,
                None => {
                    let stored = files
                        .read(&tokens_path(env.session))?
                        .and_then(|b| serde_json::from_slice::<TokensView>(&b).ok())
                        .filter(|v| v.session_id == env.session);
                    let before = seq_before(log, env).await?;
                    let view = match stored {
                        Some(view) if view.seq == before => view,
                        // Missing, stale or not ours: fold the history.
                        _ => {
                            let mut view = TokensView::new(env.session);
                            for past in log.read_session(env.session).await? {
                                if past.seq < env.seq {
                                    self.fold(&mut view, &past);
                                }
                            }
                            view
                        }
                    };
                    views.push((view, before == 0));
                    views.len() - 1
                }
            };
            let (view, changed) = &mut views[index];
            if env.seq <= view.seq {
                continue;
            }
            self.fold(view, env);
            *changed = true;
        }
        for (mut view, changed) in views {
            if !changed {
                continue;
            }
            view.settle();
            let path = tokens_path(view.session_id);
            files.write(&path, &json_file(&path, &view)?)?;
        }
        Ok(())
    }
}

/// Whether record time `a` is after `b`; times that do not parse compare as
/// text (both are an agent's ISO 8601).
fn later(a: &str, b: &str) -> bool {
    // UTC times written alike (one agent's records) order as text, which
    // spares two parses per response.
    if a.len() == b.len() && a.ends_with('Z') && b.ends_with('Z') {
        return a > b;
    }
    match (Timestamp::parse(a), Timestamp::parse(b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_orders_record_times_however_they_are_written() {
        assert!(later(
            "2026-01-15T20:52:56.381Z",
            "2026-01-15T20:51:59.064Z"
        ));
        assert!(!later(
            "2026-01-15T20:51:59.064Z",
            "2026-01-15T20:52:56.381Z"
        ));
        assert!(!later(
            "2026-01-15T20:52:56.381Z",
            "2026-01-15T20:52:56.381Z"
        ));
        // Other precision or an offset: by the instant, not the text.
        assert!(later("2026-01-15T20:52:56.5Z", "2026-01-15T20:52:56.381Z"));
        assert!(!later(
            "2026-01-15T21:00:00+02:00",
            "2026-01-15T20:52:56.381Z"
        ));
        assert!(later("2026-01-15T21:00:00Z", "2026-01-15T20:52:56.381Z"));
    }

    /// Folds a Claude Code line into the main chain.
    fn apply_line(v: &mut TokensView, line: &[u8], subagent: bool, windows: &Windows) {
        if let Some(record) = logbook_agents::claude::read(line) {
            v.apply_record(&record, "main", subagent, windows);
        }
    }

    fn response(model: &str, sidechain: bool) -> String {
        format!(
            r#"{{"type":"assistant","isSidechain":{sidechain},"requestId":"r","message":{{"id":"m","model":"{model}","usage":{{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":90}}}}}}"#
        )
    }

    fn request(model: &str, betas: &str, source: &str) -> String {
        format!(
            r#"{{"type":"api-request","querySource":"{source}","params":{{"model":"{model}","betas":[{betas}],"max_tokens":128000}},"unknown":1}}"#
        )
    }

    #[test]
    fn without_a_status_line_the_window_follows_the_requests_then_the_model() {
        let windows = Windows::default();
        let mut v = TokensView::new(SessionId::new_v7());
        apply_line(
            &mut v,
            response("claude-sonnet-4-5", false).as_bytes(),
            false,
            &windows,
        );
        assert_eq!(v.context.window, DEFAULT_WINDOW);
        // The model Claude Code 2.1.328 stated 1M for.
        apply_line(
            &mut v,
            response("claude-opus-5-5", false).as_bytes(),
            false,
            &windows,
        );
        assert_eq!(v.context.window, 1_000_000);

        // A request with the 1M beta says so for a model the table does not
        // know; a subagent's request does not speak for the main chain.
        let mut v = TokensView::new(SessionId::new_v7());
        let mut turn = |betas: &str, source: &str| {
            for line in [
                request("claude-sonnet-4-5", betas, source),
                response("claude-sonnet-4-5", false),
            ] {
                apply_line(&mut v, line.as_bytes(), false, &windows);
            }
            v.context.window
        };
        let beta = r#""claude-code-20250219","context-1m-2025-08-07""#;
        assert_eq!(turn(beta, "sdk"), 1_000_000);
        assert_eq!(turn("", "agent:builtin:general-purpose"), 1_000_000);
        assert_eq!(turn("", "repl_main_thread"), DEFAULT_WINDOW);
    }

    #[test]
    fn a_stated_or_configured_window_wins() {
        let mut v = TokensView::new(SessionId::new_v7());
        v.stated_window = Some(400_000);
        apply_line(
            &mut v,
            response("claude-opus-5-5", false).as_bytes(),
            false,
            &Windows::default(),
        );
        assert_eq!(v.context.window, 400_000);
        let configured = Windows {
            fixed: None,
            models: ModelWindows::new([("sonnet-4-5".to_owned(), 500_000)]),
        };
        let mut v = TokensView::new(SessionId::new_v7());
        apply_line(
            &mut v,
            response("claude-sonnet-4-5", false).as_bytes(),
            false,
            &configured,
        );
        assert_eq!(v.context.window, 500_000);
        let fixed = Windows {
            fixed: Some(300_000),
            models: ModelWindows::default(),
        };
        apply_line(
            &mut v,
            response("claude-opus-5-5", false).as_bytes(),
            false,
            &fixed,
        );
        assert_eq!(v.context.window, 300_000);
    }
}
