//! The `tokens` projection: `tokens.json` per session, folded from
//! captured Claude Code records, status-line and text-line readings, budget
//! alerts and compactions. The file is its own state (with the last seq it
//! applied), so each capture only adds to it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use logbook_core::projection::{json_file, seq_before};
use logbook_core::sessions::{session_dir, session_file};
use logbook_core::{
    Envelope, Event, EventLog, Projection, ProjectionError, ProjectionFiles, SessionId, SourceKind,
};
use serde::{Deserialize, Serialize};

use crate::budget::{AlertFired, ContextNow, DEFAULT_WINDOW};
use crate::usage::{Ledger, Seen, Totals, read_line};

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
    /// The per-response ledger (state of the fold).
    pub ledger: Ledger,
    /// The last window a reading stated.
    pub stated_window: Option<u64>,
    /// The last log seq folded in.
    pub seq: u64,
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
            ledger: Ledger::default(),
            stated_window: None,
            seq: 0,
        }
    }

    /// Alerts of the current epoch (since the last compaction).
    pub fn armed(&self) -> &[AlertFired] {
        self.alerts.get(self.armed_from..).unwrap_or_default()
    }

    /// Folds one transcript line of source `key`.
    pub fn apply_line(&mut self, line: &[u8], subagent: bool, fixed_window: Option<u64>) {
        match read_line(line) {
            Seen::Response {
                key,
                model,
                sidechain,
                usage,
                at,
            } => {
                let side = subagent || sidechain;
                if !side {
                    let window = self.stated_window.unwrap_or(DEFAULT_WINDOW);
                    self.context = ContextNow::new(Some(usage.context()), window, fixed_window);
                }
                if at.is_some() {
                    if self.first.is_none() {
                        self.first.clone_from(&at);
                    }
                    self.last.clone_from(&at);
                }
                self.ledger.record(key, model, side, usage, at.as_deref());
            }
            Seen::Compaction if !subagent => self.compacted(),
            _ => {}
        }
    }

    fn compacted(&mut self) {
        self.context = ContextNow::new(None, self.context.window, None);
        self.armed_from = self.alerts.len();
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

/// Projects `tokens.json`.
#[derive(Clone, Debug, Default)]
pub struct TokensProjection {
    fixed_window: Option<u64>,
}

impl TokensProjection {
    /// `fixed_window` is the configured window, if any.
    pub fn new(fixed_window: Option<u64>) -> Self {
        Self { fixed_window }
    }

    /// Folds one envelope into its session's view.
    fn fold(&self, view: &mut TokensView, env: &Envelope) {
        match &env.event {
            Event::SessionStarted(s) => {
                view.agent_session_id = s.agent.as_ref().and_then(|a| a.session_id.clone());
            }
            Event::TranscriptCaptured(c) if c.source.kind == SourceKind::ClaudeCode => {
                let subagent = c.source.key != logbook_core::sessions::MAIN_SOURCE;
                for line in c.bytes.0.split_inclusive(|b| *b == b'\n') {
                    view.apply_line(line, subagent, self.fixed_window);
                }
            }
            Event::TokenUsageObserved(t) => {
                if t.window > 0 {
                    view.stated_window = Some(t.window);
                }
                let window = view.stated_window.unwrap_or(view.context.window);
                view.context = ContextNow::new(Some(t.used), window, self.fixed_window);
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
