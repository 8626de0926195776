//! Token figures on demand: `logbook tokens`, budget alerts (raised by the
//! Stop hook and the status line), and the status line's recording.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use logbook_core::{BudgetAlert, Event, SessionId, Timestamp};
use logbook_tokens::budget::{DEFAULT_WINDOW, due};
use logbook_tokens::pricing::{PRICES_AS_OF, Price, cost, price_of};
use logbook_tokens::projection::{TokensView, missing_from_transcript, tokens_path};
use logbook_tokens::usage::Totals;
use serde::Serialize;

use crate::request::{TokensArgs, TokensBy};
use crate::workspace::Workspace;

/// A session's `tokens.json`, if projected.
pub fn view_of(ws: &Workspace, id: SessionId) -> crate::Result<Option<Arc<TokensView>>> {
    Ok(ws.read_json::<TokensView>(&tokens_path(id))?)
}

/// Appends a `BudgetAlert` for each threshold `session` has newly crossed
/// (once per threshold until a compaction re-arms it) and keeps them for
/// the session's next `Stop` to say; returns them as `(threshold,
/// remaining_pct)`, highest first.
pub async fn raise_alerts(ws: &Workspace, session: SessionId) -> crate::Result<Vec<(u8, f64)>> {
    let Some(view) = view_of(ws, session)? else {
        return Ok(Vec::new());
    };
    let Some(remaining) = view.context.remaining_pct else {
        return Ok(Vec::new());
    };
    let crossed = due(remaining, &ws.config().budget_thresholds, view.armed());
    if crossed.is_empty() {
        return Ok(Vec::new());
    }
    let alerts = crossed
        .iter()
        .map(|threshold| {
            Event::BudgetAlert(BudgetAlert {
                threshold: *threshold,
                remaining_pct: remaining,
            })
        })
        .collect();
    ws.record(session, alerts).await?;
    let raised: Vec<(u8, f64)> = crossed.into_iter().map(|t| (t, remaining)).collect();
    ws.keep_unsaid(session, &raised);
    Ok(raised)
}

/// The hook output that shows the user a newly crossed threshold.
pub fn system_message(alerts: &[(u8, f64)]) -> Option<String> {
    let (threshold, remaining) = alerts.last()?;
    let message = format!(
        "logbook: {remaining:.0}% of the context window left (below {threshold}%). \
         Consider /compact, or wrap up: the next session gets a handoff."
    );
    Some(format!(
        "{}\n",
        serde_json::json!({ "systemMessage": message })
    ))
}

/// What a row groups by: session, agent session, day, model, agent.
type RowKey = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// One row of `logbook tokens`.
#[derive(Debug, Serialize)]
struct Row {
    session_id: Option<String>,
    agent_session_id: Option<String>,
    day: Option<String>,
    model: Option<String>,
    /// The agent (`claude-code`, `codex`, `gemini`), for rows by session
    /// or by agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    input: u64,
    output: u64,
    cache_creation: u64,
    cache_read: u64,
    responses: u64,
    models: Vec<String>,
    first: Option<String>,
    last: Option<String>,
    cost_usd_estimate: Option<f64>,
}

fn add_cost(
    cost_so_far: &mut Option<f64>,
    totals: &Totals,
    model: &str,
    pricing: &[(String, Price)],
) {
    if let Some(price) = price_of(model, pricing) {
        *cost_so_far = Some(cost_so_far.unwrap_or(0.0) + cost(totals, &price));
    }
}

fn row(key: RowKey) -> Row {
    Row {
        session_id: key.0,
        agent_session_id: key.1,
        day: key.2,
        model: key.3,
        agent: key.4,
        input: 0,
        output: 0,
        cache_creation: 0,
        cache_read: 0,
        responses: 0,
        models: Vec::new(),
        first: None,
        last: None,
        cost_usd_estimate: None,
    }
}

impl Row {
    fn add(&mut self, t: &Totals) {
        self.input = self.input.saturating_add(t.input);
        self.output = self.output.saturating_add(t.output);
        self.cache_creation = self.cache_creation.saturating_add(t.cache_creation);
        self.cache_read = self.cache_read.saturating_add(t.cache_read);
        self.responses = self.responses.saturating_add(t.responses);
    }

    fn span(&mut self, first: &Option<String>, last: &Option<String>) {
        if first.is_some() && (self.first.is_none() || first < &self.first) {
            self.first.clone_from(first);
        }
        if last.is_some() && last > &self.last {
            self.last.clone_from(last);
        }
    }
}

/// Every view, with the tokens Claude Code counted beyond a conversation's
/// transcript added to the session that reported them: a conversation's
/// totals then equal Claude Code's own.
fn reconciled(views: &[Arc<TokensView>]) -> Vec<Arc<TokensView>> {
    let mut conversations: BTreeMap<&str, Vec<&TokensView>> = BTreeMap::new();
    for v in views {
        if let Some(agent) = &v.agent_session_id {
            conversations.entry(agent).or_default().push(v);
        }
    }
    let extras: BTreeMap<SessionId, BTreeMap<String, Totals>> = conversations
        .values()
        .filter_map(|sessions| missing_from_transcript(sessions))
        .collect();
    views
        .iter()
        .map(|v| match extras.get(&v.session_id) {
            Some(extra) => Arc::new(v.with_extra(extra)),
            None => Arc::clone(v),
        })
        .collect()
}

