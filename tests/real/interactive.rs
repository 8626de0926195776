//! Interactive Claude Code in tmux: prompts, `/clear`, prompts, `/compact`,
//! prompts, `/exit`.

use std::time::Duration;

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Kind, Script, Step};
use logbook_tests::{Store, sessions_of};

use crate::support::{
    BRIEF_HEADING, cost_state, linked_both_ways, logbook_tokens, request_with, settled,
    usage_sent_for, wait_for_events,
};

#[test]
fn prompts_clear_compact_exit() {
    let store = Store::with_daemon();
    let script = Script::new()
        .on("lb-one", vec![Step::text("answer one")])
        .on("lb-two", vec![Step::text("answer two")])
        .on("lb-three", vec![Step::text("answer three")])
        .on("lb-four", vec![Step::text("answer four")]);
    let cc = ClaudeCode::new(&store, script);
    let tab = cc.tab("main", &[]);
    tab.prompt("lb-one: first request", "answer one");
    let first = cc.agent_sessions_at_least(1);
    assert_eq!(first.len(), 1);
    let a = first[0].clone();
    // The turn's last lines land after the Stop hook; the daemon takes them.
    settled(&cc, &a, false);

    tab.type_line("/clear");
    let b = {
        let mut found = None;
        logbook_tests::wait_until(Duration::from_secs(20), "the new conversation", || {
            found = cc.agent_sessions().into_iter().find(|s| *s != a);
            found.is_some()
        });
        found.unwrap()
    };
    // No reading yet after /clear (Claude Code sends `current_usage: null`):
    // the status line says so instead of claiming 0% used.
    tab.wait_for("context unknown", Duration::from_secs(20));
    tab.prompt("lb-two: after the clear", "answer two");
    // /clear ended the first conversation; its tail (written after
    // SessionEnd) is captured too.
    settled(&cc, &a, true);
    tab.type_line("/compact");
    tab.wait_for("Compacted", Duration::from_secs(60));
    tab.prompt("lb-three: after the compaction", "answer three");
    settled(&cc, &b, false);
    tab.type_line("/exit");
    logbook_tests::wait_until(Duration::from_secs(20), "claude exiting", || !tab.alive());
    settled(&cc, &b, true);

    let chain_a = sessions_of(&store, &a);
    let chain_b = sessions_of(&store, &b);
    assert_eq!(chain_a.len(), 1);
    assert_eq!(chain_b.len(), 2, "{chain_b:?}");
    let chain: Vec<_> = chain_a.iter().chain(&chain_b).cloned().collect();
    linked_both_ways(&chain);
    assert_eq!(chain_a[0]["end_reason"], "clear");
    assert_eq!(chain_b[0]["end_reason"], "compaction");
    assert_eq!(chain_b[1]["end_reason"], "exit");

    // Each brief reaches the model in the next request.
    let asking = |key: &str| request_with(&cc, key).text();
    assert!(!asking("lb-one").contains(BRIEF_HEADING));
    assert!(asking("lb-two").contains(BRIEF_HEADING));
    assert!(asking("lb-two").contains("lb-one: first request"));
    let after_compaction = asking("lb-three");
    assert!(after_compaction.contains(BRIEF_HEADING));
    assert!(after_compaction.contains("lb-two: after the clear"));

    // Claude Code's own summary (PostCompact) is kept, once, in the chain.
    let compaction = cc
        .mock
        .exchanges()
        .into_iter()
        .find(|e| e.kind == Kind::Compaction && e.session.as_deref() == Some(b.as_str()))
        .expect("a compaction request");
    let n: u64 = compaction.message_id.unwrap()["msg_mock_".len()..]
        .parse()
        .unwrap();
    let summaries = wait_for_events(&store, &b, "compaction_summarized", 1);
    assert_eq!(summaries[0]["trigger"], "manual");
    assert!(
        summaries[0]["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("<summary>mock summary {n}:")),
        "{summaries:?}"
    );
    assert_eq!(summaries.len(), 1, "{summaries:?}");

    // Tokens, the compaction summary included, as sent and as Claude Code
    // counted them.
    for agent in [&a, &b] {
        let sent = usage_sent_for(&cc, agent);
        assert_eq!(cost_state(&cc.transcript(agent)), Some(sent), "{agent}");
        assert_eq!(logbook_tokens(&store, agent), sent, "{agent}");
    }
}
