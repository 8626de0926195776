//! `logbook statusline`: Claude Code's status-line command. It reads the
//! status-line JSON on stdin and prints one short line; on any problem it
//! still prints a line and exits 0, because a status line that errors is
//! worse than one that says less.

use std::path::Path;

use logbook_core::sessions::SessionStatus;
use logbook_core::{Event, TokenUsageObserved, UsageSource};
use serde_json::Value;

use crate::error::EngineError;
use crate::workspace::{Workspace, discover_store};

/// Claude Code's default context window.
const DEFAULT_WINDOW: f64 = 200_000.0;

/// The tokens in the context window, exact: input, cache creation and
/// cache read of the last response as `current_usage` states them. `None`
/// when there is no reading yet (`current_usage: null` before the first
/// reply and after `/clear` or `/compact`).
pub fn used_tokens(input: &Value) -> Option<u64> {
    let usage = input
        .get("context_window")?
        .get("current_usage")
        .filter(|u| u.is_object())?;
    Some(
        [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .filter_map(|k| usage.get(*k).and_then(Value::as_u64))
        .sum(),
    )
}

/// The percentage of the window in use: from the exact `current_usage`
/// when the input has it (Claude Code's `used_percentage` is rounded to a
/// whole percent, 10,000 tokens on a 1M window), else from
/// `used_percentage`; `None` when neither is a reading.
pub fn used_percentage(input: &Value) -> Option<f64> {
    let window = input.get("context_window");
    if let Some(used) = used_tokens(input) {
        let size = window
            .and_then(|w| w.get("context_window_size"))
            .and_then(Value::as_f64)
            .filter(|s| *s > 0.0)
            .unwrap_or(DEFAULT_WINDOW);
        return Some(100.0 * used as f64 / size);
    }
    window
        .and_then(|w| w.get("used_percentage"))
        .and_then(Value::as_f64)
}

/// The line for `input`.
pub fn line(input: &Value) -> String {
    let model = input
        .get("model")
        .and_then(|m| m.get("display_name").or_else(|| m.get("id")))
        .and_then(Value::as_str)
        .unwrap_or("claude");
    match used_percentage(input) {
        Some(pct) => {
            let pct = pct.clamp(0.0, 100.0);
            format!("{model} · context {pct:.0}% used, {:.0}% left", 100.0 - pct)
        }
        None => format!("{model} · context unknown"),
    }
}

/// Where the status line's store is: as for hooks, from the project the
/// input names (`workspace.current_dir`, else `cwd`).
pub fn store_for_input(
    explicit: Option<&Path>,
    cwd: &Path,
    raw: &[u8],
) -> Result<std::path::PathBuf, crate::UsageError> {
    let input = serde_json::from_slice::<Value>(raw).unwrap_or(Value::Null);
    let project = input
        .get("workspace")
        .and_then(|w| w.get("current_dir"))
        .or_else(|| input.get("cwd"))
        .and_then(Value::as_str)
        .map(Path::new)
        .filter(|p| p.is_absolute())
        .unwrap_or(cwd);
    discover_store(explicit, project)
}

/// Runs `statusline` against an open store: records the reading against
/// the conversation's session (when it changed), raises alerts and returns
/// the line. Never fails: problems go to `<store>/logbook.log`.
pub async fn statusline(ws: &Workspace, raw: &[u8]) -> String {
    let input = serde_json::from_slice::<Value>(raw).unwrap_or(Value::Null);
    let mut text = line(&input);
    let _lane = ws.lane().await;
    match record(ws, &input).await {
        Ok(Some(marker)) => text.push_str(&marker),
        Ok(None) => {}
        Err(e) if input.is_null() => crate::claude::hook::log_failure(
            ws.root(),
            "statusline",
            &EngineError::Context {
                context: "status line input is not JSON".into(),
                source: Box::new(e),
            },
        ),
        Err(e) => crate::claude::hook::log_failure(ws.root(), "statusline", &e),
    }
    // Said where the user looks: below the margin nothing is recorded, and
    // hooks wait in the spool.
    if let Some((free, margin)) = ws.log().free_space()
        && free < margin
    {
        text.push_str(" · ⚠ logbook: disk full, not recording");
    }
    text
}

/// Records the reading and raises alerts (the session's next `Stop` says
/// them); returns the marker to show when the context is below a threshold.
async fn record(ws: &Workspace, input: &Value) -> crate::Result<Option<String>> {
    let agent = input.get("session_id").and_then(Value::as_str);
    let Some(agent) = agent.filter(|a| crate::claude::hook::valid_agent_id(a)) else {
        if input.is_null() {
            return Err(EngineError::failed("no status-line input"));
        }
        return Ok(None);
    };
    let Some(pct) = used_percentage(input) else {
        return Ok(None);
    };
    let Some(session) = ws
        .newest(|v| {
            v.status == SessionStatus::Active
                && v.agent.as_ref().and_then(|a| a.session_id.as_deref()) == Some(agent)
        })
        .await?
        .map(|v| v.session_id)
    else {
        return Ok(None);
    };
    let window = crate::ops::tokens::stated_window(input);
    let used = used_tokens(input)
        .unwrap_or_else(|| (pct.clamp(0.0, 100.0) / 100.0 * window as f64).round() as u64);
    let known = crate::ops::tokens::view_of(ws, session)?;
    let changed = known
        .as_ref()
        .is_none_or(|v| v.context.used != Some(used) || v.stated_window != Some(window));
    if changed {
        let reading = Event::TokenUsageObserved(TokenUsageObserved {
            used,
            window,
            source: UsageSource::StatusLine,
        });
        ws.record(session, vec![reading]).await?;
    }
    crate::ops::tokens::raise_alerts(ws, session).await?;
    ws.flush()?;
    let remaining = 100.0 - pct;
    let highest = ws.config().budget_thresholds.iter().max().copied();
    Ok(highest
        .filter(|t| remaining <= f64::from(*t))
        .map(|_| " ⚠ low context".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NO_READING: &str = include_str!(
        "../../../../tests/fixtures/claude-code-2.1.328/hooks/statusline-no-reading.json"
    );
    const READING: &str = include_str!(
        "../../../../tests/fixtures/claude-code-2.1.328/hooks/statusline-reading.json"
    );

    #[test]
    fn a_null_reading_is_unknown_not_zero() {
        // Claude Code 2.1.328 before its first reply: every figure null.
        let input: Value = serde_json::from_str(NO_READING).unwrap();
        assert_eq!(used_tokens(&input), None);
        assert_eq!(used_percentage(&input), None);
        assert_eq!(line(&input), "Opus 5.5 · context unknown");
    }

    #[test]
    fn the_exact_usage_wins_over_the_rounded_percentage() {
        // 402 + 700 + 7,400 of 1,000,000: 0.85 %, which Claude Code rounds to 1.
        let input: Value = serde_json::from_str(READING).unwrap();
        assert_eq!(used_tokens(&input), Some(8_502));
        let pct = used_percentage(&input).unwrap();
        assert!((pct - 0.8502).abs() < 1e-9, "{pct}");
        assert_eq!(line(&input), "Opus 5.5 · context 1% used, 99% left");
    }

    #[test]
    fn uses_the_given_percentage_or_computes_it() {
        let new =
            json!({"model":{"display_name":"Opus"},"context_window":{"used_percentage":42.4}});
        assert_eq!(line(&new), "Opus · context 42% used, 58% left");
        let old = json!({"context_window":{"context_window_size":200000,"current_usage":{"input_tokens":1000,"cache_creation_input_tokens":9000,"cache_read_input_tokens":40000}}});
        assert_eq!(used_percentage(&old), Some(25.0));
        assert_eq!(line(&Value::Null), "claude · context unknown");
    }
}
