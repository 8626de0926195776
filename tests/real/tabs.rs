//! Several interactive Claude Codes in one directory, and the status line.

use std::time::Duration;

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Script, Step, Usage};
use logbook_tests::{Store, sessions_of, wait_until};
use serde_json::Value;

use crate::support::{BRIEF_HEADING, linked_both_ways, request_with, settled};

#[test]
fn three_tabs_clearing_at_once_keep_their_own_chains() {
    let store = Store::with_daemon();
    let mut script = Script::new();
    for tab in ["a", "b", "c"] {
        script = script
            .on(
                &format!("lb-{tab}-before"),
                vec![Step::text(&format!("answer {tab} 1"))],
            )
            .on(
                &format!("lb-{tab}-after"),
                vec![Step::text(&format!("answer {tab} 2"))],
            );
    }
    let cc = ClaudeCode::new(&store, script);
    let tabs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|t| (*t, cc.tab(t, &[])))
        .collect();
    for (name, tab) in &tabs {
        tab.prompt(
            &format!("lb-{name}-before: work of tab {name}"),
            &format!("answer {name} 1"),
        );
    }
    // Claude Code writes a transcript a moment after the answer shows.
    wait_until(Duration::from_secs(20), "three transcripts", || {
        cc.agent_sessions().len() == 3
    });
    for (_, tab) in &tabs {
        tab.type_line("/clear");
    }
    wait_until(Duration::from_secs(30), "three new conversations", || {
        cc.agent_sessions().len() == 6
    });
    for (name, tab) in &tabs {
        tab.prompt(
            &format!("lb-{name}-after: more of tab {name}"),
            &format!("answer {name} 2"),
        );
    }
    // Each tab's new conversation continues that tab's old one: its brief
    // names that tab's work and no other's.
    for (name, _) in &tabs {
        let after = request_with(&cc, &format!("lb-{name}-after"));
        let asked = after.text();
        assert!(asked.contains(BRIEF_HEADING), "tab {name} got no brief");
        for (other, _) in &tabs {
            let named = asked.contains(&format!("work of tab {other}"));
            assert_eq!(named, other == name, "tab {name}'s brief and tab {other}");
        }
        let old = request_with(&cc, &format!("lb-{name}-before"))
            .session
            .unwrap();
        let new = after.session.unwrap();
        settled(&cc, &old, true);
        settled(&cc, &new, false);
        let chain: Vec<Value> = sessions_of(&store, &old)
            .into_iter()
            .chain(sessions_of(&store, &new))
            .collect();
        assert_eq!(chain.len(), 2, "tab {name}: {chain:?}");
        linked_both_ways(&chain);
    }
}

#[test]
fn status_line_climbing_past_the_thresholds_warns_on_the_turn() {
    let store = Store::with_daemon();
    // Context per turn on the model's 1M window (the status line says
    // which): 75%, then past 82, 84, 86, 88% used (logbook warns below 18,
    // 16, 14, 12% left).
    let steps = [750_000u64, 825_000, 845_000, 865_000, 885_000];
    let mut script = Script::new();
    for (i, context) in steps.iter().enumerate() {
        script = script.on_with_usage(
            &format!("lb-step-{i}"),
            &format!("answer step {i}"),
            Usage {
                input: 1_000,
                output: 100,
                cache_creation: 0,
                cache_read: context - 1_000,
            },
        );
    }
    let cc = ClaudeCode::new(&store, script);
    let tab = cc.tab_with_env("climb", &[], &[("DISABLE_AUTO_COMPACT", "1")]);
    let expected = [None, Some(18), Some(16), Some(14), Some(12)];
    for (i, threshold) in expected.iter().enumerate() {
        tab.prompt(&format!("lb-step-{i}: go on"), &format!("answer step {i}"));
        if let Some(t) = threshold {
            // Shown at the end of this turn, not one turn late.
            tab.wait_for(&format!("(below {t}%)"), Duration::from_secs(20));
        }
    }
    tab.wait_for("context 88% used, 12% left", Duration::from_secs(20));
    let agent = cc.agent_sessions().pop().unwrap();
    let session = sessions_of(&store, &agent)[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens: Value = serde_json::from_slice(
        &std::fs::read(
            store
                .root()
                .join("sessions")
                .join(&session)
                .join("tokens.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let fired: Vec<u64> = tokens["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["threshold"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, [18, 16, 14, 12], "{tokens}");
    assert_eq!(tokens["context"]["used"], 885_000, "{tokens}");
    assert_eq!(tokens["context"]["window"], 1_000_000, "{tokens}");
}
