//! `logbook hook`, driven the way Claude Code drives it, over real
//! transcripts that grow between calls; `hooks install|uninstall`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use logbook_tests::hook_payload as payload;
use logbook_tests::{Store, fixtures, logbook_bin, parts_of, wait_bounded};
use serde_json::{Value, json};

const AGENT_A: &str = "fe5e1c67-53e7-4862-81ae-d0e013e3270b";

fn fixture_lines(name: &str) -> Vec<Vec<u8>> {
    let path = fixtures()
        .join("viewer-sample/projects/sample-project")
        .join(name);
    std::fs::read(path)
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn append(path: &Path, lines: &[Vec<u8>]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        f.write_all(line).unwrap();
    }
}

/// Runs `logbook hook` with `payload` on stdin; asserts it exits 0 and
/// wrote nothing to stderr; returns stdout.
fn hook(store: &Store, payload: &[u8]) -> String {
    let out = store.piped(&["hook"], payload);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = store.root().join("logbook.log");
    assert!(
        !log.exists(),
        "the hook logged a failure: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_file(path: PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn session_dir(store: &Store, id: &str) -> PathBuf {
    store.root().join("sessions").join(id)
}

fn only_active(store: &Store) -> String {
    let active: Vec<String> = store
        .sessions()
        .into_iter()
        .filter(|s| s["status"] == "active")
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(active.len(), 1, "{active:?}");
    active[0].clone()
}

/// Tool uses by name, counted by hand from the records, main chain and
/// sidechains apart.
fn count_tools(lines: &[Vec<u8>]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut main, mut side) = (BTreeMap::new(), BTreeMap::new());
    for line in lines {
        let Ok(record) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let Some(blocks) = record["message"]["content"].as_array() else {
            continue;
        };
        for block in blocks.iter().filter(|b| b["type"] == "tool_use") {
            let name = block["name"].as_str().unwrap().to_owned();
            let target = if record["isSidechain"] == true {
                &mut side
            } else {
                &mut main
            };
            *target.entry(name).or_insert(0) += 1;
        }
    }
    (main, side)
}

fn counts(value: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(value.clone()).unwrap()
}

fn add(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut out = a.clone();
    for (k, v) in b {
        *out.entry(k.clone()).or_insert(0) += v;
    }
    out
}

