//! The adapters on hand-made lines shaped like the real files (the real
//! files themselves are read in `tests/it/agents.rs`).

use std::path::Path;

use logbook_core::SourceKind;

use crate::gemini::{Captured, Snapshot};
use crate::locate::{Form, default_roots, recognise, session_files};
use crate::record::{Counting, Outcome, Seen};
use crate::{Agent, Effect, Item, codex, read};

fn items(kind: SourceKind, location: &str, line: &str) -> Vec<Item> {
    read(kind, location, line.as_bytes())
        .map(|r| r.items)
        .unwrap_or_default()
}

#[test]
fn a_codex_thread_id_dates_its_file_and_older_lines_are_replayed() {
    let id = "019e1625-789d-76c0-80ab-3724b5ddb799";
    let created = codex::thread_created_ms(id).expect("a v7 id");
    // 2026-05-11T08:26:55Z, as the file's session_meta says.
    assert_eq!(created / 1000, 1_778_488_015);
    let location = format!("/x/rollout-2026-05-11T11-26-55-{id}.jsonl.zst");
    assert_eq!(codex::created_ms(&location), Some(created));
    assert_eq!(codex::created_ms("/x/test_conversation_oai.jsonl"), None);
    let line = |at: &str| {
        format!(
            r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"user_message","message":"hi"}}}}"#
        )
    };
    let before = read(
        SourceKind::Codex,
        &location,
        line("2026-05-11T08:00:00Z").as_bytes(),
    );
    let after = read(
        SourceKind::Codex,
        &location,
        line("2026-05-11T09:00:00Z").as_bytes(),
    );
    assert!(before.expect("read").replayed);
    assert!(!after.expect("read").replayed);
}

#[test]
fn codex_calls_say_what_they_did() {
    let patch = r#"{"timestamp":"t","type":"response_item","payload":{"type":"custom_tool_call","name":"apply_patch","call_id":"c1","input":"*** Begin Patch\n*** Update File: src/a.rs\n@@\n-old\n+new\n+more\n*** Add File: src/b.rs\n+fresh\n*** End Patch"}}"#;
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", patch)[..] else {
        panic!("one call");
    };
    assert_eq!(
        call.effects,
        [
            Effect::Modify {
                path: "src/a.rs".into()
            },
            Effect::Modify {
                path: "src/b.rs".into()
            }
        ]
    );
    assert_eq!(
        crate::record::diff_lines(call.diff.as_deref().unwrap_or_default()),
        (3, 1)
    );

    let shell = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call","name":"shell","call_id":"c2","arguments":"{\"command\":[\"bash\",\"-lc\",\"cargo test\"]}"}}"#;
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", shell)[..] else {
        panic!("one call");
    };
    assert_eq!(call.target.as_deref(), Some("cargo test"));
    let failed = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call_output","call_id":"c2","output":"{\"output\":\"1 failed\",\"metadata\":{\"exit_code\":101}}"}}"#;
    let [Item::Result(result)] = &items(SourceKind::Codex, "r.jsonl", failed)[..] else {
        panic!("one result");
    };
    assert_eq!(
        (result.outcome, result.exit_code),
        (Outcome::Error, Some(101))
    );
    assert_eq!(result.text, "1 failed");
    let exec = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call_output","call_id":"c3","output":"Chunk ID: a\nWall time: 0.1 seconds\nProcess exited with code 0\nOutput:\nok"}}"#;
    let [Item::Result(result)] = &items(SourceKind::Codex, "r.jsonl", exec)[..] else {
        panic!("one result");
    };
    assert_eq!((result.outcome, result.exit_code), (Outcome::Ok, Some(0)));
    // A poll of a running command, and input to it (Ctrl-C), as Codex 0.130
    // wrote them: the command is known by its session number.
    let poll = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call","name":"write_stdin","arguments":"{\"session_id\":20936,\"chars\":\"\",\"yield_time_ms\":1000}","call_id":"c5"}}"#;
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", poll)[..] else {
        panic!("one call");
    };
    assert_eq!(call.target.as_deref(), Some("session 20936"));
    let interrupt = poll.replace(r#"\"chars\":\"\""#, r#"\"chars\":\"\\u0003\""#);
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", &interrupt)[..] else {
        panic!("one call");
    };
    assert_eq!(call.target.as_deref(), Some(r#"session 20936: "\u{3}""#));
    // Sanitised arguments (not JSON) are kept as text.
    let marker = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call","name":"exec_command","call_id":"c4","arguments":"[REDACTED len=9]"}}"#;
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", marker)[..] else {
        panic!("one call");
    };
    assert_eq!(call.input, "[REDACTED len=9]");
    // Unknown kinds pass: a record with nothing in it, not an error.
    let unknown = r#"{"timestamp":"t","type":"world_state","payload":{"anything":1}}"#;
    assert!(items(SourceKind::Codex, "r.jsonl", unknown).is_empty());
}

