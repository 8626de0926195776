//! Counting usage once per API response.
//!
//! Claude Code writes one response as several assistant lines (one content
//! block each) sharing `message.id` and `requestId`; some versions repeat
//! the final usage on every line, others let `output_tokens` grow line by
//! line. Taking the *last* line's usage per response is right for both. The
//! lines of a response are adjacent or nearly so, so only a bounded window
//! of recent responses is kept open; older ones are final.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many responses stay open to a later line before they are final.
pub const OPEN_RESPONSES: usize = 64;

/// Token counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Fresh input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Tokens read from the prompt cache.
    pub cache_read: u64,
    /// API responses counted.
    pub responses: u64,
}

// Usage figures come from files anyone can write: sums saturate at
// u64::MAX instead of wrapping (or panicking) on a hostile value.
impl Totals {
    fn add(&mut self, u: &Usage) {
        *self = self.plus(&Totals {
            input: u.input_tokens,
            output: u.output_tokens,
            cache_creation: u.cache_creation_input_tokens,
            cache_read: u.cache_read_input_tokens,
            responses: 1,
        });
    }

    /// `self + other`.
    pub fn plus(mut self, other: &Totals) -> Totals {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.responses = self.responses.saturating_add(other.responses);
        self
    }

    /// All tokens.
    pub fn all(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_creation)
            .saturating_add(self.cache_read)
    }
}

/// The usage block of an assistant message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Fresh input.
    pub input_tokens: u64,
    /// Output.
    pub output_tokens: u64,
    /// Cache writes.
    pub cache_creation_input_tokens: u64,
    /// Cache reads.
    pub cache_read_input_tokens: u64,
}

impl From<logbook_agents::Tokens> for Usage {
    fn from(t: logbook_agents::Tokens) -> Self {
        Usage {
            input_tokens: t.input,
            output_tokens: t.output,
            cache_creation_input_tokens: t.cache_creation,
            cache_read_input_tokens: t.cache_read,
        }
    }
}

impl From<&logbook_agents::record::Reported> for Reported {
    fn from(r: &logbook_agents::record::Reported) -> Self {
        Reported {
            by_model: r
                .by_model
                .iter()
                .map(|(model, t)| {
                    let totals = Totals {
                        input: t.input,
                        output: t.output,
                        cache_creation: t.cache_creation,
                        cache_read: t.cache_read,
                        responses: 0,
                    };
                    (model.clone(), totals)
                })
                .collect(),
            cost_usd: r.cost_usd,
        }
    }
}

impl Usage {
    /// What the model had in its context for this response.
    pub fn context(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }
}

/// The agent's own running account of a conversation: Claude Code's
/// `cost-state` records (2.1.x): cumulative per model since the
/// conversation began, across processes (`--resume` restores it), and
/// counting calls no assistant record carries (compaction summaries, side
/// calls).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reported {
    /// Per model (`responses` is not reported and stays 0).
    pub by_model: BTreeMap<String, Totals>,
    /// `totalCostUSD`, as Claude Code priced it.
    pub cost_usd: Option<f64>,
}

impl Reported {
    /// What Claude Code counted beyond `counted` (per model, each field at
    /// least 0): the calls missing from the transcript.
    pub fn beyond(&self, counted: &BTreeMap<String, Totals>) -> BTreeMap<String, Totals> {
        let mut out = BTreeMap::new();
        for (model, reported) in &self.by_model {
            let seen = counted.get(model).copied().unwrap_or_default();
            let extra = Totals {
                input: reported.input.saturating_sub(seen.input),
                output: reported.output.saturating_sub(seen.output),
                cache_creation: reported.cache_creation.saturating_sub(seen.cache_creation),
                cache_read: reported.cache_read.saturating_sub(seen.cache_read),
                responses: 0,
            };
            if extra.all() > 0 {
                out.insert(model.clone(), extra);
            }
        }
        out
    }
}

/// A response still open to later lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    /// `message.id:requestId`.
    pub key: String,
    /// Model.
    pub model: String,
    /// A subagent's.
    pub sidechain: bool,
    /// The last line's usage so far.
    pub usage: Usage,
    /// The day (`YYYY-MM-DD`) of its first line, if known.
    pub day: Option<String>,
}