#[test]
fn a_claude_code_day_startup_compaction_clear_and_end() {
    let store = Store::new();
    let project = store.scratch().join("Demo");
    std::fs::create_dir_all(&project).unwrap();
    let transcripts = store.scratch().join("claude/projects/Demo");
    std::fs::create_dir_all(&transcripts).unwrap();
    let first = transcripts.join(format!("{AGENT_A}.jsonl"));
    let lines = fixture_lines(&format!("{AGENT_A}.jsonl"));
    let at = |event: &str, extra: Value| payload(event, AGENT_A, &first, &project, extra);

    // startup: nothing waiting, nothing printed.
    append(&first, &lines[..40]);
    assert_eq!(
        hook(&store, &at("SessionStart", json!({"source": "startup"}))),
        ""
    );
    let a = only_active(&store);
    assert_eq!(store.show(&a)["agent"]["session_id"], AGENT_A);
    assert_eq!(store.show(&a)["agent"]["kind"], "claude-code");

    // prompts and stops capture incrementally, silently.
    append(&first, &lines[40..120]);
    assert_eq!(
        hook(&store, &at("UserPromptSubmit", json!({"prompt": "go on"}))),
        ""
    );
    append(&first, &lines[120..200]);
    assert_eq!(hook(&store, &at("Stop", json!({}))), "");
    assert_eq!(store.show(&a)["capture"]["lines"], 200);

    // PreCompact snapshots the context as a handoff reserving the next id.
    assert_eq!(
        hook(&store, &at("PreCompact", json!({"trigger": "auto"}))),
        ""
    );
    let pre = json_file(session_dir(&store, &a).join("handoff.json"));
    let reserved = pre["next_session_id"].as_str().unwrap().to_owned();

    // The compaction is written to the transcript; SessionStart compact
    // splits the chain at the boundary and hands the brief back.
    let boundary = format!(
        "{}\n{}\n",
        json!({"type":"system","subtype":"compact_boundary","content":"Conversation compacted","sessionId":AGENT_A,"cwd":"/path/to/Demo","compactMetadata":{"trigger":"auto","preTokens":155000},"timestamp":"2025-09-03T01:30:00.000Z"}),
        json!({"type":"user","isCompactSummary":true,"sessionId":AGENT_A,"message":{"role":"user","content":"This session is being continued from a previous conversation."},"timestamp":"2025-09-03T01:30:01.000Z"})
    );
    append(&first, &[boundary.clone().into_bytes()]);
    let brief = hook(&store, &at("SessionStart", json!({"source": "compact"})));
    let b = only_active(&store);
    assert_eq!(b, reserved, "the segment takes the id the handoff reserved");
    assert!(
        brief.starts_with(&format!("# Handoff from logbook session {a}")),
        "{brief}"
    );
    assert!(brief.chars().count() <= 10_000);
    let shown_a = store.show(&a);
    assert_eq!(shown_a["status"], "completed");
    assert_eq!(shown_a["end_reason"], "compaction");
    assert_eq!(shown_a["transitioned_to"], b);
    assert_eq!(store.show(&b)["transitioned_from"], a);
    assert_eq!(store.show(&b)["origin"], "after_compaction");
    assert_eq!(store.show(&b)["agent"]["session_id"], AGENT_A);

    // More work in the same transcript goes to the new segment.
    append(&first, &lines[200..]);
    assert_eq!(hook(&store, &at("Stop", json!({}))), "");

    // /clear: the old conversation ends with a handoff; the new one (a new
    // agent session id and file) picks it up and gets the brief.
    assert_eq!(
        hook(&store, &at("SessionEnd", json!({"reason": "clear"}))),
        ""
    );
    let end_b = store.show(&b);
    assert_eq!(end_b["end_reason"], "clear");
    let handoff_b = json_file(session_dir(&store, &b).join("handoff.json"));
    let c_reserved = handoff_b["next_session_id"].as_str().unwrap().to_owned();
    assert_eq!(end_b["transitioned_to"], c_reserved.as_str());

    let agent_c = "1af7fc5e-8455-4414-9ccd-011d40f70b2a";
    let second = transcripts.join(format!("{agent_c}.jsonl"));
    let second_lines = fixture_lines(&format!("{agent_c}.jsonl"));
    append(&second, &second_lines);
    let brief = hook(
        &store,
        &payload(
            "SessionStart",
            agent_c,
            &second,
            &project,
            json!({"source": "clear"}),
        ),
    );
    let c = only_active(&store);
    assert_eq!(c, c_reserved);
    assert!(
        brief.contains(&format!("Handoff from logbook session {b}")),
        "{brief}"
    );
    assert!(
        brief.contains(&format!("It continued session {a}")),
        "{brief}"
    );
    assert_eq!(store.show(&c)["origin"], "after_clear");
    assert_eq!(store.show(&c)["transitioned_from"], b.as_str());

    assert_eq!(
        hook(
            &store,
            &payload(
                "SessionEnd",
                agent_c,
                &second,
                &project,
                json!({"reason": "prompt_input_exit"})
            )
        ),
        ""
    );
    assert_eq!(store.show(&c)["status"], "completed");

    // The segments' parts, in chain order, are the first transcript byte
    // for byte; the third session holds the second.
    let mut chained = parts_of(&store, &a, "main");
    chained.extend(parts_of(&store, &b, "main"));
    assert_eq!(chained, std::fs::read(&first).unwrap());
    assert_eq!(
        parts_of(&store, &c, "main"),
        std::fs::read(&second).unwrap()
    );
    // The boundary record opens the new segment.
    assert!(parts_of(&store, &b, "main").starts_with(boundary.as_bytes()));

    // context.json against a hand count of the fixture's tool uses.
    let all: Vec<Vec<u8>> = std::fs::read(&first)
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let (main, side) = count_tools(&all);
    let ctx_a = json_file(session_dir(&store, &a).join("context.json"));
    let ctx_b = json_file(session_dir(&store, &b).join("context.json"));
    assert_eq!(
        add(
            &counts(&ctx_a["tool_counts"]),
            &counts(&ctx_b["tool_counts"])
        ),
        main
    );
    assert_eq!(
        add(
            &counts(&ctx_a["sidechains"]["tool_counts"]),
            &counts(&ctx_b["sidechains"]["tool_counts"])
        ),
        side
    );
    let (main_a, _) = count_tools(&lines[..200]);
    assert_eq!(counts(&ctx_a["tool_counts"]), main_a);
    assert_eq!(ctx_a["cwd"], "/path/to/Demo");
    let modified = logbook_tests::strs(&ctx_b["files_modified"], "path");
    assert!(!modified.is_empty());
    assert!(
        modified.iter().all(|p| !p.starts_with("/path/to/Demo/")),
        "{modified:?}"
    );
    let todos = ctx_b["todos"].as_array().unwrap();
    assert!(!todos.is_empty() || !ctx_a["todos"].as_array().unwrap().is_empty());

    // Replay rebuilds the same files; verify agrees.
    let before = store.projected_files();
    store.ok(&["replay"]);
    assert_eq!(store.projected_files(), before);
    store.ok(&["verify"]);
}