#[test]
fn codex_usage_is_a_running_total_and_null_info_is_nothing() {
    let null = r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;
    assert!(items(SourceKind::Codex, "r.jsonl", null).is_empty());
    let count = r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":150,"output_tokens":5},"last_token_usage":{"input_tokens":100,"cached_input_tokens":150,"output_tokens":5}}}}"#;
    let [Item::Usage(usage)] = &items(SourceKind::Codex, "r.jsonl", count)[..] else {
        panic!("usage");
    };
    assert_eq!(usage.counting, Counting::Cumulative);
    // A hostile count (cached above input) never goes negative.
    assert_eq!((usage.tokens.input, usage.tokens.cache_read), (0, 100));
}

#[test]
fn gemini_messages_repeat_and_a_fold_takes_each_item_once() {
    let first = r#"{"id":"m1","timestamp":"t","type":"gemini","content":"reading","model":"gemini-2.5-pro","tokens":{"input":100,"output":10,"cached":40,"thoughts":5,"tool":3,"total":118}}"#;
    let again = r#"{"id":"m1","timestamp":"t","type":"gemini","content":"reading","model":"gemini-2.5-pro","tokens":{"input":100,"output":10,"cached":40,"thoughts":5,"tool":3,"total":118},"toolCalls":[{"id":"r1","name":"read_file","args":{"file_path":"a.rs"},"status":"success","result":[{"functionResponse":{"id":"r1","name":"read_file","response":{"output":"fn a()"}}}]}]}"#;
    let mut seen = Seen::default();
    let a = read(SourceKind::Gemini, "c.jsonl", first.as_bytes()).expect("read");
    let b = read(SourceKind::Gemini, "c.jsonl", again.as_bytes()).expect("read");
    let taken_a: Vec<Item> = a.fresh(&mut seen).cloned().collect();
    let taken_b: Vec<Item> = b.fresh(&mut seen).cloned().collect();
    assert!(matches!(taken_a[0], Item::Reply { .. }));
    let Item::Usage(usage) = &taken_a[1] else {
        panic!("usage")
    };
    // input 100 holds the 40 cached; tool prompt and thoughts are billed.
    assert_eq!(
        (
            usage.tokens.input,
            usage.tokens.cache_read,
            usage.tokens.output
        ),
        (63, 40, 15)
    );
    assert_eq!(usage.key.as_deref(), Some("m1"));
    // The second copy adds its call and result, and usage (counted once by
    // its key), but not the reply again.
    assert!(matches!(taken_b[0], Item::Call(_)));
    assert!(matches!(taken_b[1], Item::Result(_)));
    assert!(matches!(taken_b[2], Item::Usage(_)));
    assert_eq!(taken_b.len(), 3);
    // The same words in another message are another prompt.
    let p1 = read(
        SourceKind::Gemini,
        "c",
        br#"{"id":"u1","type":"user","content":"go on"}"#,
    );
    let p2 = read(
        SourceKind::Gemini,
        "c",
        br#"{"id":"u2","type":"user","content":"go on"}"#,
    );
    assert_eq!(p1.expect("read").fresh(&mut seen).count(), 1);
    assert_eq!(p2.expect("read").fresh(&mut seen).count(), 1);
}

