//! Estimated costs: USD per million tokens, by model family.
//!
//! The table is Anthropic's list prices as published on the date below;
//! a `[pricing]` table in `config.toml` overrides or extends it. Costs are
//! estimates: discounts, batch pricing and long-context surcharges are not
//! modelled.

use serde::{Deserialize, Serialize};

use crate::usage::Totals;

/// When the built-in prices were taken.
pub const PRICES_AS_OF: &str = "2025-11-24";

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Fresh input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cache writes (5-minute cache).
    pub cache_creation: f64,
    /// Cache reads.
    pub cache_read: f64,
}

/// Built-in prices; the first entry whose key the model id contains wins.
pub const BUILT_IN: [(&str, Price); 6] = [
    (
        "opus-4-5",
        Price {
            input: 5.0,
            output: 25.0,
            cache_creation: 6.25,
            cache_read: 0.5,
        },
    ),
    (
        "opus",
        Price {
            input: 15.0,
            output: 75.0,
            cache_creation: 18.75,
            cache_read: 1.5,
        },
    ),
    (
        "sonnet",
        Price {
            input: 3.0,
            output: 15.0,
            cache_creation: 3.75,
            cache_read: 0.3,
        },
    ),
    (
        "haiku-4",
        Price {
            input: 1.0,
            output: 5.0,
            cache_creation: 1.25,
            cache_read: 0.1,
        },
    ),
    (
        "haiku-3-5",
        Price {
            input: 0.8,
            output: 4.0,
            cache_creation: 1.0,
            cache_read: 0.08,
        },
    ),
    (
        "haiku",
        Price {
            input: 0.25,
            output: 1.25,
            cache_creation: 0.3,
            cache_read: 0.03,
        },
    ),
];

/// The price of `model`: `overrides` first (longest matching key), then
/// the built-in table; `None` for a model nobody priced.
pub fn price_of(model: &str, overrides: &[(String, Price)]) -> Option<Price> {
    overrides
        .iter()
        .filter(|(key, _)| model.contains(key.as_str()))
        .max_by_key(|(key, _)| key.len())
        .map(|(_, p)| *p)
        .or_else(|| {
            BUILT_IN
                .iter()
                .find(|(key, _)| model.contains(key))
                .map(|(_, p)| *p)
        })
}

/// Estimated USD for `totals` at `price`.
pub fn cost(totals: &Totals, price: &Price) -> f64 {
    (totals.input as f64 * price.input
        + totals.output as f64 * price.output
        + totals.cache_creation as f64 * price.cache_creation
        + totals.cache_read as f64 * price.cache_read)
        / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_by_family_and_overrides_win() {
        assert_eq!(
            price_of("claude-sonnet-4-5-20250929", &[]).map(|p| p.input),
            Some(3.0)
        );
        assert_eq!(
            price_of("claude-opus-4-5-20251101", &[]).map(|p| p.output),
            Some(25.0)
        );
        assert_eq!(
            price_of("claude-opus-4-1-20250805", &[]).map(|p| p.output),
            Some(75.0)
        );
        assert_eq!(price_of("gpt-9", &[]), None);
        let mine = Price {
            input: 1.0,
            output: 1.0,
            cache_creation: 1.0,
            cache_read: 1.0,
        };
        assert_eq!(
            price_of("claude-sonnet-4-5", &[("sonnet-4-5".into(), mine)]),
            Some(mine)
        );
        let t = Totals {
            input: 1_000_000,
            output: 1_000_000,
            cache_creation: 0,
            cache_read: 0,
            responses: 1,
        };
        assert!((cost(&t, &BUILT_IN[2].1) - 18.0).abs() < 1e-9);
    }
}