/// Usage of a session, accumulated line by line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Final responses, main chain.
    pub main: Totals,
    /// Final responses, sidechains.
    pub sidechains: Totals,
    /// Final responses per model (both chains).
    pub by_model: BTreeMap<String, Totals>,
    /// Final responses per day of their first line (both chains).
    pub by_day: BTreeMap<String, Totals>,
    /// Recent responses that a later line may still update, oldest first.
    pub open: Vec<Open>,
}

impl Ledger {
    /// Counts one response line.
    pub fn record(
        &mut self,
        key: Option<String>,
        model: String,
        sidechain: bool,
        usage: Usage,
        at: Option<&str>,
    ) {
        let day = at.and_then(|t| t.get(..10)).map(str::to_owned);
        let Some(key) = key else {
            self.finalize(&model, sidechain, &usage, day.as_deref());
            return;
        };
        if let Some(open) = self.open.iter_mut().find(|o| o.key == key) {
            open.usage = usage;
            return;
        }
        self.open.push(Open {
            key,
            model,
            sidechain,
            usage,
            day,
        });
        if self.open.len() > OPEN_RESPONSES {
            let oldest = self.open.remove(0);
            self.finalize(
                &oldest.model,
                oldest.sidechain,
                &oldest.usage,
                oldest.day.as_deref(),
            );
        }
    }

    fn finalize(&mut self, model: &str, sidechain: bool, usage: &Usage, day: Option<&str>) {
        self.by_day
            .entry(day.unwrap_or("unknown").to_owned())
            .or_default()
            .add(usage);
        if sidechain {
            self.sidechains.add(usage);
        } else {
            self.main.add(usage);
        }
        self.by_model
            .entry(model.to_owned())
            .or_default()
            .add(usage);
    }

    /// Main-chain totals, open responses included.
    pub fn main_totals(&self) -> Totals {
        self.with_open(self.main, |o| !o.sidechain)
    }

    /// Sidechain totals, open responses included.
    pub fn sidechain_totals(&self) -> Totals {
        self.with_open(self.sidechains, |o| o.sidechain)
    }

    /// Per model, open responses included.
    pub fn models(&self) -> BTreeMap<String, Totals> {
        let mut out = self.by_model.clone();
        for o in &self.open {
            out.entry(o.model.clone()).or_default().add(&o.usage);
        }
        out
    }

    /// Per day, open responses included.
    pub fn days(&self) -> BTreeMap<String, Totals> {
        let mut out = self.by_day.clone();
        for o in &self.open {
            out.entry(o.day.clone().unwrap_or_else(|| "unknown".into()))
                .or_default()
                .add(&o.usage);
        }
        out
    }

