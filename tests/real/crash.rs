//! Claude Code killed with SIGKILL in the middle of a turn.

use std::time::Duration;

use logbook_tests::claude_code::ClaudeCode;
use logbook_tests::mock_api::{Kind, Script, Step};
use logbook_tests::{Store, sessions_of, wait_until};
use serde_json::json;

use crate::support::{BRIEF_HEADING, request_with, settled};

#[test]
fn killed_mid_turn_is_closed_captured_and_handed_over() {
    let store = Store::with_daemon();
    let script = Script::new()
        .on(
            "lb-work",
            vec![
                Step::tool(
                    "Bash",
                    json!({"command": "echo before-the-kill", "description": "work"}),
                ),
                Step::Hang,
            ],
        )
        .on("lb-next", vec![Step::text("answer: carried on")]);
    let cc = ClaudeCode::new(&store, script);
    let tab = cc.tab("doomed", &[]);
    tab.type_line("lb-work: start something long");
    // The second request is the one that never finishes.
    wait_until(Duration::from_secs(60), "the turn in flight", || {
        cc.mock
            .exchanges()
            .iter()
            .filter(|e| e.kind == Kind::Turn)
            .count()
            >= 2
    });
    let agent = cc.agent_sessions_at_least(1).pop().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &tab.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    settled(&cc, &agent, true);
    let chain = sessions_of(&store, &agent);
    let last = chain.last().unwrap();
    assert_eq!(last["status"], "abandoned", "{last}");
    assert_eq!(last["end_reason"], "agent_exited", "{last}");
    let parts = logbook_tests::chain_parts(&store, &agent);
    assert!(
        String::from_utf8_lossy(&parts).contains("before-the-kill"),
        "the last captured turn is missing"
    );

    // The next Claude Code in the project is handed what was going on.
    let tab = cc.tab("next", &[]);
    tab.prompt("lb-next: carry on", "answer: carried on");
    let asked = request_with(&cc, "lb-next");
    assert!(asked.text().contains(BRIEF_HEADING));
    assert!(asked.text().contains("lb-work: start something long"));
}