/// The agent a session recorded (`other` for sessions of no known agent:
/// commands whose terminal output was captured).
fn agent_of(view: &TokensView) -> String {
    view.agent.clone().unwrap_or_else(|| "other".into())
}

/// Runs `tokens`.
pub async fn tokens(
    ws: &Workspace,
    args: TokensArgs,
    out: &mut dyn Write,
    terminal: bool,
) -> crate::Result<u8> {
    let since = args
        .since
        .as_deref()
        .map(Timestamp::parse)
        .transpose()
        .map_err(|e| crate::error::EngineError::usage(e.to_string()))?;
    let since_text = since.map(|t| t.to_string());
    let only = args.session.as_deref().map(|t| ws.resolve(t)).transpose()?;
    let mut views = Vec::new();
    for id in logbook_core::EventLog::sessions(ws.log()).await? {
        if let Some(view) = view_of(ws, id)? {
            views.push(view);
        }
    }
    let views = reconciled(&views);
    let pricing: Vec<(String, Price)> = ws.config().pricing.clone().into_iter().collect();
    let mut rows: BTreeMap<RowKey, Row> = BTreeMap::new();
    for view in views {
        let id = view.session_id;
        if only.is_some_and(|o| o != id) {
            continue;
        }
        if view.totals.all() == 0 && args.session.is_none() {
            continue;
        }
        let models: Vec<String> = view.by_model.keys().cloned().collect();
        match args.by {
            TokensBy::Day => {
                for (day, totals) in &view.by_day {
                    if since_text.as_ref().is_some_and(|s| day.as_str() < &s[..10]) {
                        continue;
                    }
                    let r = rows
                        .entry((None, None, Some(day.clone()), None, None))
                        .or_insert_with_key(|k| row(k.clone()));
                    r.add(totals);
                    // A day's cost uses the session's model mix.
                    for (model, t) in &view.by_model {
                        let scale = if view.totals.all() == 0 {
                            0.0
                        } else {
                            totals.all() as f64 / view.totals.all() as f64
                        };
                        if let Some(price) = price_of(model, &pricing) {
                            *r.cost_usd_estimate.get_or_insert(0.0) += cost(t, &price) * scale;
                        }
                    }
                    for m in &models {
                        if !r.models.contains(m) {
                            r.models.push(m.clone());
                        }
                    }
                }
            }
            TokensBy::Model => {
                if since_text
                    .as_ref()
                    .is_some_and(|s| view.last.as_ref().is_some_and(|l| l < s))
                {
                    continue;
                }
                for (model, totals) in &view.by_model {
                    let r = rows
                        .entry((None, None, None, Some(model.clone()), None))
                        .or_insert_with_key(|k| row(k.clone()));
                    r.add(totals);
                    r.span(&view.first, &view.last);
                    add_cost(&mut r.cost_usd_estimate, totals, model, &pricing);
                    if !r.models.contains(model) {
                        r.models.push(model.clone());
                    }
                }
            }
            TokensBy::Session | TokensBy::AgentSession | TokensBy::Agent => {
                if since_text
                    .as_ref()
                    .is_some_and(|s| view.last.as_ref().is_some_and(|l| l < s))
                {
                    continue;
                }
                let agent = Some(agent_of(&view));
                let key = match args.by {
                    TokensBy::Session => (
                        Some(id.to_string()),
                        view.agent_session_id.clone(),
                        None,
                        None,
                        agent,
                    ),
                    TokensBy::Agent => (None, None, None, None, agent),
                    _ => (
                        None,
                        view.agent_session_id
                            .clone()
                            .or_else(|| Some(id.to_string())),
                        None,
                        None,
                        agent,
                    ),
                };
                let r = rows.entry(key).or_insert_with_key(|k| row(k.clone()));
                r.add(&view.totals);
                r.span(&view.first, &view.last);
                for (model, totals) in &view.by_model {
                    add_cost(&mut r.cost_usd_estimate, totals, model, &pricing);
                }
                for m in models {
                    if !r.models.contains(&m) {
                        r.models.push(m);
                    }
                }
            }
        }
    }
    let rows: Vec<Row> = rows.into_values().collect();
    if args.json.json || !terminal {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<38} {:>10} {:>10} {:>12} {:>14} {:>9} {:>10}",
            "", "input", "output", "cache write", "cache read", "responses", "cost*"
        )?;
        for r in &rows {
            let label = r
                .session_id
                .clone()
                .or_else(|| r.agent_session_id.clone())
                .or_else(|| r.day.clone())
                .or_else(|| r.model.clone())
                .or_else(|| r.agent.clone())
                .unwrap_or_default();
            writeln!(
                out,
                "{label:<38} {:>10} {:>10} {:>12} {:>14} {:>9} {:>10}",
                r.input,
                r.output,
                r.cache_creation,
                r.cache_read,
                r.responses,
                r.cost_usd_estimate
                    .map_or("-".into(), |c| format!("${c:.2}"))
            )?;
        }
        writeln!(
            out,
            "* estimated at list prices of {PRICES_AS_OF} (config [pricing] overrides)"
        )?;
    }
    Ok(0)
}

/// The window a status-line input states, else the default.
pub fn stated_window(input: &serde_json::Value) -> u64 {
    input
        .get("context_window")
        .and_then(|w| w.get("context_window_size"))
        .and_then(serde_json::Value::as_u64)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_WINDOW)
}