/// A stand-in for one Claude Code process (a tab): a shell named `claude`
/// that runs `startup`, waits for `go`, then `end` and `clear` back to back,
/// as one Claude Code process does across `/clear`.
fn claude_tab(
    store: &Store,
    tab: usize,
    startup: &Path,
    end: &Path,
    clear: &Path,
    go: &Path,
) -> std::process::Child {
    let claude = store.scratch().join("bin/claude");
    if !claude.exists() {
        std::fs::create_dir_all(claude.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/bin/sh", &claude).unwrap();
    }
    let script = r#""$0" hook < "$1" && touch "$5"; while [ ! -e "$4" ]; do sleep 0.02; done; "$0" hook < "$2"; "$0" hook < "$3""#;
    Command::new(&claude)
        .args(["-c", script, logbook_bin().to_str().unwrap()])
        .args([startup, end, clear, go])
        .arg(store.scratch().join(format!("started-{tab}")))
        .env("LOGBOOK_DIR", store.root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn three_tabs_clearing_in_one_directory_at_once_form_three_chains() {
    let store = Store::new();
    let project = store.scratch().join("proj");
    std::fs::create_dir_all(&project).unwrap();
    let go = store.scratch().join("go");
    let mut tabs = Vec::new();
    let mut children = Vec::new();
    for tab in 0..3 {
        let agent = format!("0000000{tab}-aaaa-4000-8000-000000000000");
        let next_agent = format!("1111111{tab}-bbbb-4000-8000-000000000000");
        let transcript = store.scratch().join(format!("{agent}.jsonl"));
        let next_transcript = store.scratch().join(format!("{next_agent}.jsonl"));
        std::fs::write(
            &transcript,
            format!("{}\n", json!({"type":"user","sessionId":agent,"message":{"role":"user","content":format!("tab {tab}")}})),
        )
        .unwrap();
        std::fs::write(&next_transcript, "").unwrap();
        let file = |name: &str, body: Vec<u8>| {
            let path = store.scratch().join(format!("{name}-{tab}.json"));
            std::fs::write(&path, body).unwrap();
            path
        };
        let startup = file(
            "startup",
            payload(
                "SessionStart",
                &agent,
                &transcript,
                &project,
                json!({"source":"startup"}),
            ),
        );
        let end = file(
            "end",
            payload(
                "SessionEnd",
                &agent,
                &transcript,
                &project,
                json!({"reason":"clear"}),
            ),
        );
        let clear = file(
            "clear",
            payload(
                "SessionStart",
                &next_agent,
                &next_transcript,
                &project,
                json!({"source":"clear"}),
            ),
        );
        children.push(claude_tab(&store, tab, &startup, &end, &clear, &go));
        tabs.push((agent, next_agent));
    }
    // Every tab has started; then all three clear at the same moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(0..3).all(|t| store.scratch().join(format!("started-{t}")).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the tabs never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&go, "").unwrap();
    for mut child in children {
        assert!(wait_bounded(&mut child, Duration::from_secs(60)).success());
    }
    let sessions = store.sessions();
    assert_eq!(sessions.len(), 6);
    let by_agent = |agent: &str| {
        sessions
            .iter()
            .find(|s| s["agent"]["session_id"] == agent)
            .unwrap()
            .clone()
    };
    let mut pids = Vec::new();
    for (agent, next_agent) in &tabs {
        let old = by_agent(agent);
        let new = by_agent(next_agent);
        assert_eq!(
            new["transitioned_from"], old["session_id"],
            "tab of {agent}"
        );
        assert_eq!(old["transitioned_to"], new["session_id"], "tab of {agent}");
        assert_eq!(new["origin"], "after_clear");
        assert_eq!(old["end_reason"], "clear");
        assert_eq!(old["agent"]["pid"], new["agent"]["pid"]);
        pids.push(old["agent"]["pid"].as_u64().unwrap());
    }
    pids.dedup();
    assert_eq!(pids.len(), 3, "three distinct Claude Code processes");
    assert!(!store.root().join("logbook.log").exists());
}

#[test]
fn garbage_or_hostile_payloads_exit_0_print_nothing_and_are_logged() {
    let store = Store::new();
    let id = store.start("kept");
    for bad in [
        &b"not json at all"[..],
        b"",
        br#"{"hook_event_name":"Stop","session_id":"../../etc","transcript_path":"/etc/passwd","cwd":"/"}"#,
        br#"{"hook_event_name":"SessionStart","session_id":"ok-id","transcript_path":"relative.jsonl"}"#,
    ] {
        let out: Output = store.piped(&["hook"], bad);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    }
    let log = std::fs::read_to_string(store.root().join("logbook.log")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(log.contains("\"../../etc\""));
    // Nothing recorded was lost and nothing was added.
    assert_eq!(store.sessions().len(), 1);
    assert_eq!(store.show(&id)["status"], "active");
    assert!(!store.root().join("sessions/../../etc").join("x").exists());
    // Unknown events are ignored without a trace.
    std::fs::remove_file(store.root().join("logbook.log")).unwrap();
    let quiet = hook(
        &store,
        br#"{"hook_event_name":"FutureEvent","session_id":"x","newField":1}"#,
    );
    assert_eq!(quiet, "");
}

#[test]
fn a_hook_never_waits_behind_a_held_store_it_is_spooled_then_applied() {
    // Without the daemon, another process can hold the store (a long
    // import did, for 10 s, and hooks were dropped). The hook must exit 0
    // within its bound, keep its payload in the spool, and the next
    // command must apply it.
    let store = Store::in_process();
    store.configure("hook_wait_ms = 200\n");
    let transcript = store.scratch().join("w.jsonl");
    std::fs::write(
        &transcript,
        "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n",
    )
    .unwrap();
    store.start("warm");
    // Hold the lock: a command paused after its append keeps it.
    let mut holder = store
        .cmd()
        .args(["start", "--command", "holder"])
        .env("LOGBOOK_FAULT_PAUSE_AFTER_APPEND", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    logbook_tests::wait_for_stderr(&mut holder, "paused after append", Duration::from_secs(30));
    // Bounded well under the lock's 10 s wait: the hook does not wait it out.
    store.hook_within(
        &payload(
            "SessionStart",
            "waiting-agent",
            &transcript,
            store.scratch(),
            json!({"source":"startup"}),
        ),
        Duration::from_secs(5),
    );
    let spooled: Vec<_> = std::fs::read_dir(store.root().join("spool"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    let mode = std::fs::metadata(&spooled[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let recorded = store
        .sessions()
        .into_iter()
        .find(|s| s["agent"]["session_id"] == "waiting-agent")
        .expect("the next command applied the spooled hook");
    assert_eq!(recorded["capture"]["lines"], 1);
    assert!(!spooled[0].exists(), "an applied hook leaves the spool");
}

#[test]
fn hooks_install_twice_then_uninstall_on_a_settings_file_with_other_hooks() {
    let store = Store::new();
    let project = store.scratch().join("repo");
    let settings = project.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let original = json!({
        "permissions": {"allow": ["Bash(ls:*)"]},
        "hooks": {
            "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}],
            "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "cargo fmt"}]}]
        }
    });
    std::fs::write(&settings, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let run = |args: &[&str]| {
        let out = store
            .cmd()
            .current_dir(&project)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["hooks", "install"]);
    let once = std::fs::read(&settings).unwrap();
    run(&["hooks", "install"]);
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        once,
        "install is idempotent"
    );
    let installed = json_file(settings.clone());
    // The hooks that fire on every tool call only record: they run in the
    // background, so the agent never waits for them. The rest print, must
    // land before the agent goes on, or are rare enough to keep in order.
    let awaited = [
        "SessionStart",
        "SessionEnd",
        "PreCompact",
        "UserPromptSubmit",
        "Stop",
        "SubagentStop",
        "PostCompact",
        "SubagentStart",
        "StopFailure",
        "PermissionRequest",
        "PermissionDenied",
        "CwdChanged",
        "TaskCreated",
        "TaskCompleted",
    ];
    let background = ["PostToolUse", "PostToolUseFailure"];
    assert_eq!(
        installed["hooks"].as_object().unwrap().len(),
        awaited.len() + background.len()
    );
    for (event, is_async) in awaited
        .iter()
        .map(|e| (e, false))
        .chain(background.iter().map(|e| (e, true)))
    {
        let ours: Vec<&Value> = installed["hooks"][event]
            .as_array()
            .unwrap_or_else(|| panic!("{event} not installed: {installed}"))
            .iter()
            .flat_map(|g| g["hooks"].as_array().unwrap())
            .filter(|h| h["command"].as_str().unwrap().ends_with("logbook hook"))
            .collect();
        assert_eq!(ours.len(), 1, "{event}: {installed}");
        assert_eq!(
            ours[0]["async"].as_bool().unwrap_or(false),
            is_async,
            "{event}"
        );
    }
    assert_eq!(
        installed["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
        "cargo fmt"
    );
    assert_eq!(
        installed["hooks"]["Stop"][0]["hooks"][0]["command"],
        "notify-send done"
    );
    assert_eq!(installed["permissions"], original["permissions"]);
    assert!(
        installed["statusLine"]["command"]
            .as_str()
            .unwrap()
            .ends_with("logbook statusline")
    );
    assert!(
        project
            .join(".claude/settings.json.logbook-backup")
            .exists()
    );
    run(&["hooks", "uninstall"]);
    assert_eq!(json_file(settings.clone()), original);

    // A settings file that is not JSON is left alone, with an error.
    std::fs::write(&settings, "{ not json").unwrap();
    let out = store
        .cmd()
        .current_dir(&project)
        .args(["hooks", "install"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(std::fs::read(&settings).unwrap(), b"{ not json");
}

#[test]
fn notes_context_handoff_and_resume_on_demand() {
    let store = Store::new();
    let project = store.scratch().join("app");
    std::fs::create_dir_all(&project).unwrap();
    let transcript = store.scratch().join(format!("{AGENT_A}.jsonl"));
    let lines = fixture_lines(&format!("{AGENT_A}.jsonl"));
    append(&transcript, &lines[..150]);
    let at = |event: &str, extra: Value| payload(event, AGENT_A, &transcript, &project, extra);
    hook(&store, &at("SessionStart", json!({"source": "startup"})));
    let id = only_active(&store);

    // The note finds the session of the Claude Code process it runs under
    // (here both ran under the test process), or takes --session.
    assert_eq!(
        store
            .ok(&["note", "--decision", "use sled for the log"])
            .trim(),
        id
    );
    store.ok(&[
        "note",
        "--session",
        &id[..8],
        "--correction",
        "never edit generated files",
    ]);
    store.ok(&["note", "--plan", "ship the hook first"]);
    store.fails(&["note", "--decision", "  "], 2);

    let ctx: Value = serde_json::from_str(&store.ok(&["context", &id, "--json"])).unwrap();
    assert_eq!(ctx["decisions"][0]["text"], "use sled for the log");
    assert_eq!(ctx["decisions"][0]["source"], "note");
    assert!(
        ctx["corrections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"] == "never edit generated files")
    );
    assert_eq!(ctx["plans"][0]["text"], "ship the hook first");
    let text = store.ok(&["context", &id]);
    assert!(
        text.contains("## Decisions\n- ship the hook first\n- use sled for the log"),
        "{text}"
    );

    hook(&store, &at("SessionEnd", json!({"reason": "logout"})));
    let brief = store.ok(&["handoff", &id]);
    assert!(brief.contains("use sled for the log"));
    assert!(brief.contains("(logout)"));
    assert_eq!(store.ok(&["handoff"]), brief);
    let json: Value = serde_json::from_str(&store.ok(&["handoff", &id, "--json"])).unwrap();
    assert_eq!(json["session_id"], id.as_str());
    assert_eq!(json["brief"], brief.as_str());

    // resume: the latest handoff of the project the command runs in.
    let out = store
        .cmd()
        .current_dir(&project)
        .arg("resume")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), brief);
    let elsewhere = store.scratch().join("other");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = store
        .cmd()
        .current_dir(&elsewhere)
        .arg("resume")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    // No active session left: a note has nowhere to go.
    store.fails(&["note", "--decision", "late"], 2);
    // A new Claude Code session in the project picks the handoff up.
    let next = store.scratch().join("next.jsonl");
    std::fs::write(&next, "").unwrap();
    let printed = hook(
        &store,
        &payload(
            "SessionStart",
            "next-agent",
            &next,
            &project,
            json!({"source": "startup"}),
        ),
    );
    assert_eq!(printed, brief);
    let started = only_active(&store);
    assert_eq!(store.show(&started)["origin"], "handoff");
    assert_eq!(store.show(&started)["transitioned_from"], id.as_str());
    assert_eq!(started, json["next_session_id"].as_str().unwrap());
}

#[test]
fn resume_after_end_links_a_new_session_and_subagents_are_captured() {
    let store = Store::new();
    let project = store.scratch().join("app");
    std::fs::create_dir_all(&project).unwrap();
    let transcript = store.scratch().join(format!("{AGENT_A}.jsonl"));
    let lines = fixture_lines(&format!("{AGENT_A}.jsonl"));
    append(&transcript, &lines[..100]);
    let at = |event: &str, extra: Value| payload(event, AGENT_A, &transcript, &project, extra);
    hook(&store, &at("SessionStart", json!({"source": "startup"})));
    let first = only_active(&store);

    // A subagent writes its own transcript beside the conversation's.
    let subagents = transcript.with_extension("").join("subagents");
    std::fs::create_dir_all(&subagents).unwrap();
    let agent_file = subagents.join("agent-a2898e3.jsonl");
    let side = json!({"type":"assistant","isSidechain":true,"message":{"content":[{"type":"tool_use","id":"s1","name":"Read","input":{"file_path":"/path/to/Demo/README.md"}}]}});
    let read = json!({"type":"user","isSidechain":true,"message":{"content":[{"type":"tool_result","tool_use_id":"s1","content":"# Demo"}]}});
    std::fs::write(&agent_file, format!("{side}\n{read}\n")).unwrap();
    hook(
        &store,
        &at("SubagentStop", json!({"agent_transcript_path": agent_file})),
    );
    assert_eq!(
        parts_of(&store, &first, "subagents/agent-a2898e3"),
        std::fs::read(&agent_file).unwrap()
    );
    let ctx = json_file(session_dir(&store, &first).join("context.json"));
    assert_eq!(ctx["sidechains"]["files_read"][0]["path"], "README.md");

    hook(
        &store,
        &at("SessionEnd", json!({"reason": "prompt_input_exit"})),
    );
    // `claude --resume` continues the same conversation and file: the hook
    // fires, then the resumed turns are written.
    assert_eq!(
        hook(&store, &at("SessionStart", json!({"source": "resume"}))),
        ""
    );
    append(&transcript, &lines[100..160]);
    hook(&store, &at("Stop", json!({})));
    let resumed = only_active(&store);
    assert_ne!(resumed, first);
    let shown = store.show(&resumed);
    assert_eq!(shown["origin"], "resumed");
    assert_eq!(shown["transitioned_from"], first.as_str());
    // …and the link back: the chain reads both ways.
    assert_eq!(store.show(&first)["transitioned_to"], resumed.as_str());
    // Only the new lines: the cursor was carried over.
    assert_eq!(shown["capture"]["lines"], 60);
    let mut both = parts_of(&store, &first, "main");
    both.extend(parts_of(&store, &resumed, "main"));
    assert_eq!(both, std::fs::read(&transcript).unwrap());
}

#[test]
fn without_a_store_setting_the_hook_uses_the_projects_logbook_directory() {
    let store = Store::new();
    let project = store.scratch().join("repo");
    let nested = project.join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    store
        .cmd()
        .current_dir(&project)
        .env_remove("LOGBOOK_DIR")
        .arg("init")
        .output()
        .unwrap();
    let transcript = store.scratch().join("t.jsonl");
    std::fs::write(
        &transcript,
        "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n",
    )
    .unwrap();
    let home = store.scratch().join("home");
    let mut child = store
        .cmd()
        .current_dir(store.scratch())
        .env_remove("LOGBOOK_DIR")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .arg("hook")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&payload(
            "SessionStart",
            "proj-agent",
            &transcript,
            &nested,
            json!({"source": "startup"}),
        ))
        .unwrap();
    assert!(child.wait().unwrap().success());
    let sessions = std::fs::read_dir(project.join(".logbook/sessions"))
        .unwrap()
        .count();
    assert_eq!(sessions, 1, "recorded in the project's store");
    assert!(!home.join("data/logbook").exists(), "not in the user store");
}

#[test]
fn hooks_do_not_wait_behind_an_import_in_its_own_process_which_applies_them() {
    let store = Store::in_process();
    // Long enough that a hook waiting for the store would show it.
    store.configure("hook_wait_ms = 1400\n");
    let corpus = store.scratch().join("corpus");
    logbook_tests::corpus::generate(&corpus, 60 << 20);
    let mut import = store
        .cmd()
        .args(["import", corpus.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    logbook_tests::wait_until(Duration::from_secs(60), "the import under way", || {
        store.root().join("busy").exists()
    });
    let transcript = store.scratch().join("behind.jsonl");
    std::fs::write(
        &transcript,
        "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n",
    )
    .unwrap();
    for (event, extra) in [
        ("SessionStart", json!({"source": "startup"})),
        ("Stop", json!({})),
    ] {
        // Well under the 1.4 s a hook would wait for the store.
        store.hook_within(
            &payload(event, "behind-1", &transcript, store.scratch(), extra),
            Duration::from_secs(1),
        );
    }
    assert!(
        import.try_wait().unwrap().is_none(),
        "the import finished first"
    );
    assert!(wait_bounded(&mut import, Duration::from_secs(300)).success());
    // The import applied them between its files: nothing else ran.
    let recorded = std::fs::read_dir(store.root().join("sessions"))
        .unwrap()
        .flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("session.json")).ok())
        .find(|json| json.contains("\"behind-1\""));
    assert!(recorded.is_some(), "the spooled hooks were applied");
    assert!(!store.root().join("busy").exists());
}

#[test]
fn a_second_pre_compact_refreshes_the_brief_the_compacted_session_hands_on() {
    // Claude Code 2.1.328 fired PreCompact (auto) at one prompt without
    // compacting, then again at the next, and compacted then.
    let store = Store::new();
    let project = store.scratch().join("Demo");
    std::fs::create_dir_all(&project).unwrap();
    let transcript = store.scratch().join("auto.jsonl");
    let agent = "auto-compact-1";
    let at = |event: &str, extra: Value| payload(event, agent, &transcript, &project, extra);
    let prompt = |text: &str| {
        format!(
            "{}\n",
            json!({"type":"user","sessionId":agent,"message":{"role":"user","content":text}})
        )
        .into_bytes()
    };
    append(&transcript, &[prompt("first: build the parser")]);
    hook(&store, &at("SessionStart", json!({"source": "startup"})));
    hook(&store, &at("PreCompact", json!({"trigger": "auto"})));
    let first = only_active(&store);
    let reserved =
        json_file(session_dir(&store, &first).join("handoff.json"))["next_session_id"].clone();
    append(&transcript, &[prompt("second: now add the error messages")]);
    hook(&store, &at("PreCompact", json!({"trigger": "auto"})));
    let handoff = json_file(session_dir(&store, &first).join("handoff.json"));
    assert_eq!(handoff["next_session_id"], reserved, "the same reserved id");
    let boundary = json!({"type":"system","subtype":"compact_boundary","sessionId":agent,"compactMetadata":{"trigger":"auto","preTokens":150000}});
    append(&transcript, &[format!("{boundary}\n").into_bytes()]);
    let brief = hook(&store, &at("SessionStart", json!({"source": "compact"})));
    assert!(
        brief.contains("second: now add the error messages"),
        "{brief}"
    );
    assert!(
        brief.contains(&format!("session {first} ended (compaction)")),
        "{brief}"
    );
    assert_eq!(only_active(&store), reserved.as_str().unwrap());
}

#[test]
fn a_startup_is_briefed_after_an_interactive_exit_but_not_after_a_headless_run_or_long_after() {
    let store = Store::new();
    store.configure("handoff_max_age_secs = 2\n");
    let project = store.scratch().join("Demo");
    std::fs::create_dir_all(&project).unwrap();
    let session = |agent: &str, request: &str, end: &str| {
        let transcript = store.scratch().join(format!("{agent}.jsonl"));
        append(
            &transcript,
            &[format!(
                "{}\n",
                json!({"type":"user","sessionId":agent,"message":{"role":"user","content":request}})
            )
            .into_bytes()],
        );
        let at = |event: &str, extra: Value| payload(event, agent, &transcript, &project, extra);
        let brief = hook(&store, &at("SessionStart", json!({"source": "startup"})));
        hook(&store, &at("SessionEnd", json!({"reason": end})));
        brief
    };
    // Every `claude -p` run ends with reason `other`: the next one, however
    // soon, is not its continuation.
    assert_eq!(session("headless-1", "summarise the log", "other"), "");
    let briefed = session("headless-2", "count the tests", "prompt_input_exit");
    assert_eq!(briefed, "", "a headless run left nothing to carry on");
    // After an interactive exit, the next session in the project is briefed.
    let brief = session("interactive-1", "add the parser", "prompt_input_exit");
    assert!(brief.contains("count the tests"), "{brief}");
    // …but not long after.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(session("much-later-1", "start over", "other"), "");
    // A handoff is still there for `logbook resume`.
    let resumed = store
        .cmd()
        .current_dir(&project)
        .arg("resume")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("# Handoff from logbook session"));
}

/// The events `logbook log --json` shows for `session`, as `(kind, event)`.
fn logged(store: &Store, session: &str) -> Vec<(String, Value)> {
    store
        .ok(&["log", "--session", session, "--json"])
        .lines()
        .map(|l| {
            let env: Value = serde_json::from_str(l).unwrap();
            let (kind, event) = env["event"].as_object().unwrap().iter().next().unwrap();
            (kind.clone(), event.clone())
        })
        // The daemon's watcher captures the transcript meanwhile.
        .filter(|(kind, _)| kind != "transcript_captured")
        .collect()
}

/// A payload Claude Code 2.1.328 sent (or, for the three it could not be
/// made to send here, one written from its documentation), re-addressed to
/// this test's conversation.
fn real_payload(name: &str, agent: &str, transcript: &Path, cwd: &Path) -> Vec<u8> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let text = ["claude-code-2.1.328", "claude-code-docs"]
        .iter()
        .find_map(|dir| {
            std::fs::read(
                fixtures
                    .join(dir)
                    .join("hooks")
                    .join(format!("{name}.json")),
            )
            .ok()
        })
        .unwrap_or_else(|| panic!("no fixture {name} in {}", fixtures.display()));
    let mut p: Value = serde_json::from_slice(&text).unwrap();
    p["session_id"] = agent.into();
    p["transcript_path"] = transcript.to_str().unwrap().into();
    p["cwd"] = cwd.to_str().unwrap().into();
    p.to_string().into_bytes()
}

#[test]
fn background_hooks_record_what_happened_in_the_conversations_newest_session() {
    let store = Store::new();
    let project = store.scratch().join("app");
    std::fs::create_dir_all(&project).unwrap();
    let transcript = store.scratch().join(format!("{AGENT_A}.jsonl"));
    append(
        &transcript,
        &fixture_lines(&format!("{AGENT_A}.jsonl"))[..20],
    );
    let real = |name: &str| real_payload(name, AGENT_A, &transcript, &project);

    // Installed mid-conversation: the first hook logbook sees is a tool
    // call's, and it starts the session.
    assert_eq!(hook(&store, &real("PostToolUse")), "");
    let session = only_active(&store);
    for name in [
        "PostToolUseFailure",
        "PostToolUseFailure-Bash",
        "CwdChanged",
        "SubagentStart",
        "PermissionRequest",
        "PermissionDenied",
        "TaskCreated",
        "TaskCompleted",
        "StopFailure",
        "PostCompact",
    ] {
        assert_eq!(hook(&store, &real(name)), "", "{name} printed");
    }
    let events = logged(&store, &session);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "session_started",
            "tool_call_finished",
            "tool_call_finished",
            "tool_call_finished",
            "workdir_changed",
            "subagent_started",
            "permission_requested",
            "permission_denied",
            "task_changed",
            "task_changed",
            "turn_failed",
            "compaction_summarized",
        ]
    );
    let (_, write) = &events[1];
    assert_eq!(write["call"]["tool"], "Write");
    assert_eq!(write["call"]["call_id"], "toolu_mock_0001_0");
    assert_eq!(write["outcome"], "succeeded");
    assert!(write["reported_at"].is_string(), "{write}");
    let (_, bash) = &events[3];
    assert_eq!(bash["call"]["target"], "exit 3");
    assert_eq!(bash["outcome"]["failed"]["error"], "Exit code 3");
    assert_eq!(events[10].1["error"], "invalid_request");
    assert!(
        events[11].1["summary"]
            .as_str()
            .unwrap()
            .contains("<summary>mock summary")
    );
    let text = store.ok(&["log", "--session", &session]);
    assert!(
        text.contains("Read ") && text.contains("error: File does not exist."),
        "{text}"
    );
    // The task hooks add one task and complete it (beside the transcript's
    // first todo list, all pending, once the daemon has captured it). The
    // denial and the API error are the session's blockers.
    let tasks: Value =
        serde_json::from_str(&store.ok(&["task", "ls", "--session", &session, "--json"])).unwrap();
    let tasks = tasks["tasks"].as_array().unwrap();
    let hooked: Vec<&Value> = tasks.iter().filter(|t| t["source"] == "hook").collect();
    assert_eq!(hooked.len(), 1, "{tasks:?}");
    assert_eq!(hooked[0]["text"], "write the parser tests");
    assert_eq!(hooked[0]["status"], "completed");
    assert_eq!(hooked[0]["agent_id"], "1");
    assert!(
        tasks
            .iter()
            .all(|t| t["source"] == "hook" || t["status"] == "pending"),
        "{tasks:?}"
    );
    let review: Value = serde_json::from_str(&store.ok(&["review", &session, "--json"])).unwrap();
    let blockers = logbook_tests::strs(&review["blockers"], "kind");
    assert_eq!(blockers, ["api_error", "permission_denied"], "{review}");

    // A hook that runs in the background can land after SessionEnd: it is
    // recorded in the ended session and does not reopen the conversation.
    hook(
        &store,
        &payload(
            "SessionEnd",
            AGENT_A,
            &transcript,
            &project,
            json!({"reason": "other"}),
        ),
    );
    hook(&store, &real("PostToolUse"));
    let sessions = store.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["status"], "completed");
    let after = logged(&store, &session);
    assert_eq!(after.last().unwrap().0, "tool_call_finished");

    // What a background hook cannot read is logged, never printed.
    let mut broken: Value = serde_json::from_slice(&real("PostToolUse")).unwrap();
    broken["tool_name"] = json!(7);
    assert_eq!(hook(&store, broken.to_string().as_bytes()), "");
    assert_eq!(logged(&store, &session).len(), after.len());
    store.ok(&["verify"]);
}
