//! Checks every real-client scenario makes: logbook's record against the
//! transcript Claude Code wrote and the traffic the mock saw.

use std::path::Path;
use std::time::Duration;

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Exchange, Kind, Usage};
use logbook_tests::{Store, chain_parts, sessions_of};
use serde_json::Value;

/// What the brief logbook hands a new session starts with.
pub const BRIEF_HEADING: &str = "# Handoff from logbook session";

/// The last `cost-state` record of a transcript: Claude Code's own running
/// total for the conversation, summed over models.
pub fn cost_state(transcript: &Path) -> Option<Usage> {
    let text = std::fs::read_to_string(transcript).unwrap();
    let last = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "cost-state")?;
    let mut total = Usage::default();
    for usage in last["modelUsage"].as_object().unwrap().values() {
        let n = |k: &str| usage[k].as_u64().unwrap_or(0);
        total.input += n("inputTokens");
        total.output += n("outputTokens");
        total.cache_creation += n("cacheCreationInputTokens");
        total.cache_read += n("cacheReadInputTokens");
    }
    Some(total)
}

/// logbook's token totals for one Claude Code conversation
/// (`tokens --by agent-session`).
pub fn logbook_tokens(store: &Store, agent: &str) -> Usage {
    let rows: Value =
        serde_json::from_str(&store.ok(&["tokens", "--by", "agent-session", "--json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent_session_id"] == agent)
        .unwrap_or_else(|| panic!("no token row for {agent}: {rows}"));
    let n = |k: &str| row[k].as_u64().unwrap();
    Usage {
        input: n("input"),
        output: n("output"),
        cache_creation: n("cache_creation"),
        cache_read: n("cache_read"),
    }
}

/// The usage of every message reply the mock sent for Claude Code session
/// `agent` (conversation turns, subagents and compaction summaries).
pub fn usage_sent_for(cc: &ClaudeCode<'_>, agent: &str) -> Usage {
    let mut total = Usage::default();
    for e in cc.mock.exchanges() {
        if !matches!(e.kind, Kind::Turn | Kind::Compaction) {
            continue;
        }
        if e.session.as_deref() == Some(agent) {
            total.add(&e.usage);
        }
    }
    total
}

/// Waits (bounded) until logbook holds every byte of conversation `agent`'s
/// transcript, tail included, in its sessions' parts, in chain order; with
/// `ended`, also until every one of those sessions has ended.
pub fn settled(cc: &ClaudeCode<'_>, agent: &str, ended: bool) {
    let transcript = cc.transcript(agent);
    let store = cc.store;
    let caught_up = || {
        let sessions = sessions_of(store, agent);
        let done = !ended || sessions.iter().all(|s| s["status"] != "active");
        let (held, written) = (
            chain_parts(store, agent),
            std::fs::read(&transcript).unwrap(),
        );
        (done && held == written, sessions, held.len(), written.len())
    };
    let started = std::time::Instant::now();
    loop {
        let (ok, sessions, held, written) = caught_up();
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "logbook did not catch up with {agent} within 20s: {held} of {written} bytes held, sessions {sessions:?}; daemon: {}",
            store.ok(&["daemon", "status"])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts the chain of sessions is linked both ways.
pub fn linked_both_ways(sessions: &[Value]) {
    for pair in sessions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a["transitioned_to"], b["session_id"], "{a}\n{b}");
        assert_eq!(b["transitioned_from"], a["session_id"], "{a}\n{b}");
    }
}

/// The requests whose body contains `text`.
pub fn requests_containing(cc: &ClaudeCode<'_>, text: &str) -> usize {
    cc.mock
        .exchanges()
        .iter()
        .filter(|e| e.kind == Kind::Turn && e.text().contains(text))
        .count()
}

/// The first conversation request whose body contains `key` (the request
/// that asked the scripted prompt).
pub fn request_with(cc: &ClaudeCode<'_>, key: &str) -> Exchange {
    cc.mock
        .exchanges()
        .into_iter()
        .find(|e| e.kind == Kind::Turn && e.text().contains(key))
        .unwrap_or_else(|| panic!("the mock was never asked for {key}"))
}

/// The `kind` events (`tool_call_finished`, …) recorded in conversation
/// `agent`'s sessions, in log order.
pub fn events_of(store: &Store, agent: &str, kind: &str) -> Vec<Value> {
    sessions_of(store, agent)
        .iter()
        .flat_map(|s| {
            let id = s["session_id"].as_str().unwrap();
            store
                .ok(&["log", "--session", id, "--json"])
                .lines()
                .filter_map(|l| {
                    let env: Value = serde_json::from_str(l).unwrap();
                    env["event"].get(kind).cloned()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Waits (bounded) until `n` `kind` events are recorded for `agent`: hooks
/// installed to run in the background may land after the run ends.
pub fn wait_for_events(store: &Store, agent: &str, kind: &str, n: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let events = events_of(store, agent, kind);
        if events.len() >= n {
            return events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} of {n} {kind} events recorded for {agent} within 20s: {events:?}; sessions {:?}; logbook.log: {}; spool: {:?}",
            events.len(),
            sessions_of(store, agent),
            std::fs::read_to_string(store.root().join("logbook.log")).unwrap_or_default(),
            std::fs::read_dir(store.root().join("spool"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every main-chain tool call in a transcript as its result says it ended:
/// `(tool_use_id, tool, is_error)`, in order.
pub fn tool_results(transcript: &Path) -> Vec<(String, String, bool)> {
    let text = std::fs::read_to_string(transcript).unwrap();
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &Value| r["isSidechain"] != true)
        .collect();
    let mut names = std::collections::BTreeMap::new();
    let mut results = Vec::new();
    for r in &records {
        for block in r["message"]["content"].as_array().into_iter().flatten() {
            let id = block["id"].as_str().or(block["tool_use_id"].as_str());
            match (block["type"].as_str(), id) {
                (Some("tool_use"), Some(id)) => {
                    names.insert(id.to_owned(), block["name"].as_str().unwrap().to_owned());
                }
                (Some("tool_result"), Some(id)) => results.push((
                    id.to_owned(),
                    names.get(id).cloned().unwrap_or_default(),
                    block["is_error"] == true,
                )),
                _ => {}
            }
        }
    }
    results
}
