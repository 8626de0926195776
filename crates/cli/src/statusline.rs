//! `logbook statusline`: Claude Code's status-line command. It reads the
//! status-line JSON on stdin and prints one short line; on any problem it
//! still prints a line and exits 0, because a status line that errors is
//! worse than one that says less.

use std::io::{Read, Write};
use std::process::ExitCode;

use serde_json::Value;

/// Claude Code's default context window.
const DEFAULT_WINDOW: f64 = 200_000.0;

/// The percentage of the window in use, from `used_percentage` when the
/// input has it, else computed from `current_usage` (older versions).
pub fn used_percentage(input: &Value) -> Option<f64> {
    let window = input.get("context_window");
    if let Some(pct) = window
        .and_then(|w| w.get("used_percentage"))
        .and_then(Value::as_f64)
    {
        return Some(pct);
    }
    let usage = window.and_then(|w| w.get("current_usage"))?;
    let used: f64 = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|k| usage.get(*k).and_then(Value::as_f64))
    .sum();
    let size = window
        .and_then(|w| w.get("context_window_size"))
        .and_then(Value::as_f64)
        .filter(|s| *s > 0.0)
        .unwrap_or(DEFAULT_WINDOW);
    Some(100.0 * used / size)
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

/// Runs `statusline`. Always exits 0.
pub fn statusline(out: &mut dyn Write) -> ExitCode {
    let mut raw = Vec::new();
    let _ = std::io::stdin().take(1 << 20).read_to_end(&mut raw);
    let input = serde_json::from_slice::<Value>(&raw).unwrap_or(Value::Null);
    let _ = writeln!(out, "{}", line(&input)).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
