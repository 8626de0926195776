//! Tasks, reviews, project memory and stats (`task`, `review`, `memory`,
//! `stats`, `note --memory`, the startup brief), on real transcripts, on
//! the generated corpus with its ground truth, and on sessions driven
//! through the hooks as Claude Code drives them.

use std::path::{Path, PathBuf};

use logbook_tests::hook_payload as payload;
use logbook_tests::{Store, append_text, fixtures};
use serde_json::{Value, json};

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/generated")
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn review(store: &Store, id: &str) -> Value {
    json_of(&store.ok(&["review", id, "--json"]))
}

/// The logbook sessions of agent conversation `agent`.
fn sessions_of(store: &Store, agent: &str) -> Vec<String> {
    store
        .sessions()
        .into_iter()
        .filter(|s| s["agent"]["session_id"] == agent)
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every projected file, then the same after `replay`: byte for byte.
fn same_after_replay(store: &Store) {
    let before = store.projected_files();
    assert!(before.iter().any(|(p, _)| p.starts_with("projects/")));
    assert!(before.iter().any(|(p, _)| p.ends_with("/review.json")));
    store.ok(&["replay"]);
    let after = store.projected_files();
    assert_eq!(
        before.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        after.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert!(a == b, "{path} differs after replay");
    }
    store.ok(&["verify"]);
}

#[test]
fn review_figures_equal_the_generators_ground_truth() {
    let store = Store::new();
    let truth: Value =
        serde_json::from_slice(&std::fs::read(generated().join("truth.json")).unwrap()).unwrap();
    store.ok(&["import", generated().join("corpus").to_str().unwrap()]);
    let (mut all_tests, mut all_corrections) = (0, 0);
    for t in truth["sessions"].as_array().unwrap() {
        let ids = sessions_of(&store, t["session_id"].as_str().unwrap());
        assert!(!ids.is_empty());
        let reviews: Vec<Value> = ids.iter().map(|id| review(&store, id)).collect();
        let sum = |f: &dyn Fn(&Value) -> u64| reviews.iter().map(f).sum::<u64>();
        // Every `cargo test` the generator ran answered "ok": a pass.
        let tests = t["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| *c == "cargo test")
            .count() as u64;
        assert_eq!(sum(&|r| r["tests"]["runs"].as_u64().unwrap()), tests);
        assert_eq!(sum(&|r| r["tests"]["passed"].as_u64().unwrap()), tests);
        assert_eq!(
            sum(&|r| r["corrections"].as_array().unwrap().len() as u64),
            t["corrections"].as_u64().unwrap()
        );
        assert_eq!(
            sum(&|r| r["compactions"].as_u64().unwrap()),
            t["compactions"].as_u64().unwrap()
        );
        let tokens = &t["tokens"];
        let total = ["input", "output", "cache_creation", "cache_read"]
            .iter()
            .map(|k| tokens[k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(sum(&|r| r["tokens"]["total"].as_u64().unwrap()), total);
        let mut changed: Vec<String> = reviews
            .iter()
            .flat_map(|r| r["files_changed"].as_array().unwrap().clone())
            .map(|f| format!("/home/dev/demo/{}", f["path"].as_str().unwrap()))
            .collect();
        changed.sort();
        changed.dedup();
        let expected: Vec<String> = serde_json::from_value(t["files_modified"].clone()).unwrap();
        assert_eq!(changed, expected);
        all_tests += tests;
        all_corrections += t["corrections"].as_u64().unwrap();
    }

    // `stats` adds the same reviews up, however it groups them.
    for by in ["day", "project", "agent"] {
        let rows = json_of(&store.ok(&["stats", "--by", by, "--json"]));
        let rows = rows.as_array().unwrap();
        let sum = |key: &str| rows.iter().map(|r| r[key].as_u64().unwrap()).sum::<u64>();
        assert_eq!(sum("sessions"), store.sessions().len() as u64, "by {by}");
        assert_eq!(sum("tests_passed"), all_tests);
        assert_eq!(sum("corrections"), all_corrections);
        assert_eq!(sum("tests_failed"), 0);
    }
    let by_agent = json_of(&store.ok(&["stats", "--by", "agent", "--json"]));
    assert_eq!(by_agent[0]["key"], "claude-code");
    let cost = by_agent[0]["cost_usd_estimate"].as_f64().unwrap();
    let table = store.ok(&["stats", "--by", "agent"]);
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("claude-code"), "{table}");
    assert!(row.contains(&format!("${cost:.2}")), "{table}");
    let by_project = json_of(&store.ok(&["stats", "--by", "project", "--json"]));
    assert_eq!(by_project[0]["key"], "/home/dev/demo");
    // The corpus starts on 2026-11-01 at 09:00 and spans under a day.
    let later = json_of(&store.ok(&["stats", "--since", "2026-11-02", "--json"]));
    assert_eq!(later, json!([]));
    store.fails(&["stats", "--since", "yesterday-ish"], 2);
    same_after_replay(&store);
}

#[test]
fn tasks_follow_the_agents_successful_calls_and_logbook_task() {
    let store = Store::new();
    let file = fixtures()
        .join("viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl");
    store.ok(&["import", file.to_str().unwrap()]);
    let id = &sessions_of(&store, "fe5e1c67-53e7-4862-81ae-d0e013e3270b")[0];
    // Hand count (python over the file): three main-chain TodoWrite calls,
    // each answered without error; the last lists 5 todos, all completed.
    // The subagents' 16 lists are their own.
    let tasks = json_of(&store.ok(&["task", "ls", "--session", id, "--json"]));
    let tasks = tasks["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 5);
    assert!(tasks.iter().all(|t| t["status"] == "completed"));
    assert!(tasks.iter().all(|t| t["source"] == "todo"));
    assert_eq!(tasks[3]["files"].as_array().unwrap().len(), 8);
    let r = review(&store, id);
    assert_eq!(
        r["tasks"],
        json!({"planned": 5, "completed": 5, "open": 0, "completion_rate": 1.0})
    );
    // The session opened with a custom slash command: that is what the
    // user asked for, as they typed it, in the review and the brief.
    let asked: Vec<&str> = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked,
        [
            "/orchestrator create TODO app by Next.js",
            "Thanks! Please update CLAUDE.md for current changes"
        ]
    );
    let context = json_of(
        &std::fs::read_to_string(store.root().join("sessions").join(id).join("context.json"))
            .unwrap(),
    );
    assert_eq!(
        context["last_requests"][0]["text"],
        "/orchestrator create TODO app by Next.js"
    );

    // An agent with no task tool: a plan, then `task add` and `task done`.
    let live = store.start("port");
    store.ok(&[
        "note",
        "--session",
        &live,
        "--plan",
        "- read the parser\n- port it",
    ]);
    assert_eq!(
        store
            .ok(&["task", "add", "--session", &live, "write the tests"])
            .trim(),
        "3"
    );
    assert_eq!(
        store.ok(&["task", "done", "--session", &live, "1"]).trim(),
        "1"
    );
    assert_eq!(
        store
            .ok(&["task", "done", "--session", &live, "write"])
            .trim(),
        "3"
    );
    let tasks = json_of(&store.ok(&["task", "ls", "--session", &live, "--json"]));
    let statuses: Vec<(&str, &str, &str)> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["text"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
                t["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("read the parser", "completed", "plan"),
            ("port it", "pending", "plan"),
            ("write the tests", "completed", "logbook"),
        ]
    );
    let r = review(&store, &live);
    assert_eq!(r["tasks"]["completion_rate"], 0.667);
    let md = store.ok(&["review", &live]);
    assert!(
        md.contains("## Tasks: 2 of 3 completed (67%), 1 open"),
        "{md}"
    );
    assert!(md.contains("- [ ] 2. port it (pending)"), "{md}");
    store.fails(&["task", "done", "--session", &live, "9"], 2);
    store.fails(&["task", "add", "--session", &live, "  "], 2);
    store.ok(&["end", &live]);
    store.fails(&["task", "add", "--session", &live, "too late"], 1);
    same_after_replay(&store);
}

/// One Claude Code-shaped turn: `prompt`, then a Bash call of `command`
/// answered `result` (an error when `failed`).
fn turn(n: u32, prompt: &str, command: &str, failed: bool, result: &str) -> String {
    let at = format!("2026-11-0{n}T10:00:00.000Z");
    format!(
        concat!(
            r#"{{"type":"user","timestamp":"{at}","message":{{"role":"user","content":"{prompt}"}}}}"#,
            "\n",
            r#"{{"type":"assistant","timestamp":"{at}","message":{{"id":"msg_{n}","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"tool_use","id":"tu_{n}","name":"Bash","input":{{"command":"{command}"}}}}],"usage":{{"input_tokens":3,"output_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#,
            "\n",
            r#"{{"type":"user","timestamp":"{at}","message":{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"tu_{n}","is_error":{failed},"content":"{result}"}}]}}}}"#,
            "\n"
        ),
        at = at,
        n = n,
        prompt = prompt,
        command = command,
        failed = failed,
        result = result
    )
}

/// Runs one session through the hooks in `project`: startup (returning
/// what it printed), the transcript, notes, then an end that hands
/// nothing on (`other`, as every `claude -p` run ends).
fn session(store: &Store, project: &Path, agent: &str, text: &str, notes: &[&[&str]]) -> String {
    let transcript = store.scratch().join(format!("claude/{agent}.jsonl"));
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    let at = |event: &str, extra: Value| payload(event, agent, &transcript, project, extra);
    let out = store.piped(&["hook"], &at("SessionStart", json!({"source": "startup"})));
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    append_text(&transcript, text);
    assert!(
        store
            .piped(&["hook"], &at("Stop", json!({})))
            .status
            .success()
    );
    let id = sessions_of(store, agent)[0].clone();
    for note in notes {
        let mut args = vec!["note", "--session", id.as_str()];
        args.extend_from_slice(note);
        store.ok(&args);
    }
    let end = at("SessionEnd", json!({"reason": "other"}));
    assert!(store.piped(&["hook"], &end).status.success());
    printed
}

#[test]
fn a_projects_memory_holds_its_three_sessions_and_briefs_the_next() {
    let store = Store::new();
    let app = store.scratch().join("app");
    let other = store.scratch().join("other");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::create_dir_all(&other).unwrap();

    let first = session(
        &store,
        &app,
        "a1",
        &[
            turn(
                1,
                "add a parser",
                "cargo test",
                true,
                "test result: FAILED. 1 failed",
            ),
            turn(
                2,
                "no, never use unwrap in library code",
                "cargo test",
                false,
                "test result: ok. 2 passed",
            ),
        ]
        .concat(),
        &[&["--decision", "errors are thiserror enums"]],
    );
    // Nothing was recorded in this project before: nothing to tell.
    assert_eq!(first, "");
    session(
        &store,
        &other,
        "b1",
        &turn(1, "don't touch the other project's files", "ls", false, "x"),
        &[&["--decision", "the other project uses tokio"]],
    );
    session(
        &store,
        &app,
        "a2",
        &turn(3, "let's use sled for the log", "cargo build", false, "ok"),
        &[&["--memory", "run cargo fmt before every commit"]],
    );
    let third = session(
        &store,
        &app,
        "a3",
        &turn(
            4,
            "stop adding dependencies without asking",
            "cargo test",
            false,
            "ok",
        ),
        &[&["--correction", "never push to main"]],
    );
    // The third session was briefed with what the first two left.
    assert!(
        third.contains("run cargo fmt before every commit"),
        "{third}"
    );
    assert!(
        third.contains("never use unwrap in library code"),
        "{third}"
    );
    assert!(third.contains("errors are thiserror enums"), "{third}");
    assert!(!third.contains("tokio"), "{third}");

    // The memory now holds all three sessions of the app, none of the other.
    let args = ["memory", "--project", app.to_str().unwrap(), "--json"];
    let memory = json_of(&store.ok(&args));
    assert_eq!(memory["sessions"], 3);
    let texts = |key: &str| -> Vec<String> {
        memory[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        texts("corrections"),
        [
            "never push to main",
            "stop adding dependencies without asking",
            "no, never use unwrap in library code"
        ]
    );
    assert_eq!(
        texts("decisions"),
        ["errors are thiserror enums", "let's use sled for the log"]
    );
    assert_eq!(texts("remembered"), ["run cargo fmt before every commit"]);
    // The failing test run, then the passing one, is a fixed error.
    assert_eq!(memory["errors"][0]["command"], "cargo test");
    assert!(memory["errors"][0]["fixed_at"].is_string());
    let dump = memory.to_string();
    assert!(!dump.contains("tokio") && !dump.contains("other project"));

    // The Markdown files say the same.
    let dir = store.root().join("projects");
    let folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 2);
    let app_dir = folders
        .iter()
        .find(|f| f.file_name().unwrap().to_str().unwrap().starts_with("app-"))
        .unwrap();
    let corrections = std::fs::read_to_string(app_dir.join("corrections.md")).unwrap();
    assert!(
        corrections.contains("- never push to main"),
        "{corrections}"
    );
    assert!(
        std::fs::read_to_string(app_dir.join("decisions.md"))
            .unwrap()
            .contains("errors are thiserror enums")
    );

    // From a subdirectory, `memory` finds the project above.
    let sub = app.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    let text = store.ok(&["memory", "--project", sub.to_str().unwrap()]);
    assert!(text.contains("# Corrections: "), "{text}");

    // The brief keeps to its configured cap, and one setting turns it off.
    store.configure("memory_brief_chars = 200\n");
    let brief = session(&store, &app, "a4", &turn(5, "hello", "ls", false, "x"), &[]);
    assert!(!brief.is_empty() && brief.chars().count() <= 200, "{brief}");
    assert!(brief.contains("never push to main"), "{brief}");
    store.configure("memory_brief = false\n");
    assert_eq!(
        session(&store, &app, "a5", &turn(6, "hi", "ls", false, "x"), &[]),
        ""
    );
    store.configure("");

    // A session with no agent directory has no project to remember in.
    let bare = store.start("bare");
    store.fails(&["note", "--session", &bare, "--memory", "x"], 1);
    store.fails(&["memory", "--project", "/nonexistent/dir"], 1);
    same_after_replay(&store);

    // A memory file that cannot be read costs the brief, never the
    // session; `verify` finds the file wrong, `replay` rebuilds it.
    std::fs::write(app_dir.join("memory.json"), b"{not json").unwrap();
    assert_eq!(
        session(&store, &app, "a6", &turn(7, "hi", "ls", false, "x"), &[]),
        ""
    );
    assert_eq!(store.run(&["verify"]).status.code(), Some(1));
    store.ok(&["replay"]);
    store.ok(&["verify"]);
    let memory = json_of(&store.ok(&args));
    assert_eq!(memory["sessions"], 6);
}

#[test]
fn secrets_never_reach_reviews_tasks_or_memory() {
    let store = Store::new();
    let app = store.scratch().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMn";
    let text = turn(
        1,
        &format!("never paste {key} again"),
        &format!("ANTHROPIC_API_KEY={key} cargo test"),
        true,
        &format!("error: bad key {key}"),
    );
    session(
        &store,
        &app,
        "s1",
        &text,
        &[&["--memory", &format!("the key is {key}")]],
    );
    let mut seen = 0;
    for (path, bytes) in store.projected_files() {
        let name = path.rsplit('/').next().unwrap();
        if ["review.json", "review.md", "tasks.json", "review-fold.json"].contains(&name)
            || path.starts_with("projects/")
        {
            seen += 1;
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("AbCdEfGhIj"), "{path} holds the key");
        }
    }
    assert!(seen >= 9, "{seen}");
    let args = ["memory", "--project", app.to_str().unwrap(), "--brief"];
    let brief = store.ok(&args);
    assert!(
        brief.contains("the key is") && !brief.contains("AbCdEfGhIj"),
        "{brief}"
    );
}