#[test]
fn a_snapshot_gives_new_and_changed_messages_and_a_rewind_restarts() {
    let v1 = br#"{"sessionId":"s","projectHash":"h","messages":[{"id":"a","type":"user","content":"one"},{"id":"b","type":"gemini","content":"two"}]}"#;
    let v2 = br#"{"sessionId":"s","projectHash":"h","messages":[{"id":"a","type":"user","content":"one"},{"id":"b","type":"gemini","content":"two!"},{"id":"c","type":"user","content":"three"}]}"#;
    let v3 = br#"{"sessionId":"s","projectHash":"h","messages":[{"id":"a","type":"user","content":"one"}]}"#;
    let mut seen = Captured::default();
    let first = Snapshot::parse(v1).expect("v1").change(&seen, true);
    assert_eq!(first.count, 3, "header and two messages");
    seen.take(&first.lines);
    let second = Snapshot::parse(v2).expect("v2").change(&seen, false);
    assert_eq!(second.count, 2, "b changed, c new");
    assert!(second.rewind_to.is_none());
    seen.take(&second.lines);
    assert_eq!(
        Snapshot::parse(v2).expect("v2").change(&seen, false).count,
        0
    );
    let third = Snapshot::parse(v3).expect("v3").change(&seen, false);
    assert_eq!(third.rewind_to.as_deref(), Some("b"));
    let text = String::from_utf8(third.lines).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("\"sessionId\""));
    assert_eq!(lines[1], r#"{"$rewindTo":"b"}"#);
    assert!(Snapshot::parse(b"{\"sessionId\":\"s\"").is_err());
    assert!(Snapshot::parse(b"[1,2]").is_err());
}

/// Every session file of `agent` under `roots`, relative to `base`.
fn listed(agent: Agent, roots: &[std::path::PathBuf], base: &Path) -> Vec<String> {
    roots
        .iter()
        .flat_map(|r| session_files(agent, r).expect("listed"))
        .map(|p| p.strip_prefix(base).expect("inside").display().to_string())
        .collect()
}

