//! logbook-tokens: how much each session used, and how close the live one
//! is to the end of its context window.
//!
//! It owns usage accounting from captured Claude Code records, once per API
//! response whichever way Claude Code split it over lines
//! ([`usage::Ledger`]); the context-window budget and its alert thresholds
//! ([`budget`]); the shipped, dated price table ([`pricing`]); the reader of
//! `Token usage: N/M` lines in text transcripts ([`text`]); and the
//! `tokens.json` projection ([`projection::TokensProjection`]). It sees the
//! log only through `logbook-core`'s traits.

pub mod budget;
pub mod pricing;
pub mod projection;
pub mod text;
pub mod usage;
