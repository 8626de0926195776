//! Codex CLI and Gemini CLI: their real session files (tests/fixtures/codex
//! and gemini, with SOURCES.md), imported, swept and counted like Claude
//! Code's.

use std::path::{Path, PathBuf};

use logbook_tests::{Store, agent_fixture, append_text, fixtures, wait_until};
use serde_json::Value;

/// Token figures of one session as `tokens --json` gives them.
#[derive(Debug, PartialEq, Eq)]
struct Counted {
    input: u64,
    cache_read: u64,
    output: u64,
    responses: u64,
}

fn import(store: &Store, paths: &[&Path]) -> Value {
    let mut args = vec!["import", "--json"];
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    serde_json::from_str(&store.ok(&args)).unwrap()
}

/// Imports five fixtures into a new store, twice: each a new session,
/// none malformed. Returns both summaries.
fn import_twice(store: &Store, paths: &[PathBuf]) -> (Value, Value) {
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let first = import(store, &refs);
    assert_eq!(first["files"], 5);
    assert_eq!(first["new_sessions"], 5);
    assert_eq!(first["malformed"], serde_json::json!([]));
    (first, import(store, &refs))
}

/// `tokens --json` rows by the agent's session id.
fn counted(store: &Store, agent_session: &str) -> Counted {
    let rows: Value = serde_json::from_str(&store.ok(&["tokens", "--json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent_session_id"] == agent_session)
        .unwrap_or_else(|| panic!("no tokens row for {agent_session}: {rows:#}"));
    let n = |k: &str| row[k].as_u64().unwrap();
    assert_eq!(n("cache_creation"), 0, "neither agent reports cache writes");
    Counted {
        input: n("input"),
        cache_read: n("cache_read"),
        output: n("output"),
        responses: n("responses"),
    }
}

fn session_of(store: &Store, agent_session: &str) -> String {
    store
        .sessions()
        .iter()
        .find(|s| s["agent"]["session_id"] == agent_session)
        .unwrap_or_else(|| panic!("no session for {agent_session}"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Reads `sessions/<id>/<file>` of `store` as JSON.
fn projected(store: &Store, id: &str, file: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(store.root().join("sessions").join(id).join(file)).unwrap(),
    )
    .unwrap()
}

/// A new folder `under` the store's scratch space, for an agent's files.
fn folder(store: &Store, under: &str) -> PathBuf {
    let dir = store.scratch().join(under);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each Codex fixture, its thread id, and the hand count of its unique
/// usage. Codex writes usage only in `token_count` events, whose
/// `total_token_usage` is the thread's running total; input there includes
/// the cached part, and logbook's `input` is the fresh part. So the count
/// is the last running total: fresh = input_tokens - cached_input_tokens,
/// cache_read = cached_input_tokens, output = output_tokens (reasoning
/// included). `responses` is the number of distinct running totals (one
/// per model request), which leaves out the `info: null` opener and every
/// re-emission.
const CODEX: &[(&str, &str, Counted)] = &[
    // 0.77 exec: 6 token_counts = 1 null + 3 distinct + 2 re-emitted.
    // Last total: input 22,474 (cached 14,848), output 300.
    (
        "codemie-code/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl",
        "019b7f94-51b4-7593-922e-ba12b5b73b52",
        Counted {
            input: 7_626,
            cache_read: 14_848,
            output: 300,
            responses: 3,
        },
    ),
    // 0.125 tui: 66 token_counts, none null or repeated.
    // Last total: input 6,055,836 (cached 4,929,536), output 9,118.
    (
        "codemie-code/rollout-2026-05-11T11-26-55-019e1625-789d-76c0-80ab-3724b5ddb799.jsonl",
        "019e1625-789d-76c0-80ab-3724b5ddb799",
        Counted {
            input: 1_126_300,
            cache_read: 4_929_536,
            output: 9_118,
            responses: 66,
        },
    ),
    // 0.104: 162 = 1 null + 81 distinct + 80 re-emitted.
    (
        "localpush/rollout-2026-02-23T12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl",
        "019c8a4c-ed82-79a1-aa28-7738fc5ab61a",
        Counted {
            input: 367_673,
            cache_read: 6_836_352,
            output: 36_075,
            responses: 81,
        },
    ),
    // 0.104 with a compaction: 573 = 1 null + 286 distinct + 285
    // re-emitted + 1 phantom (same running total, last_token_usage of
    // 940,499 at the compaction). Summing last_token_usage line by line
    // gives 69,395,466 tokens; the thread's own total is 33,944,484.
    (
        "localpush/rollout-2026-02-23T12-54-34-019c8a59-e9dd-71f0-9ae3-4079fe9726a9.jsonl",
        "019c8a59-e9dd-71f0-9ae3-4079fe9726a9",
        Counted {
            input: 2_188_981,
            cache_read: 31_621_504,
            output: 133_999,
            responses: 286,
        },
    ),
    // 0.39 vscode: 19 token_counts, all distinct.
    (
        "vibecodingtracker/test_conversation_oai.jsonl",
        "01996135-afde-7911-97f0-d863511eca56",
        Counted {
            input: 133_698,
            cache_read: 136_832,
            output: 12_551,
            responses: 19,
        },
    ),
];

#[test]
fn every_codex_fixture_imports_once_and_counts_each_request_once() {
    let store = Store::new();
    let paths: Vec<PathBuf> = CODEX
        .iter()
        .map(|(p, ..)| agent_fixture("codex", p))
        .collect();
    let (first, again) = import_twice(&store, &paths);
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(first["bytes"], bytes, "every byte kept");
    assert_eq!(
        (again["lines"].as_u64(), again["new_sessions"].as_u64()),
        (Some(0), Some(0))
    );

    for (_, thread, expected) in CODEX {
        assert_eq!(&counted(&store, thread), expected, "{thread}");
        let id = session_of(&store, thread);
        assert_eq!(store.show(&id)["agent"]["kind"], "codex");
    }
    // The compaction is recorded where Codex wrote it.
    let compacted = session_of(&store, "019c8a59-e9dd-71f0-9ae3-4079fe9726a9");
    let timeline: Value =
        serde_json::from_str(&store.ok(&["timeline", &compacted, "--json"])).unwrap();
    let kinds = logbook_tests::strs(&timeline["actions"], "kind");
    assert_eq!(kinds.iter().filter(|k| **k == "compaction").count(), 1);
    // And the summary Codex wrote there is in the readable transcript.
    let md = store.ok(&["render", &compacted, "--format", "md"]);
    assert_eq!(md.matches("### Compaction summary").count(), 1);
    // 38 user messages: each typed prompt once (Codex writes each twice).
    assert_eq!(kinds.iter().filter(|k| **k == "prompt").count(), 38);
}

#[test]
fn codex_views_context_timeline_search_render() {
    let store = Store::new();
    let path = agent_fixture("codex", CODEX[1].0);
    import(&store, &[&path]);
    let id = session_of(&store, CODEX[1].1);

    let context = projected(&store, &id, "context.json");
    // Three apply_patch calls, one file each (hand count of the patches).
    let modified = logbook_tests::strs(&context["files_modified"], "path");
    assert_eq!(modified.len(), 3, "{modified:?}");
    assert!(modified.contains(&"src/agents/plugins/codemie-code.plugin.ts"));
    // 43 exec_command calls, in order, with the files 0.125 says they read.
    assert_eq!(context["commands"].as_array().unwrap().len(), 43);
    assert!(!context["files_read"].as_array().unwrap().is_empty());
    assert_eq!(context["tool_counts"]["apply_patch"], 3);
    assert_eq!(context["tool_counts"]["write_stdin"], 54);

    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap();
    let tools = actions.iter().filter(|a| a["kind"] == "tool").count();
    // 99 function calls + 3 apply_patch + 3 web searches.
    assert_eq!(tools, 105);
    assert!(
        actions
            .iter()
            .all(|a| a["kind"] != "tool" || a["outcome"] != "pending"),
        "every call has its result"
    );
    let patch = actions.iter().find(|a| a["tool"] == "apply_patch").unwrap();
    assert!(patch["added"].as_u64().unwrap() > 0);
    // Each poll of (or input to) a running command names it by the
    // session number its `exec_command` answer gave; the Ctrl-C sent to
    // the dev server is shown escaped.
    let polls: Vec<&Value> = actions
        .iter()
        .filter(|a| a["tool"] == "write_stdin")
        .collect();
    assert_eq!(polls.len(), 54);
    assert!(
        polls.iter().all(|a| a["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("session "))),
        "{polls:#?}"
    );
    assert_eq!(polls[0]["target"], "session 48230");
    assert!(
        polls
            .iter()
            .any(|a| a["target"] == r#"session 20936: "\u{3}""#)
    );

    // 0.125 answers `exec_command` after a second, the process still
    // running, and writes `exec_command_end` when it exits: the first of
    // the three test runs failed (exit 1, the test written before the
    // fix), whatever its first answer said.
    let tests: Vec<&Value> = actions
        .iter()
        .filter(|a| {
            a["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("npm test"))
        })
        .collect();
    let outcomes: Vec<(&Value, &Value)> =
        tests.iter().map(|a| (&a["outcome"], &a["error"])).collect();
    assert_eq!(
        outcomes,
        [
            (&"error".into(), &"exit code 1".into()),
            (&"ok".into(), &Value::Null),
            (&"ok".into(), &Value::Null)
        ]
    );
    // A failed call whose output is empty (a poll of a process that wrote
    // nothing and exited 1) still says why: its exit code.
    let silent: Vec<&Value> = actions
        .iter()
        .filter(|a| a["outcome"] == "error" && a["error"].as_str().is_none_or(str::is_empty))
        .collect();
    assert!(silent.is_empty(), "{silent:#?}");
    assert!(
        actions
            .iter()
            .any(|a| a["tool"] == "write_stdin" && a["error"] == "exit code 1")
    );
    let runs: Vec<(&Value, &Value)> = context["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["command"].as_str().unwrap().starts_with("npm test"))
        .map(|c| (&c["status"], &c["exit_code"]))
        .collect();
    assert_eq!(
        runs,
        [
            (&"error".into(), &1.into()),
            (&"ok".into(), &0.into()),
            (&"ok".into(), &0.into())
        ]
    );
    let review = projected(&store, &id, "review.json");
    assert_eq!(
        (
            &review["tests"]["runs"],
            &review["tests"]["passed"],
            &review["tests"]["failed"]
        ),
        (&3.into(), &2.into(), &1.into()),
        "{:#}",
        review["test_runs"]
    );
    assert_eq!(review["test_runs"][0]["passed"], false);
    // What a command wrote is its result; Codex's header around it (chunk
    // id, wall time) is not searched.
    assert!(
        !store
            .run(&["search", "chunk", "--session", &id])
            .status
            .success()
    );
    // 0.125 says at a command's end which files it read: `files` finds
    // them there (the plugin was read by `sed` five times, then patched).
    let uses = file_actions(&store, "src/agents/plugins/codemie-code.plugin.ts");
    let read = ("exec_command".to_owned(), "read".to_owned());
    assert_eq!(uses.iter().filter(|u| **u == read).count(), 5, "{uses:?}");
    assert!(uses.contains(&("apply_patch".to_owned(), "changed".to_owned())));
    // Every hit has something to show, even for a query that matches all.
    let all: Value = serde_json::from_str(&store.ok(&[
        "search",
        "*",
        "--session",
        &id,
        "--limit",
        "1000",
        "--json",
    ]))
    .unwrap();
    let hits = all.as_array().unwrap();
    assert!(hits.iter().all(|h| h["snippet"] != ""), "{all:#}");

    let hits: Value = serde_json::from_str(&store.ok(&["search", "compart", "--json"])).unwrap();
    let hits = hits.as_array().unwrap();
    assert!(
        hits.iter()
            .any(|h| h["role"] == "prompt" && h["session"] == id.as_str())
    );

    let md = store.ok(&["render", &id, "--format", "md"]);
    assert!(md.contains("let's update the defailt context compart to 90 in env var"));
    assert!(md.contains("apply_patch"));
    // The failed test run shows its whole output and its exit.
    assert_eq!(
        md.matches("(exit code 1)").count(),
        3,
        "the test run and two rg"
    );
}

/// What `files --json` says each call did to `path`, oldest first.
fn file_actions(store: &Store, path: &str) -> Vec<(String, String)> {
    let uses: Value = serde_json::from_str(&store.ok(&["files", path, "--json"])).unwrap();
    uses.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["tool"].as_str().unwrap().to_owned(),
                u["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Codex 0.39 had no `apply_patch` tool: the model ran `applypatch <<
/// 'PATCH'` through `shell`, and Codex applied the patch itself. Those are
/// edits (the files, their lines), not commands, in every view; and
/// `files` says what each agent's calls did from what they did, not from
/// Claude Code's tool names.
#[test]
fn a_patch_run_through_codexs_shell_is_an_edit_and_files_says_what_each_agent_did() {
    let store = Store::new();
    let oai = agent_fixture("codex", CODEX[4].0);
    import(&store, &[&oai, &agent_fixture("gemini", GEMINI[2].0)]);
    let id = session_of(&store, CODEX[4].1);
    let context = projected(&store, &id, "context.json");
    // Hand count: five `applypatch` heredocs, one of them empty (rejected).
    let modified = logbook_tests::strs(&context["files_modified"], "path");
    assert_eq!(
        modified.len(),
        4,
        "go.mod, both READMEs, .python-version: {modified:?}"
    );
    assert!(modified.contains(&"go.mod"));
    let commands = context["commands"].to_string();
    assert!(!commands.contains("Begin Patch"), "{commands}");
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let patch = timeline["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"] == "go.mod")
        .unwrap();
    // `-go 1.24.0` and two unchanged lines rewritten: +3 -3.
    assert_eq!((&patch["added"], &patch["removed"]), (&3.into(), &3.into()));

    assert_eq!(
        file_actions(&store, "go.mod"),
        [("shell".into(), "changed".into())]
    );
    // Gemini CLI's read_file reads, write_file and replace change.
    let gemini_md: Vec<String> = file_actions(&store, "GEMINI.md")
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(gemini_md, ["changed", "changed"]);
    assert!(
        file_actions(&store, "README.md")
            .iter()
            .all(|(tool, action)| tool != "read_file" || action == "read")
    );
    assert!(
        file_actions(&store, "README.md")
            .iter()
            .any(|(tool, _)| tool == "read_file")
    );
}

#[test]
fn a_forked_rollout_counts_only_its_own_work_and_a_compressed_one_is_the_same_thread() {
    let store = Store::new();
    let parent = agent_fixture("codex", CODEX[0].0);
    let parent_lines = std::fs::read_to_string(&parent).unwrap();
    // A fork made after the parent's last line: Codex copies the parent's
    // lines verbatim (their own timestamps), then goes on with its own
    // running total, which carries the parent's over.
    let created = uuid::Timestamp::from_unix(uuid::NoContext, 1_767_400_000, 0); // 2026-01-03
    let fork_id = uuid::Uuid::new_v7(created).to_string();
    let dir = store.scratch().join("codex/sessions/2026/01/03");
    std::fs::create_dir_all(&dir).unwrap();
    let fork = dir.join(format!("rollout-2026-01-03T00-26-40-{fork_id}.jsonl"));
    let meta = format!(
        r#"{{"timestamp":"2026-01-03T00:26:40.000Z","type":"session_meta","payload":{{"id":"{fork_id}","forked_from_id":"{}","timestamp":"2026-01-03T00:26:40.000Z","cwd":"/tmp/fork","originator":"codex_cli_rs","cli_version":"0.77.0"}}}}"#,
        CODEX[0].1
    );
    let own = [
        r#"{"timestamp":"2026-01-03T00:27:00.000Z","type":"turn_context","payload":{"cwd":"/tmp/fork","model":"gpt-5-1-codex-2025-11-13"}}"#,
        r#"{"timestamp":"2026-01-03T00:27:01.000Z","type":"event_msg","payload":{"type":"user_message","message":"now the fork's own question","images":[]}}"#,
        // The parent ended at input 22,474 (cached 14,848), output 300; the
        // fork's one request adds input 1,000 (cached 600) and output 50.
        r#"{"timestamp":"2026-01-03T00:27:05.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":23474,"cached_input_tokens":15448,"output_tokens":350,"reasoning_output_tokens":0,"total_tokens":23824},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":600,"output_tokens":50,"reasoning_output_tokens":0,"total_tokens":1050}}}}"#,
        // And Codex writes it again after the next turn_context.
        r#"{"timestamp":"2026-01-03T00:27:06.000Z","type":"turn_context","payload":{"cwd":"/tmp/fork","model":"gpt-5-1-codex-2025-11-13"}}"#,
        r#"{"timestamp":"2026-01-03T00:27:06.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":23474,"cached_input_tokens":15448,"output_tokens":350,"reasoning_output_tokens":0,"total_tokens":23824},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":600,"output_tokens":50,"reasoning_output_tokens":0,"total_tokens":1050}}}}"#,
    ];
    std::fs::write(&fork, format!("{meta}\n{parent_lines}{}\n", own.join("\n"))).unwrap();

    import(&store, &[&parent, &fork]);
    assert_eq!(
        counted(&store, CODEX[0].1),
        CODEX[0].2,
        "the parent as before"
    );
    assert_eq!(
        counted(&store, &fork_id),
        Counted {
            input: 400,
            cache_read: 600,
            output: 50,
            responses: 1
        },
        "the fork: its own request only"
    );
    let fork_session = session_of(&store, &fork_id);
    let timeline: Value =
        serde_json::from_str(&store.ok(&["timeline", &fork_session, "--json"])).unwrap();
    let prompts: Vec<&Value> = timeline["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "prompt")
        .collect();
    assert_eq!(prompts.len(), 1, "the parent's prompt stays the parent's");
    assert_eq!(prompts[0]["detail"], "now the fork's own question");

    // Compressed: the same parent rollout as `.jsonl.zst` in another Codex
    // home is the same thread and adds nothing; alone, it imports whole.
    let zst = store.scratch().join("parent.jsonl.zst");
    let name = parent.file_name().unwrap().to_string_lossy().into_owned();
    let zst = zst.with_file_name(format!("{name}.zst"));
    std::fs::write(&zst, zstd::encode_all(parent_lines.as_bytes(), 3).unwrap()).unwrap();
    let again = import(&store, &[&zst]);
    assert_eq!(
        (again["files"].as_u64(), again["lines"].as_u64()),
        (Some(1), Some(0))
    );
    let fresh = Store::new();
    let whole = import(&fresh, &[&zst]);
    assert_eq!(whole["bytes"], parent_lines.len() as u64);
    assert_eq!(counted(&fresh, CODEX[0].1), CODEX[0].2);
}

/// Each Gemini fixture, its session id and the hand count of its unique
/// messages' tokens. Gemini writes tokens per API response on each
/// `gemini` message: `input` includes `cached`; `thoughts` and `tool` are
/// billed beside output and input. So fresh input = input - cached + tool,
/// cache_read = cached, output = output + thoughts; one response per
/// message id, whatever number of times it was written.
const GEMINI: &[(&str, Counted)] = &[
    // Legacy JSON, 14 messages, 11 with tokens: input 101,630, cached
    // 56,538, output 2,734, thoughts 1,493, tool 0 (SOURCES.md).
    (
        "codemie-code/session-2025-12-01T21-45-5b959dae.json",
        Counted {
            input: 45_092,
            cache_read: 56_538,
            output: 4_227,
            responses: 11,
        },
    ),
    // Legacy JSON, 9 with tokens: input 87,418, cached 62,117, output
    // 1,441, thoughts 2,914.
    (
        "codemie-code/session-2026-01-16T11-01-file-ops-37b7abef.json",
        Counted {
            input: 25_301,
            cache_read: 62_117,
            output: 4_355,
            responses: 9,
        },
    ),
    // JSONL: 16 message lines for 11 ids; 5 gemini messages written twice
    // with the same tokens. Last copy per id: 206,879 tokens in all
    // (summing every line: 373,199).
    (
        "vibecodingtracker/test_conversation_gemini.jsonl",
        Counted {
            input: 153_635,
            cache_read: 48_951,
            output: 4_293,
            responses: 6,
        },
    ),
    // Legacy JSON, newest shape: 3 with tokens: input 76,348, cached
    // 39,826, output 9,325, thoughts 11,616.
    (
        "vibecodingtracker/test_conversation_gemini.894772f.json",
        Counted {
            input: 36_522,
            cache_read: 39_826,
            output: 20_941,
            responses: 3,
        },
    ),
    // Legacy JSON, older shape, no toolCalls: 18 with tokens: input
    // 466,642, cached 326,620, output 3,302, thoughts 3,642.
    (
        "vibecodingtracker/test_conversation_gemini.b36a8d3.json",
        Counted {
            input: 140_022,
            cache_read: 326_620,
            output: 6_944,
            responses: 18,
        },
    ),
];

fn gemini_session_id(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let first: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().next().unwrap()))
        .unwrap();
    first["sessionId"].as_str().unwrap().to_owned()
}

#[test]
fn every_gemini_fixture_imports_once_and_counts_each_message_once() {
    let store = Store::new();
    let paths: Vec<PathBuf> = GEMINI
        .iter()
        .map(|(p, _)| agent_fixture("gemini", p))
        .collect();
    let (_, again) = import_twice(&store, &paths);
    assert_eq!(again["lines"], 0, "a second import adds nothing");
    for ((_, expected), path) in GEMINI.iter().zip(&paths) {
        let id = gemini_session_id(path);
        assert_eq!(&counted(&store, &id), expected, "{}", path.display());
    }
    // The JSONL form is kept byte for byte.
    let jsonl = &paths[2];
    let id = session_of(&store, &gemini_session_id(jsonl));
    assert_eq!(
        logbook_tests::parts_of(&store, &id, "main"),
        std::fs::read(jsonl).unwrap()
    );
    // Its views hold each message once, however often it was written: 3
    // prompts, 12 tool calls (read_file 7, update_topic 3, write_file 1,
    // replace 1), each with its result.
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap();
    assert_eq!(actions.iter().filter(|a| a["kind"] == "prompt").count(), 3);
    let tools: Vec<&Value> = actions.iter().filter(|a| a["kind"] == "tool").collect();
    assert_eq!(tools.len(), 12);
    assert!(tools.iter().all(|a| a["outcome"] == "ok"));
    let context = projected(&store, &id, "context.json");
    assert_eq!(context["tool_counts"]["read_file"], 7);
    // write_file and replace both change GEMINI.md.
    let modified = context["files_modified"].as_array().unwrap();
    assert_eq!(modified.len(), 1);
    assert_eq!(modified[0]["path"], "GEMINI.md");
    assert_eq!(modified[0]["count"], 2);
    // Searchable and readable like a Claude Code session.
    let hits: Value =
        serde_json::from_str(&store.ok(&["search", "comprehensive", "--session", &id, "--json"]))
            .unwrap();
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h["role"] == "prompt"),
        "{hits:#}"
    );
    let md = store.ok(&["render", &id, "--format", "md"]);
    assert!(md.contains("generate a comprehensive GEMINI.md file"));
    assert!(md.matches("read_file").count() >= 7, "each call shown");

    // A rewrite counts what it changed, as Gemini CLI's own diff of the
    // file says (its diffStat agrees: README.md +15 -45 of 264 lines), not
    // the whole content it wrote.
    let id = session_of(&store, &gemini_session_id(&paths[3]));
    let text = store.ok(&["timeline", &id]);
    for written in [
        "write_file README.md  +15 -45  ok",
        "write_file README.zh-CN.md  +14 -43  ok",
        "write_file README.zh-TW.md  +14 -43  ok",
        "write_file CONTRIBUTING.md  +102 -0  ok",
    ] {
        assert!(text.contains(written), "{written}:\n{text}");
    }
    let md = store.ok(&["render", &id, "--format", "md"]);
    assert!(md.contains("@@ -21,7 +21,7 @@"), "the diff is shown");

    // `delegate_to_agent` runs a subagent: the call and its end name it.
    let id = session_of(&store, "37b7abef-713d-4522-85f0-8ff15a4e6d17");
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap();
    let call = actions
        .iter()
        .position(|a| a["tool"] == "delegate_to_agent")
        .unwrap();
    assert_eq!(actions[call]["target"], "codebase_investigator");
    assert_eq!(actions[call + 1]["kind"], "subagent_end", "{timeline:#}");
    assert_eq!(actions[call + 1]["target"], "codebase_investigator");
    // A to-do list names its size and the item in progress.
    let todos: Vec<&str> = actions
        .iter()
        .filter(|a| a["tool"] == "write_todos")
        .map(|a| a["target"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        todos,
        [
            "4 items, in progress: Investigate codebase architecture for Adaptability and Security (Delegate to Agent)",
            "4 items, in progress: Review specific security policy documents and scripts (SECURITY.md, validate-secrets.js)",
            "5 items, in progress: Check usages of CredentialStore and pre-commit hooks",
        ]
    );
    // Two calls of one message share its time: `files` keeps the order
    // Gemini made them in, the read before the write it was for.
    let uses: Value = serde_json::from_str(&store.ok(&["files", "hello.md", "--json"])).unwrap();
    assert_eq!(
        logbook_tests::strs(&uses, "action"),
        ["changed", "read", "changed", "read", "changed"],
        "{uses:#}"
    );
}

/// The three snapshots of one Gemini session (entire-cli), in the order
/// Gemini CLI wrote them, each replacing the last at one path.
fn snapshots() -> Vec<PathBuf> {
    [
        "entire-cli/c9-45f262e88d-0.full.jsonl",
        "entire-cli/9c-53780d06b7-0.full.jsonl",
        "entire-cli/ab-2b9748b105-0.full.jsonl",
    ]
    .iter()
    .map(|p| agent_fixture("gemini", p))
    .collect()
}

#[test]
fn a_gemini_file_rewritten_whole_adds_only_what_changed() {
    let store = Store::new();
    let chats = folder(&store, "gemini/.gemini/tmp/abc/chats");
    let live = chats.join("session-2026-01-05T20-51-f7633853.json");
    let [first, second, third] = &snapshots()[..] else {
        unreachable!()
    };
    let lines = |v: &Value| v["lines"].as_u64().unwrap();

    // Version 1: header + 3 messages.
    std::fs::copy(first, &live).unwrap();
    assert_eq!(lines(&import(&store, &[&live])), 4);
    assert_eq!(lines(&import(&store, &[&live])), 0, "unchanged: nothing");

    // One more message, written whole like Gemini CLI does: exactly that
    // message is captured.
    let mut v1: Value = serde_json::from_slice(&std::fs::read(first).unwrap()).unwrap();
    let v2: Value = serde_json::from_slice(&std::fs::read(second).unwrap()).unwrap();
    let added = v2["messages"][3].clone();
    v1["messages"].as_array_mut().unwrap().push(added.clone());
    std::fs::write(&live, serde_json::to_vec_pretty(&v1).unwrap()).unwrap();
    let one_more = import(&store, &[&live]);
    assert_eq!(lines(&one_more), 1);
    let id = session_of(&store, "f7633853-6663-4dbb-bbf4-6159afa29df8");
    let parts = String::from_utf8(logbook_tests::parts_of(&store, &id, "main")).unwrap();
    let last: Value = serde_json::from_str(parts.lines().last().unwrap()).unwrap();
    assert_eq!(last, added, "the message itself, every field kept");

    // The real next versions: message 3's toolCalls changed in place and
    // later ones were added; each changed or new message once.
    std::fs::copy(second, &live).unwrap();
    // Messages 3 (changed), 5..8 (new): 4 is the one already added.
    assert_eq!(lines(&import(&store, &[&live])), 5);
    std::fs::copy(third, &live).unwrap();
    import(&store, &[&live]);
    // Tokens: each of the 11 gemini messages once, at its last count.
    assert_eq!(
        counted(&store, "f7633853-6663-4dbb-bbf4-6159afa29df8"),
        Counted {
            input: 17_521,
            cache_read: 113_854,
            output: 1_812,
            responses: 11
        }
    );
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let tools = timeline["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "tool")
        .count();
    // write_file 1, run_shell_command 6, read_file 2.
    assert_eq!(tools, 9);

    // Earlier history disappears (the file is rewound to version 1): a
    // reset is recorded, the stream starts again, and nothing is counted
    // twice.
    std::fs::copy(first, &live).unwrap();
    import(&store, &[&live]);
    let log = store.ok(&["log", "--session", &id, "--json"]);
    assert!(log.contains("source_reset"), "{log}");
    let after = counted(&store, "f7633853-6663-4dbb-bbf4-6159afa29df8");
    assert_eq!(
        after.responses, 11,
        "tokens already spent stay counted once"
    );
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", &id, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap();
    assert_eq!(actions.iter().filter(|a| a["kind"] == "rewind").count(), 1);
    assert_eq!(actions.iter().filter(|a| a["kind"] == "tool").count(), 9);
}

/// The timeline of session `id`, checked to hold no subagent: no start,
/// no action of another agent.
fn main_agent_only(store: &Store, id: &str) -> Vec<Value> {
    let timeline: Value = serde_json::from_str(&store.ok(&["timeline", id, "--json"])).unwrap();
    let actions = timeline["actions"].as_array().unwrap().clone();
    assert!(
        actions
            .iter()
            .all(|a| a["kind"] != "subagent_start" && a.get("agent").is_none()),
        "{timeline:#}"
    );
    actions
}

/// Gemini CLI resumes a legacy `.json` chat by writing a `.jsonl` beside it
/// that holds the whole history and then goes on (AGENT-FORMATS.md). The
/// second file is the same conversation, not a subagent: its new prompt,
/// call and tokens are the main agent's, in every view.
#[test]
fn a_gemini_chat_resumed_into_a_jsonl_is_one_conversation_not_a_subagent() {
    let store = Store::new();
    let chats = folder(&store, "chats");
    let legacy = chats.join("session-2025-12-01T21-45-5b959dae.json");
    std::fs::copy(agent_fixture("gemini", GEMINI[0].0), &legacy).unwrap();
    let chat: Value = serde_json::from_slice(&std::fs::read(&legacy).unwrap()).unwrap();
    let mut resumed = serde_json::json!({
        "sessionId": chat["sessionId"], "projectHash": chat["projectHash"],
        "startTime": chat["startTime"], "lastUpdated": "2025-12-02T09:00:20.000Z",
        "kind": "main"
    })
    .to_string();
    resumed.push('\n');
    for message in chat["messages"].as_array().unwrap() {
        resumed.push_str(&format!("{message}\n"));
    }
    let path = "/Users/Jane_Smith/Documents/projects/epm-cdme/assistants/lead_resumed.txt";
    for message in [
        serde_json::json!({"id": "resumed-1", "timestamp": "2025-12-02T09:00:00.000Z",
            "type": "user", "content": "No, revert that and check the zanzibar wording"}),
        serde_json::json!({"id": "resumed-2", "timestamp": "2025-12-02T09:00:20.000Z",
            "type": "gemini", "content": "", "model": "gemini-3-pro-image-preview",
            "tokens": {"input": 61000, "output": 40, "cached": 0, "thoughts": 0, "tool": 0, "total": 61040},
            "toolCalls": [{"id": "read_file-resumed", "name": "read_file",
                "args": {"file_path": path}, "status": "success",
                "timestamp": "2025-12-02T09:00:20.000Z",
                "result": [{"functionResponse": {"id": "read_file-resumed", "name": "read_file",
                    "response": {"output": "zanzibar"}}}]}]}),
    ] {
        resumed.push_str(&format!("{message}\n"));
    }
    std::fs::write(
        chats.join("session-2025-12-01T21-45-5b959dae.jsonl"),
        resumed,
    )
    .unwrap();

    let summary = import(&store, &[&chats]);
    assert_eq!(summary["new_sessions"], 1, "{summary:#}");
    let id = session_of(&store, "5b959dae-8655-4cd1-b10f-720b8c336ea2");
    let actions = main_agent_only(&store, &id);
    let last = actions.last().unwrap();
    assert_eq!(
        (&last["kind"], &last["target"]),
        (&Value::from("tool"), &Value::from(path))
    );
    assert_eq!(actions.iter().filter(|a| a["kind"] == "prompt").count(), 4);
    // Tokens: the old history once, the new response on the main chain,
    // and the context is what that response read.
    let tokens = projected(&store, &id, "tokens.json");
    assert_eq!(tokens["sidechains"]["responses"], 0, "{tokens:#}");
    assert_eq!(tokens["main"]["responses"], 12);
    assert_eq!(tokens["context"]["used"], 61_000);
    // The brief carries the new request and the file read.
    let context = projected(&store, &id, "context.json");
    assert!(
        context["last_requests"].to_string().contains("zanzibar"),
        "{context:#}"
    );
    assert!(
        context["files_read"]
            .to_string()
            .contains("lead_resumed.txt")
    );
    // A correction in the resumed part is the user's, not a subagent's.
    let review = projected(&store, &id, "review.json");
    assert!(
        review["corrections"].to_string().contains("zanzibar"),
        "{review:#}"
    );
    let md = store.ok(&["render", &id, "--format", "md"]);
    assert!(!md.to_lowercase().contains("subagent"), "{md}");
}

/// Three copies of one Gemini chat imported together, the newest not last
/// in path order: one conversation, and the context is the newest
/// response's, not the last file's.
#[test]
fn copies_of_a_gemini_chat_are_its_own_work_and_the_newest_sets_the_context() {
    let store = Store::new();
    let paths = snapshots();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    import(&store, &refs);
    let id = session_of(&store, "f7633853-6663-4dbb-bbf4-6159afa29df8");
    let actions = main_agent_only(&store, &id);
    assert_eq!(actions.iter().filter(|a| a["kind"] == "tool").count(), 9);
    let tokens = projected(&store, &id, "tokens.json");
    assert_eq!(tokens["sidechains"]["responses"], 0, "{tokens:#}");
    // The newest response (20:52:56.381, in `ab-…`) read 14,200 tokens;
    // `c9-…`, the oldest copy, is imported last.
    assert_eq!(tokens["context"]["used"], 14_200);
    // Gemini CLI's window, not Claude Code's.
    assert_eq!(tokens["context"]["window"], 1_048_576);
    assert_eq!(tokens["first"], "2026-01-15T20:51:52.837Z");
    assert_eq!(tokens["last"], "2026-01-15T20:52:56.381Z");
}

#[test]
fn truncated_and_garbage_files_of_either_agent_are_kept_and_counted() {
    let store = Store::new();
    // A Codex rollout cut mid-line, with a garbage line inside.
    let rollout = std::fs::read_to_string(agent_fixture("codex", CODEX[0].0)).unwrap();
    let cut = rollout.len() - 200;
    let mut broken = rollout[..cut].to_owned();
    let at = broken.find('\n').unwrap() + 1;
    broken.insert_str(at, "this is not json\n");
    let codex = store.scratch().join(CODEX[0].0.rsplit('/').next().unwrap());
    std::fs::write(&codex, &broken).unwrap();
    // A Gemini chat cut in half (a copy taken mid-write), old enough not to
    // be one being written now.
    let chat = std::fs::read(agent_fixture("gemini", GEMINI[0].0)).unwrap();
    let gemini = store
        .scratch()
        .join("session-2025-12-01T21-45-5b959dae.json");
    std::fs::write(&gemini, &chat[..chat.len() / 2]).unwrap();
    logbook_tests::age(&gemini, std::time::Duration::from_secs(60));

    let summary = import(&store, &[&codex, &gemini]);
    let malformed = summary["malformed"].as_array().unwrap();
    assert_eq!(malformed.len(), 2, "{summary:#}");
    let codex_malformed = malformed
        .iter()
        .find(|m| m[0].as_str().unwrap().ends_with(".jsonl"))
        .unwrap();
    assert_eq!(codex_malformed[1], 1, "the garbage line");
    // Nothing lost: the rollout's complete lines are kept byte for byte
    // (the cut last line waits for its end); the chat's bytes as they are.
    let id = session_of(&store, CODEX[0].1);
    let complete = &broken[..=broken.rfind('\n').unwrap()];
    assert_eq!(
        logbook_tests::parts_of(&store, &id, "main"),
        complete.as_bytes()
    );
    let sessions = store.sessions();
    let chat_session = sessions
        .iter()
        .find(|s| s["agent"]["kind"] == "gemini")
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = logbook_tests::parts_of(&store, &chat_session, "main");
    assert!(kept.starts_with(&chat[..chat.len() / 2]));
    // A second import of the same broken files adds nothing.
    assert_eq!(import(&store, &[&codex, &gemini])["lines"], 0);
    // Tokens up to the cut are counted.
    assert!(counted(&store, CODEX[0].1).responses >= 1);
    store.ok(&["verify"]);
}

/// A home with one session of each agent where the agents keep them.
fn agent_home(store: &Store) {
    let claude = store.scratch().join("claude/projects/-work-demo");
    std::fs::create_dir_all(&claude).unwrap();
    std::fs::copy(
        fixtures().join(
            "viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl",
        ),
        claude.join("fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"),
    )
    .unwrap();
    let codex = store.scratch().join("codex/sessions/2026/05/11");
    std::fs::create_dir_all(&codex).unwrap();
    let name = CODEX[1].0.rsplit('/').next().unwrap();
    std::fs::copy(agent_fixture("codex", CODEX[1].0), codex.join(name)).unwrap();
    let gemini = store.scratch().join("gemini/.gemini/tmp/9da8b3df/chats");
    std::fs::create_dir_all(&gemini).unwrap();
    std::fs::copy(
        agent_fixture("gemini", GEMINI[0].0),
        gemini.join("session-2025-12-01T21-45-5b959dae.json"),
    )
    .unwrap();
    // Gemini's per-project prompt log is not a chat.
    std::fs::copy(
        agent_fixture("gemini", "codemie-code/logs.json"),
        gemini.parent().unwrap().join("logs.json"),
    )
    .unwrap();
}

#[test]
fn import_with_no_argument_finds_every_agent_and_agent_narrows_it() {
    let store = Store::new();
    agent_home(&store);
    let all = import(&store, &[]);
    assert_eq!(all["files"], 3, "logs.json is not a chat: {all:#}");
    let rows: Value =
        serde_json::from_str(&store.ok(&["tokens", "--by", "agent", "--json"])).unwrap();
    let agents = logbook_tests::strs(&rows, "agent");
    assert_eq!(agents, ["claude-code", "codex", "gemini"]);
    let codex_row = &rows[1];
    assert_eq!(codex_row["input"], CODEX[1].2.input);

    let narrowed = Store::new();
    agent_home(&narrowed);
    let summary = narrowed.ok(&["import", "--agent", "codex", "--json"]);
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["files"], 1);
    let kinds: Vec<String> = narrowed
        .sessions()
        .iter()
        .map(|s| s["agent"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["codex"]);
    let err = narrowed.fails(&["import", "--agent", "cursor"], 2);
    assert!(err.contains("unknown agent `cursor`"), "{err}");
}

#[test]
fn the_daemons_sweep_records_every_agent() {
    let store = Store::with_daemon();
    store.configure("sweep_interval_secs = 1\n");
    agent_home(&store);
    // Any command starts the daemon, which sweeps at once.
    store.ok(&["ls"]);
    wait_until(std::time::Duration::from_secs(60), "the sweep", || {
        let mut kinds: Vec<String> = store
            .sessions()
            .iter()
            .map(|s| s["agent"]["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        kinds.sort();
        kinds == ["claude-code", "codex", "gemini"]
    });
    // A Codex session stays open (its rollout is recent) and has no
    // watcher: the next sweeps take what its rollout gains.
    let rollout = store
        .scratch()
        .join("codex/sessions/2026/05/11")
        .join(CODEX[1].0.rsplit('/').next().unwrap());
    let turn = r#"{"timestamp":"2026-05-11T09:00:00.000Z","type":"event_msg","payload":{"type":"user_message","message":"one more thing","images":[]}}"#;
    append_text(&rollout, &format!("{turn}\n"));
    let id = session_of(&store, CODEX[1].1);
    wait_until(std::time::Duration::from_secs(60), "the next sweep", || {
        logbook_tests::parts_of(&store, &id, "main") == std::fs::read(&rollout).unwrap()
    });
    store.stop_daemon();
}

/// Codex CLI's hook payload (its documented shape, like Claude Code's).
fn codex_payload(event: &str, thread: &str, rollout: &Path) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "hook_event_name": event,
        "session_id": thread,
        "transcript_path": rollout,
        "cwd": "/tmp",
        "model": "gpt-5.5",
        "permission_mode": "default",
    }))
    .unwrap()
}

#[test]
fn codex_hooks_install_once_and_capture_each_turn_as_it_ends() {
    let store = Store::new();
    // The sweep stays off: what is captured here, the hooks captured.
    store.configure("sweep_interval_secs = 0\n");
    let codex_home = store.scratch().join("codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let hooks = codex_home.join("hooks.json");
    let theirs =
        r#"{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"notify-send done"}]}]}}"#;
    std::fs::write(&hooks, theirs).unwrap();
    let said = store.ok(&["hooks", "install", "--agent", "codex", "--user"]);
    assert!(said.contains("installed logbook's hooks"), "{said}");
    let installed: Value = serde_json::from_slice(&std::fs::read(&hooks).unwrap()).unwrap();
    for event in ["SessionStart", "UserPromptSubmit", "Stop", "PostCompact"] {
        let commands: Vec<&str> = installed["hooks"][event]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["hooks"].as_array().unwrap())
            .map(|h| h["command"].as_str().unwrap())
            .collect();
        assert!(
            commands
                .iter()
                .any(|c| c.ends_with("logbook hook --agent codex")),
            "{event}: {commands:?}"
        );
    }
    let again = store.ok(&["hooks", "install", "--agent", "codex", "--user"]);
    assert!(again.contains("already"), "{again}");
    store.fails(&["hooks", "install", "--agent", "gemini"], 2);

    // A Codex session, turn by turn: after each turn's Stop the session
    // holds the rollout exactly as far as it was written.
    let fixture = std::fs::read_to_string(agent_fixture("codex", CODEX[1].0)).unwrap();
    let lines: Vec<&str> = fixture.split_inclusive('\n').collect();
    let ends: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(r#""type":"task_complete""#))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(ends.len(), 2, "two turns");
    let dir = codex_home.join("sessions/2026/05/11");
    std::fs::create_dir_all(&dir).unwrap();
    let rollout = dir.join(CODEX[1].0.rsplit('/').next().unwrap());
    // Before the first turn the rollout does not exist yet.
    store.hook_codex(&codex_payload("SessionStart", CODEX[1].1, &rollout));
    let mut written = 0;
    for end in ends {
        append_text(&rollout, &lines[written..end].concat());
        written = end;
        store.hook_codex(&codex_payload("Stop", CODEX[1].1, &rollout));
        let id = session_of(&store, CODEX[1].1);
        assert_eq!(
            logbook_tests::parts_of(&store, &id, "main"),
            lines[..end].concat().as_bytes()
        );
    }
    // The lines after the last turn, and a repeated Stop: exactly once.
    append_text(&rollout, &lines[written..].concat());
    store.hook_codex(&codex_payload("Stop", CODEX[1].1, &rollout));
    store.hook_codex(&codex_payload("Stop", CODEX[1].1, &rollout));
    let id = session_of(&store, CODEX[1].1);
    assert_eq!(
        logbook_tests::parts_of(&store, &id, "main"),
        fixture.as_bytes()
    );
    assert_eq!(counted(&store, CODEX[1].1), CODEX[1].2);
    assert_eq!(store.sessions().len(), 1);

    store.ok(&["hooks", "uninstall", "--agent", "codex", "--user"]);
    let restored: Value = serde_json::from_slice(&std::fs::read(&hooks).unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(theirs).unwrap());
}
