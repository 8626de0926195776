//! A subagent (the Agent tool) with its own transcript.

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Script, Step};
use logbook_tests::{Store, parts_of, sessions_of};
use serde_json::{Value, json};

use crate::support::{cost_state, logbook_tokens, settled, usage_sent_for, wait_for_events};

#[test]
fn subagent_transcript_tokens_and_context() {
    let store = Store::with_daemon();
    let script = Script::new()
        .on(
            "lb-delegate",
            vec![
                Step::tool(
                    "Agent",
                    json!({"description": "look around", "prompt": "lb-subtask: list the project",
                           "subagent_type": "general-purpose"}),
                ),
                Step::text("delegated"),
            ],
        )
        .on(
            "lb-subtask",
            vec![
                Step::tool("Bash", json!({"command": "ls -a", "description": "list"})),
                Step::text("the project is empty"),
            ],
        );
    let cc = ClaudeCode::new(&store, script);
    let out = cc.headless("lb-delegate: ask a subagent", &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("delegated"));
    let agent = cc.agent_sessions().pop().unwrap();
    settled(&cc, &agent, true);
    let chain = sessions_of(&store, &agent);
    assert_eq!(chain.len(), 1);
    let session = chain[0]["session_id"].as_str().unwrap();

    // Each subagent transcript, byte for byte, under its own key.
    let dir = cc.transcript(&agent).with_extension("").join("subagents");
    let subs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(subs.len(), 1, "{subs:?}");
    let key = format!(
        "subagents/{}",
        subs[0].file_stem().unwrap().to_string_lossy()
    );
    logbook_tests::wait_until(
        std::time::Duration::from_secs(20),
        "the subagent transcript",
        || parts_of(&store, session, &key) == std::fs::read(&subs[0]).unwrap(),
    );

    // SubagentStart named the subagent whose transcript that is.
    let started = wait_for_events(&store, &agent, "subagent_started", 1);
    assert_eq!(
        format!("agent-{}", started[0]["agent_id"].as_str().unwrap()),
        subs[0].file_stem().unwrap().to_string_lossy()
    );
    assert_eq!(started[0]["agent_type"], "general-purpose");

    let sent = usage_sent_for(&cc, &agent);
    assert_eq!(cost_state(&cc.transcript(&agent)), Some(sent));
    assert_eq!(logbook_tokens(&store, &agent), sent);
    let ctx: Value = serde_json::from_str(&store.ok(&["context", session, "--json"])).unwrap();
    assert_eq!(
        ctx["sidechains"]["commands"][0]["command"], "ls -a",
        "{ctx}"
    );
    assert!(ctx["commands"].as_array().unwrap().is_empty(), "{ctx}");

    // The timeline has the subagent's work between its call and its end,
    // both as recorded live and as imported afterwards (which logs the
    // main transcript whole, then the subagent's).
    let imported = Store::new();
    let project = cc.transcript(&agent).parent().unwrap().to_owned();
    imported.ok(&["import", project.to_str().unwrap()]);
    let again = sessions_of(&imported, &agent);
    assert_eq!(again.len(), 1);
    for (store, session) in [
        (&store, session),
        (&imported, again[0]["session_id"].as_str().unwrap()),
    ] {
        in_time_order_with_the_subagent_inside(store, session);
    }
}

fn in_time_order_with_the_subagent_inside(store: &Store, session: &str) {
    let timeline: Value =
        serde_json::from_str(&store.ok(&["timeline", session, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap();
    let place = |what: &dyn Fn(&Value) -> bool| {
        actions
            .iter()
            .position(what)
            .unwrap_or_else(|| panic!("{timeline:#}"))
    };
    let call = place(&|a| a["tool"] == "Agent");
    let start = place(&|a| a["kind"] == "subagent_start");
    // One start, though the hook and the transcript both announce it.
    let starts = actions
        .iter()
        .filter(|a| a["kind"] == "subagent_start")
        .count();
    assert_eq!(starts, 1, "{timeline:#}");
    let ls = place(&|a| a["target"] == "ls -a");
    let end = place(&|a| a["kind"] == "subagent_end");
    assert!(call < start && start < ls && ls < end, "{timeline:#}");
    // After the session's start, each action no earlier than the one
    // before it (at its placed time when it has one).
    let times: Vec<logbook_core::Timestamp> = actions[1..]
        .iter()
        .map(|a| {
            let at = a.get("placed").unwrap_or(&a["at"]);
            logbook_core::Timestamp::parse(at.as_str().unwrap()).unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{timeline:#}");
}
