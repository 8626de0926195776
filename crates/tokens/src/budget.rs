//! The context-window budget: how full the window is and which alert
//! thresholds are due.

use serde::{Deserialize, Serialize};

/// Claude Code's default window.
pub const DEFAULT_WINDOW: u64 = 200_000;

/// The extended window, assumed once usage exceeds the default.
pub const EXTENDED_WINDOW: u64 = 1_000_000;

/// Default alert thresholds, in percent of the window remaining.
pub const DEFAULT_THRESHOLDS: [u8; 4] = [18, 16, 14, 12];

/// When the built-in model windows were taken.
pub const WINDOWS_AS_OF: &str = "2026-11-21";

/// The window Gemini CLI measures every model's context against (its
/// `tokenLimit`, whose default and every listed model are 1,048,576): its
/// files state none, and Claude Code's 200,000 would warn a Gemini session
/// at a fifth of its room.
pub const GEMINI_WINDOW: u64 = 1_048_576;

/// Windows per model: what Claude Code's status line stated (2.1.328 said
/// 1,000,000 for `claude-opus-5-5`) and Gemini CLI's own limit; the first
/// entry whose key the model id contains wins. A model not listed has
/// [`DEFAULT_WINDOW`].
pub const BUILT_IN_WINDOWS: [(&str, u64); 2] = [
    ("claude-opus-5", EXTENDED_WINDOW),
    ("gemini", GEMINI_WINDOW),
];

/// The beta flag of a request for the extended window
/// (`context-1m-2025-08-07`).
const EXTENDED_BETA: &str = "context-1m";

/// The context window of each model, for sessions with no status line to
/// state it (Claude Code's `-p` and SDK runs): `config.toml`'s
/// `context_windows` (by model-id substring) over [`BUILT_IN_WINDOWS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelWindows {
    configured: Vec<(String, u64)>,
}

impl ModelWindows {
    /// The built-in table with `configured` entries over it.
    pub fn new(configured: impl IntoIterator<Item = (String, u64)>) -> Self {
        Self {
            configured: configured.into_iter().collect(),
        }
    }

    /// The window of `model`, asked for with `betas`: the extended window
    /// when a beta asks for it or the id says `[1m]` (Claude Code's alias
    /// form), else the tables; `None` when neither knows the model.
    pub fn window(&self, model: &str, betas: &[String]) -> Option<u64> {
        if betas.iter().any(|b| b.starts_with(EXTENDED_BETA)) || model.ends_with("[1m]") {
            return Some(EXTENDED_WINDOW);
        }
        self.configured
            .iter()
            .map(|(k, w)| (k.as_str(), *w))
            .chain(BUILT_IN_WINDOWS)
            .find(|(key, _)| model.contains(key))
            .map(|(_, window)| window)
    }
}

/// The context now.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextNow {
    /// Tokens in the context; unknown right after a compaction.
    pub used: Option<u64>,
    /// The window.
    pub window: u64,
    /// Percent of the window left.
    pub remaining_pct: Option<f64>,
}

impl ContextNow {
    /// `used` of `window`, the window widened to 1M when usage exceeds
    /// 200K (or `fixed` when configured).
    pub fn new(used: Option<u64>, window: u64, fixed: Option<u64>) -> Self {
        let window = fixed.unwrap_or(match used {
            Some(u) if u > window && window <= DEFAULT_WINDOW => EXTENDED_WINDOW,
            _ => window.max(1),
        });
        Self {
            used,
            window,
            remaining_pct: used.map(|u| remaining(u, window)),
        }
    }
}

/// Percent left of `window` with `used` tokens in it, rounded to 0.1.
pub fn remaining(used: u64, window: u64) -> f64 {
    let left = 100.0 * (1.0 - used as f64 / window.max(1) as f64);
    (left.clamp(0.0, 100.0) * 10.0).round() / 10.0
}

/// An alert that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFired {
    /// The threshold, percent remaining.
    pub threshold: u8,
    /// Percent remaining when it fired.
    pub remaining_pct: f64,
    /// When.
    pub at: String,
}

/// The thresholds `remaining_pct` has crossed that have not fired since
/// `armed` (what fired since the last compaction), highest first: the order
/// they fire in.
pub fn due(remaining_pct: f64, thresholds: &[u8], armed: &[AlertFired]) -> Vec<u8> {
    let mut out: Vec<u8> = thresholds
        .iter()
        .copied()
        .filter(|t| remaining_pct <= f64::from(*t))
        .filter(|t| !armed.iter().any(|a| a.threshold == *t))
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_models_window_from_its_betas_its_id_or_the_tables() {
        let windows = ModelWindows::new([("sonnet-9".to_owned(), 500_000)]);
        let none: &[String] = &[];
        assert_eq!(
            windows.window("claude-opus-5-5", none),
            Some(EXTENDED_WINDOW)
        );
        assert_eq!(windows.window("claude-sonnet-9-1", none), Some(500_000));
        assert_eq!(windows.window("claude-sonnet-4-5", none), None);
        assert_eq!(
            windows.window("claude-sonnet-4-5", &["context-1m-2025-08-07".to_owned()]),
            Some(EXTENDED_WINDOW)
        );
        assert_eq!(
            windows.window("claude-sonnet-4-5[1m]", none),
            Some(EXTENDED_WINDOW)
        );
        // Gemini CLI's own limit, for models it names and ones it does not.
        assert_eq!(windows.window("gemini-2.5-flash", none), Some(1_048_576));
        assert_eq!(
            windows.window("gemini-3-pro-preview", none),
            Some(GEMINI_WINDOW)
        );
        // What the user configured wins over the built-in table.
        let mine = ModelWindows::new([("opus-5".to_owned(), 300_000)]);
        assert_eq!(mine.window("claude-opus-5-5", none), Some(300_000));
    }

    #[test]
    fn the_window_widens_past_200k_unless_fixed() {
        assert_eq!(
            ContextNow::new(Some(150_000), DEFAULT_WINDOW, None).window,
            200_000
        );
        assert_eq!(
            ContextNow::new(Some(250_000), DEFAULT_WINDOW, None).window,
            1_000_000
        );
        assert_eq!(
            ContextNow::new(Some(250_000), DEFAULT_WINDOW, Some(400_000)).window,
            400_000
        );
        assert_eq!(
            ContextNow::new(Some(164_000), 200_000, None).remaining_pct,
            Some(18.0)
        );
        assert_eq!(ContextNow::new(None, 200_000, None).remaining_pct, None);
    }

    #[test]
    fn thresholds_fire_once_highest_first() {
        let fired = |t: u8| AlertFired {
            threshold: t,
            remaining_pct: 0.0,
            at: String::new(),
        };
        assert_eq!(due(20.0, &DEFAULT_THRESHOLDS, &[]), Vec::<u8>::new());
        assert_eq!(due(15.0, &DEFAULT_THRESHOLDS, &[]), vec![18, 16]);
        assert_eq!(due(15.0, &DEFAULT_THRESHOLDS, &[fired(18)]), vec![16]);
        assert_eq!(
            due(5.0, &DEFAULT_THRESHOLDS, &[fired(18), fired(16)]),
            vec![14, 12]
        );
    }
}
