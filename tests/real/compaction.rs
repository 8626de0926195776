//! An automatic compaction (`--autocompact`): Claude Code compacts when the
//! context nears its window, before sending the next prompt.

use std::time::Duration;

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Kind, Script, Usage};
use logbook_tests::{Store, sessions_of};
use serde_json::Value;

use crate::support::{
    BRIEF_HEADING, cost_state, linked_both_ways, logbook_tokens, settled, usage_sent_for,
};

#[test]
fn automatic_compaction_splits_the_chain_with_a_fresh_brief() {
    let store = Store::with_daemon();
    let full = Usage {
        input: 2_000,
        output: 300,
        cache_creation: 1_000,
        cache_read: 95_000,
    };
    let script = Script::new()
        .on_with_usage("lb-fill", "answer: filled", full)
        .on_with_usage("lb-more", "answer: latest", full)
        .on_with_usage("lb-after", "answer: past it", Usage::default());
    let cc = ClaudeCode::new(&store, script);
    let tab = cc.tab("auto", &["--autocompact", "100000"]);
    tab.prompt("lb-fill: fill the window", "answer: filled");
    tab.prompt("lb-more: the latest request", "answer: latest");
    tab.prompt("lb-after: after it", "answer: past it");
    let agent = cc.agent_sessions_at_least(1).pop().unwrap();
    let compactions = cc
        .mock
        .exchanges()
        .iter()
        .filter(|e| e.kind == Kind::Compaction)
        .count();
    assert!(compactions >= 1, "Claude Code did not compact");
    settled(&cc, &agent, false);
    tab.type_line("/exit");
    logbook_tests::wait_until(Duration::from_secs(20), "claude exiting", || !tab.alive());
    settled(&cc, &agent, true);

    let chain = sessions_of(&store, &agent);
    assert_eq!(chain.len(), 2, "{chain:?}");
    linked_both_ways(&chain);
    // The new segment starts at the boundary Claude Code wrote.
    let transcript = std::fs::read_to_string(cc.transcript(&agent)).unwrap();
    let boundary: Value = transcript
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["subtype"] == "compact_boundary")
        .unwrap();
    assert_eq!(boundary["compactMetadata"]["trigger"], "auto");
    let at = boundary["timestamp"].as_str().unwrap();
    assert_eq!(
        chain[1]["started_at"].as_str().unwrap()[..23],
        at[..23],
        "{chain:?}"
    );
    // The brief given after the compaction has the latest request.
    let after = cc
        .mock
        .exchanges()
        .into_iter()
        .filter(|e| e.kind == Kind::Turn)
        .find(|e| e.text().contains(BRIEF_HEADING))
        .expect("no request carried the brief");
    assert!(after.text().contains("lb-more: the latest request"));
    let sent = usage_sent_for(&cc, &agent);
    assert_eq!(cost_state(&cc.transcript(&agent)), Some(sent));
    assert_eq!(logbook_tokens(&store, &agent), sent);
}