fn touch(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn each_agents_folders_and_the_copy_that_wins() {
    let home = tempfile::tempdir().expect("tempdir");
    let var = |name: &str| (name == "HOME").then(|| home.path().display().to_string());
    let roots = |agent| default_roots(agent, &var);
    let codex = home.path().join(".codex");
    let rollout = r#"{"timestamp":"2026-01-01T00:00:00Z","type":"session_meta","payload":{"id":"t1","cwd":"/w"}}"#;
    touch(&codex.join("sessions/2026/01/01/rollout-a.jsonl"), rollout);
    touch(&codex.join("sessions/2026/01/01/rollout-a.jsonl.zst"), "");
    touch(&codex.join("sessions/2026/01/01/rollout-b.jsonl.zst"), "");
    touch(&codex.join("archived_sessions/rollout-a.jsonl"), rollout);
    touch(&codex.join("archived_sessions/rollout-c.jsonl"), rollout);
    let found = listed(Agent::Codex, &roots(Agent::Codex), &codex);
    assert_eq!(
        found,
        [
            "sessions/2026/01/01/rollout-a.jsonl",
            "sessions/2026/01/01/rollout-b.jsonl.zst",
            "archived_sessions/rollout-c.jsonl"
        ]
    );
    let chats = home.path().join(".gemini/tmp/abc/chats");
    touch(&chats.join("session-1.json"), "{}");
    touch(&chats.join("session-1.jsonl"), "{}");
    touch(&chats.join("session-2.json"), "{}");
    touch(&chats.join("parent/child.jsonl"), "{}");
    touch(&home.path().join(".gemini/tmp/abc/logs.json"), "[]");
    let found = listed(Agent::Gemini, &roots(Agent::Gemini), &chats);
    assert_eq!(
        found,
        ["parent/child.jsonl", "session-1.jsonl", "session-2.json"]
    );

    let seen = recognise(&codex.join("archived_sessions/rollout-c.jsonl")).expect("read");
    assert_eq!(
        (seen.agent, seen.form, seen.session.as_str()),
        (Agent::Codex, Form::Lines, "t1")
    );
    let child = chats.join("parent/child.jsonl");
    touch(
        &child,
        r#"{"sessionId":"kid","projectHash":"h","kind":"subagent"}"#,
    );
    let seen = recognise(&child).expect("read");
    assert_eq!(
        (seen.session.as_str(), seen.key.as_str()),
        ("parent", "subagents/kid")
    );
}

#[test]
fn a_claude_block_of_an_unexpected_shape_costs_that_block_not_the_line() {
    // `is_error` as a string and a `text` that is not one: fields of shapes
    // no Claude Code version wrote, which failed the whole line when blocks
    // were read as a tagged enum, losing the result beside them.
    let line = r#"{"type":"user","timestamp":"2026-11-01T09:00:00Z","message":{"role":"user","content":[
        {"type":"tool_result","tool_use_id":"t1","content":"all 3 passed","is_error":"no"},
        {"type":"text","text":{"rich":true}},
        {"type":"image","source":{"type":"base64","data":"AAAA"}},
        {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"boom"}],"is_error":true}
    ]}}"#
        .replace('\n', "");
    let results: Vec<(String, String, Outcome)> = items(SourceKind::ClaudeCode, "", &line)
        .into_iter()
        .filter_map(|item| match item {
            Item::Result(r) => Some((r.id, r.text, r.outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, "t1");
    assert_eq!(results[0].1, "all 3 passed");
    assert_eq!(results[0].2, Outcome::Ok);
    assert_eq!(results[1].0, "t2");
    assert_eq!(results[1].1, "boom");
    assert_eq!(results[1].2, Outcome::Error);
}

/// Claude Code 2.1.328, a subagent it ran in the background.
const ASYNC_SUBAGENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/claude-code-2.1.328/transcripts/e/eec2edc2-2bee-49da-bf84-17de1eb2d1f6.jsonl"
);

#[test]
fn a_background_subagent_ends_with_its_notification_not_a_prompt() {
    let text = std::fs::read_to_string(ASYNC_SUBAGENT).unwrap();
    let all: Vec<Item> = text
        .lines()
        .flat_map(|line| items(SourceKind::ClaudeCode, "e.jsonl", line))
        .collect();
    let agent = all
        .iter()
        .find_map(|i| match i {
            Item::Call(c) if c.name == "Agent" => Some(c.id.clone()),
            _ => None,
        })
        .unwrap();
    // Once each: the `api-request-blob` records that copy the messages a
    // request sent (2.1) are not the conversation.
    let agent_calls = all
        .iter()
        .filter(|i| matches!(i, Item::Call(c) if c.name == "Agent"))
        .count();
    assert_eq!(agent_calls, 1);
    // The call's result is the launch, and says the subagent runs on.
    let launched: Vec<bool> = all
        .iter()
        .filter_map(|i| match i {
            Item::Result(r) if r.id == agent => Some(r.running),
            _ => None,
        })
        .collect();
    assert_eq!(launched, [true]);
    // Its end is the notification, which is no prompt of the user's.
    let finished: Vec<(&str, &str, &str)> = all
        .iter()
        .filter_map(|i| match i {
            Item::Finished { id, status, text } => {
                Some((id.as_str(), status.as_str(), text.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].0, agent);
    assert_eq!(finished[0].1, "completed");
    assert!(!finished[0].2.is_empty());
    let prompts: Vec<&str> = all
        .iter()
        .filter_map(|i| match i {
            Item::Prompt { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts, ["TASK-E1: use a subagent"]);
    // Other results do not run on.
    assert!(all.iter().all(|i| match i {
        Item::Result(r) => r.running == (r.id == agent),
        _ => true,
    }));
}

#[test]
fn a_notification_status_is_a_word_or_other() {
    let line = |status: &str| {
        serde_json::json!({"type":"user","origin":{"kind":"task-notification"},
            "message":{"role":"user","content":format!(
                "<task-notification>\n<tool-use-id>t1</tool-use-id>\n<status>{status}</status>\n<result>r</result>\n</task-notification>")}})
        .to_string()
    };
    let status = |s: &str| match items(SourceKind::ClaudeCode, "t.jsonl", &line(s)).as_slice() {
        [Item::Finished { status, .. }] => status.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(status("failed"), "failed");
    assert_eq!(status("<script>alert(1)</script>"), "other");
    assert_eq!(status("two words"), "other");
}

#[test]
fn a_command_claude_code_wrapped_is_what_the_user_ran_and_its_output_is_not() {
    use crate::claude::command_line;
    // As Claude Code 1.x and 2.1 write them (the real fixtures' shapes).
    assert_eq!(
        command_line(
            "<command-name>/clear</command-name>\n            <command-message>clear</command-message>\n            <command-args></command-args>"
        ),
        Some("/clear".into())
    );
    assert_eq!(
        command_line(
            "<command-message>orchestrator is running…</command-message>\n<command-name>/orchestrator</command-name>\n<command-args>create TODO app by Next.js</command-args>"
        ),
        Some("/orchestrator create TODO app by Next.js".into())
    );
    assert_eq!(
        command_line("<bash-input>ls -la</bash-input>"),
        Some("!ls -la".into())
    );
    use crate::claude::command_output;
    assert_eq!(
        command_output("<local-command-stdout>Reconnected to tidewave.</local-command-stdout>")
            .as_deref(),
        Some("Reconnected to tidewave.")
    );
    assert_eq!(
        command_output("<bash-stdout>total 0</bash-stdout><bash-stderr>ls: x: none</bash-stderr>")
            .as_deref(),
        Some("total 0\nls: x: none")
    );
    assert_eq!(
        command_output("<bash-stdout></bash-stdout><bash-stderr></bash-stderr>").as_deref(),
        Some("")
    );
    assert_eq!(command_output("<command-name>/mcp</command-name>"), None);
    // Which prompts are markup: Claude Code's tags, not any `<`.
    let prompt = |text: &str| {
        let line = serde_json::json!({"type":"user","timestamp":"2026-01-01T00:00:00Z",
            "message":{"role":"user","content":text}})
        .to_string();
        match &items(SourceKind::ClaudeCode, "s.jsonl", &line)[..] {
            [Item::Prompt { command, .. }] => *command,
            other => panic!("one prompt, got {other:?}"),
        }
    };
    assert!(prompt("<local-command-stdout>done</local-command-stdout>"));
    assert!(prompt(
        "<command-message>x</command-message>\n<command-name>/init</command-name>"
    ));
    assert!(!prompt("<script>alert(1)</script> why is this escaped?"));
    assert!(!prompt("<div> breaks the layout"));
    assert!(!prompt("<command-namespace> is a word I made up"));
    for output in [
        "<local-command-stdout>Reconnected to tidewave.</local-command-stdout>",
        "<local-command-caveat>Caveat: The messages below were generated by the user while running local commands.</local-command-caveat>",
        "<bash-stdout>total 0</bash-stdout><bash-stderr></bash-stderr>",
        "<system-reminder>\n<tools-used-before-summary>Bash</tools-used-before-summary>\n</system-reminder>",
        "<command-name>/unterminated",
    ] {
        assert_eq!(command_line(output), None, "{output}");
    }
}

#[test]
fn a_slash_command_that_sets_the_agent_to_work_is_a_request() {
    use crate::claude::command_request;
    let typed = |name: &str, args: &str| {
        format!(
            "<command-name>{name}</command-name>\n<command-message>x</command-message>\n<command-args>{args}</command-args>"
        )
    };
    assert_eq!(
        command_request(&typed("/orchestrator", "create TODO app by Next.js")),
        Some("/orchestrator create TODO app by Next.js".into())
    );
    assert_eq!(command_request(&typed("/init", "")), Some("/init".into()));
    for steering in [
        typed("/clear", ""),
        typed("/compact", "keep the tests"),
        typed("/model", "opus"),
        typed("/mcp", ""),
    ] {
        assert_eq!(command_request(&steering), None, "{steering}");
    }
    assert_eq!(command_request("<bash-input>ls</bash-input>"), None);
    assert_eq!(
        command_request("<local-command-stdout>done</local-command-stdout>"),
        None
    );
}

#[test]
fn a_gemini_write_counts_the_lines_its_diff_changed() {
    // Gemini CLI's shape (0.x, `resultDisplay` of a finished write_file).
    let line = |display: &str| {
        format!(
            r#"{{"id":"m","timestamp":"t","type":"gemini","content":"","toolCalls":[{{"id":"w1","name":"write_file","args":{{"file_path":"a.md","content":"one\ntwo\nthree"}},"status":"success","resultDisplay":{display}}}]}}"#
        )
    };
    let rewrite = line(
        r#"{"fileDiff":"Index: a.md\n===\n--- a.md\tOriginal\n+++ a.md\tWritten\n@@ -1,3 +1,3 @@\n one\n-2\n+two\n three\n","fileName":"a.md"}"#,
    );
    let calls = |line: &str| -> Vec<(u64, u64)> {
        items(SourceKind::Gemini, "c.jsonl", line)
            .iter()
            .filter_map(|i| match i {
                Item::Call(c) => c.diff.as_deref().map(crate::record::diff_lines),
                _ => None,
            })
            .collect()
    };
    assert_eq!(calls(&rewrite), [(1, 1)]);
    // Without Gemini's diff (a sanitised file, an older version), the
    // content written is all there is to count.
    assert_eq!(calls(&line(r#""written""#)), [(3, 0)]);
}

/// Calls whose input has no path, command or URL still say what they were
/// about: the question put to the user, the background shell polled, the
/// to-do list written (shapes as in the real files: Claude Code 1.0.98 and
/// 2.1, Gemini CLI, Codex 0.125).
#[test]
fn calls_without_a_path_name_what_they_were_about() {
    let claude = |name: &str, input: &str| {
        let line = format!(
            r#"{{"type":"assistant","timestamp":"2026-01-01T00:00:00Z","message":{{"id":"m","role":"assistant","content":[{{"type":"tool_use","id":"t","name":"{name}","input":{input}}}]}}}}"#
        );
        match &items(SourceKind::ClaudeCode, "s.jsonl", &line)[..] {
            [Item::Call(call)] => call.target.clone(),
            other => panic!("one call, got {other:?}"),
        }
    };
    assert_eq!(
        claude(
            "AskUserQuestion",
            r#"{"questions":[{"question":"Which rig?","header":"Rig","options":[{"label":"spotter"}],"multiSelect":false}]}"#
        )
        .as_deref(),
        Some("Which rig?")
    );
    assert_eq!(
        claude(
            "AskUserQuestion",
            r#"{"questions":[{"question":"Which rig?"},{"question":"Which branch?"}]}"#
        )
        .as_deref(),
        Some("Which rig? (+1 more)")
    );
    assert_eq!(
        claude("BashOutput", r#"{"bash_id":"bash_1"}"#).as_deref(),
        Some("bash_1")
    );
    assert_eq!(
        claude("KillBash", r#"{"shell_id":"bash_2"}"#).as_deref(),
        Some("bash_2")
    );
    assert_eq!(
        claude(
            "TodoWrite",
            r#"{"todos":[{"content":"Read the code","status":"completed","activeForm":"Reading"},{"content":"Fix the bug","status":"in_progress","activeForm":"Fixing"},{"content":"Test","status":"pending","activeForm":"Testing"}]}"#
        )
        .as_deref(),
        Some("3 items, in progress: Fix the bug")
    );
    assert_eq!(
        claude(
            "TodoWrite",
            r#"{"todos":[{"content":"Test","status":"pending"}]}"#
        )
        .as_deref(),
        Some("1 item")
    );
    // A tool with nothing to name keeps no target.
    assert_eq!(claude("ExitPlanMode", "{}"), None);

    let plan = r#"{"timestamp":"t","type":"response_item","payload":{"type":"function_call","name":"update_plan","arguments":"{\"plan\":[{\"step\":\"Inspect\",\"status\":\"completed\"},{\"step\":\"Patch the parser\",\"status\":\"in_progress\"}]}","call_id":"p1"}}"#;
    let [Item::Call(call)] = &items(SourceKind::Codex, "r.jsonl", plan)[..] else {
        panic!("one call");
    };
    assert_eq!(
        call.target.as_deref(),
        Some("2 items, in progress: Patch the parser")
    );
}