    fn with_open(&self, base: Totals, pick: impl Fn(&Open) -> bool) -> Totals {
        let mut t = base;
        for o in self.open.iter().filter(|o| pick(o)) {
            t.add(&o.usage);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbook_agents::{Item, claude};

    /// The usage a Claude Code line states, as the tokens fold takes it.
    fn response(text: &str) -> Option<(Option<String>, String, bool, Usage)> {
        let record = claude::read(text.as_bytes())?;
        record.items.iter().find_map(|item| match item {
            Item::Usage(u) => Some((
                u.key.clone(),
                u.model.clone().unwrap_or_default(),
                record.sidechain,
                Usage::from(u.tokens),
            )),
            _ => None,
        })
    }

    #[test]
    fn usage_near_the_top_of_u64_saturates_instead_of_wrapping() {
        let near = u64::MAX - 5;
        let text = format!(
            r#"{{"type":"assistant","requestId":"r","message":{{"id":"m","model":"claude-x","usage":{{"input_tokens":{near},"output_tokens":{near},"cache_creation_input_tokens":{near},"cache_read_input_tokens":{near}}}}}}}"#
        );
        let Some((_, _, _, usage)) = response(&text) else {
            panic!("not a response");
        };
        assert_eq!(usage.context(), u64::MAX);
        let once = Totals {
            input: near,
            output: near,
            cache_creation: near,
            cache_read: near,
            responses: 1,
        };
        let twice = once.plus(&once);
        assert_eq!(twice.input, u64::MAX);
        assert_eq!(twice.all(), u64::MAX);
    }

    fn line(id: &str, out: u64, side: bool) -> String {
        format!(
            r#"{{"type":"assistant","isSidechain":{side},"requestId":"r-{id}","message":{{"id":"m-{id}","model":"claude-x","usage":{{"input_tokens":10,"output_tokens":{out},"cache_creation_input_tokens":5,"cache_read_input_tokens":100}}}}}}"#
        )
    }

    fn feed(ledger: &mut Ledger, text: &str) {
        if let Some((key, model, sidechain, usage)) = response(text) {
            ledger.record(key, model, sidechain, usage, None);
        }
    }

    #[test]
    fn growing_and_repeated_shapes_count_the_same() {
        let mut growing = Ledger::default();
        let mut repeated = Ledger::default();
        for n in 0..200 {
            let id = n.to_string();
            for out in [3, 9, 500] {
                feed(&mut growing, &line(&id, out, n % 3 == 0));
                feed(&mut repeated, &line(&id, 500, n % 3 == 0));
            }
        }
        assert_eq!(growing.main_totals(), repeated.main_totals());
        assert_eq!(growing.sidechain_totals(), repeated.sidechain_totals());
        let all = growing.main_totals().plus(&growing.sidechain_totals());
        assert_eq!(all.responses, 200);
        assert_eq!(all.output, 200 * 500);
        assert_eq!(growing.models()["claude-x"], all);
    }

    #[test]
    fn synthetic_and_other_records_are_skipped() {
        let mut l = Ledger::default();
        feed(
            &mut l,
            r#"{"type":"assistant","message":{"model":"<synthetic>","usage":{"input_tokens":99}}}"#,
        );
        feed(
            &mut l,
            r#"{"type":"user","message":{"usage":{"input_tokens":99}}}"#,
        );
        feed(&mut l, "garbage \"usage\"");
        assert_eq!(l.main_totals(), Totals::default());
        let boundary = claude::read(br#"{"type":"system","subtype":"compact_boundary"}"#);
        assert_eq!(boundary.map(|r| r.items), Some(vec![Item::Compaction]));
    }

    #[test]
    fn cost_state_is_claude_codes_account_and_the_rest_is_what_it_adds() {
        let line = br#"{"type":"cost-state","sessionId":"s","totalCostUSD":0.0024,"modelUsage":{"claude-x":{"inputTokens":300,"outputTokens":60,"thinkingTokens":0,"cacheReadInputTokens":7,"cacheCreationInputTokens":0,"costUSD":0.0024,"newField":1}},"unknown":true}"#;
        let Some(Item::Reported(r)) = claude::read(line).and_then(|r| r.items.into_iter().next())
        else {
            panic!("not read as a cost-state");
        };
        let r = Reported::from(&r);
        assert_eq!(r.cost_usd, Some(0.0024));
        assert_eq!(r.by_model["claude-x"].input, 300);
        let counted = BTreeMap::from([(
            "claude-x".to_owned(),
            Totals {
                input: 100,
                output: 80,
                cache_creation: 0,
                cache_read: 7,
                responses: 1,
            },
        )]);
        let extra = r.beyond(&counted);
        assert_eq!(extra["claude-x"].input, 200);
        assert_eq!(extra["claude-x"].output, 0, "never below what was seen");
        // A user line that merely mentions the type is not one.
        let mention = claude::read(br#"{"type":"user","message":{"content":"\"cost-state\""}}"#);
        assert!(mention.is_some_and(|r| !r.items.iter().any(|i| matches!(i, Item::Reported(_)))));
    }

    #[test]
    fn lines_without_ids_are_each_a_response() {
        let mut l = Ledger::default();
        for _ in 0..2 {
            feed(
                &mut l,
                r#"{"type":"assistant","message":{"usage":{"input_tokens":1000,"output_tokens":50}}}"#,
            );
        }
        assert_eq!(l.main_totals().responses, 2);
        assert_eq!(l.main_totals().input, 2000);
    }
}
