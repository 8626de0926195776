//! logbook-tokens: how much each session used, and how close the live one
//! is to the end of its context window.
//!
//! It owns usage accounting from any agent's records as `logbook-agents`
//! reads them: once per API response whichever way the agent split or
//! repeated it over lines, or by the steps of a running total (Codex)
//! ([`usage::Ledger`], [`projection::SourceCount`]); the context-window budget and its alert thresholds
//! ([`budget`]); the shipped, dated price table ([`pricing`]); the reader of
//! `Token usage: N/M` lines in text transcripts ([`text`]); and the
//! `tokens.json` projection ([`projection::TokensProjection`]). It sees the
//! log only through `logbook-core`'s traits.

pub mod budget;
pub mod pricing;
pub mod projection;
pub mod text;
pub mod usage;
