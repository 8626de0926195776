//! Token accounting, the context budget, alerts and the status line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use logbook_tests::{Store, fixtures};
use serde_json::{Value, json};

fn generated() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/generated")
}

fn token_rows(store: &Store, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["tokens"];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str::<Value>(&store.ok(&all))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn totals_equal_the_generators_ground_truth_in_both_shapes_across_compactions() {
    let store = Store::new();
    let truth: Value =
        serde_json::from_slice(&std::fs::read(generated().join("truth.json")).unwrap()).unwrap();
    store.ok(&["import", generated().join("corpus").to_str().unwrap()]);
    let rows = token_rows(&store, &["--by", "agent-session"]);
    let sessions = truth["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), sessions.len());
    let mut shapes = BTreeSet::new();
    for t in sessions {
        let row = rows
            .iter()
            .find(|r| r["agent_session_id"] == t["session_id"])
            .unwrap_or_else(|| panic!("no row for {}", t["session_id"]));
        for key in [
            "input",
            "output",
            "cache_creation",
            "cache_read",
            "responses",
        ] {
            assert_eq!(row[key], t["tokens"][key], "{key} of {}", t["session_id"]);
        }
        assert!(t["compactions"].as_u64().unwrap() > 0);
        shapes.insert(t["shape"].as_str().unwrap().to_owned());
        assert!(row["cost_usd_estimate"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(shapes.len(), 2, "both usage shapes are covered");
    // By day and by model, the totals are the same tokens.
    let sum =
        |rows: &[Value], key: &str| rows.iter().map(|r| r[key].as_u64().unwrap()).sum::<u64>();
    for by in ["day", "model", "session"] {
        let rows = token_rows(&store, &["--by", by]);
        assert_eq!(
            sum(&rows, "output"),
            truth["totals"]["output"].as_u64().unwrap(),
            "--by {by}"
        );
        assert_eq!(
            sum(&rows, "responses"),
            truth["totals"]["responses"].as_u64().unwrap()
        );
    }
    // A time filter after everything leaves nothing.
    assert!(token_rows(&store, &["--since", "2030-01-01"]).is_empty());

    // The context extraction agrees with the same ground truth.
    for t in sessions {
        let id = store
            .sessions()
            .into_iter()
            .find(|s| s["agent"]["session_id"] == t["session_id"])
            .unwrap()["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ctx: Value = serde_json::from_str(&store.ok(&["context", &id, "--json"])).unwrap();
        let paths = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_owned())
                .collect()
        };
        let relative = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p.as_str()
                        .unwrap()
                        .trim_start_matches("/home/dev/demo/")
                        .to_owned()
                })
                .collect()
        };
        assert_eq!(
            paths(&ctx["files_modified"]),
            relative(&t["files_modified"])
        );
        let read = paths(&ctx["files_read"]);
        assert!(relative(&t["files_read"]).is_subset(&read));
        assert_eq!(
            ctx["commands"].as_array().unwrap().len(),
            t["commands"].as_array().unwrap().len()
        );
        let prompted = ctx["corrections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["source"] == "prompt")
            .count();
        assert_eq!(
            prompted as u64,
            t["corrections"].as_u64().unwrap(),
            "corrections of {}",
            t["session_id"]
        );
    }
}

/// Tokens of a transcript counted by hand: one response per
/// `message.id`+`requestId` (the last line's usage), `<synthetic>` skipped,
/// lines without an id each their own response. Only complete lines: a
/// last line without its newline is still being written.
fn hand_count(path: &Path) -> BTreeMap<&'static str, u64> {
    let mut responses: Vec<(Option<String>, Value)> = Vec::new();
    let bytes = std::fs::read(path).unwrap();
    for line in bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
    {
        let Ok(r) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if r["type"] != "assistant"
            || r["message"]["model"] == "<synthetic>"
            || !r["message"]["usage"].is_object()
        {
            continue;
        }
        let key = r["message"]["id"]
            .as_str()
            .map(|id| format!("{id}:{}", r["requestId"].as_str().unwrap_or("")));
        match responses
            .iter_mut()
            .find(|(k, _)| key.is_some() && *k == key)
        {
            Some(found) => found.1 = r["message"]["usage"].clone(),
            None => responses.push((key, r["message"]["usage"].clone())),
        }
    }
    let mut out = BTreeMap::new();
    for (_, u) in &responses {
        for (k, field) in [
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
        ] {
            *out.entry(k).or_insert(0) += u[field].as_u64().unwrap_or(0);
        }
    }
    out.insert("responses", responses.len() as u64);
    out
}

#[test]
fn every_fixture_gives_the_totals_of_a_hand_count() {
    let files = [
        "viewer-sample/projects/sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl",
        "viewer-sample/projects/sample-project/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl",
        "spotter-real/subagent.jsonl",
        "spotter-real/tool_heavy.jsonl",
        "usage-synthetic/test-transcript.jsonl",
        "log-synthetic/newer/dag_compact_after_rewind.jsonl",
    ];
    for file in files {
        let store = Store::new();
        let path = fixtures().join(file);
        let id = store.start("fixture");
        store.ok(&["capture", &id, "--file", path.to_str().unwrap()]);
        let row = &token_rows(&store, &[&id])[0];
        let expected = hand_count(&path);
        assert!(expected["responses"] > 0, "{file} has responses");
        for (k, v) in &expected {
            assert_eq!(row[*k], *v, "{k} of {file}");
        }
    }
}

fn statusline(store: &Store, input: &[u8]) -> String {
    let out = store.piped(&["statusline"], input);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    text
}

fn hook(store: &Store, payload: &Value) -> String {
    let out = store.piped(&["hook"], payload.to_string().as_bytes());
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn alerts(store: &Store) -> Vec<(String, u64)> {
    store
        .ok(&["export"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"]["budget_alert"].is_object())
        .map(|e| {
            (
                e["session"].as_str().unwrap().to_owned(),
                e["event"]["budget_alert"]["threshold"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn alerts_fire_once_each_in_order_and_again_after_a_compaction() {
    let store = Store::new();
    let agent = "a1b2c3d4-0000-4000-8000-000000000001";
    let transcript = store.scratch().join(format!("{agent}.jsonl"));
    let user = json!({"type":"user","sessionId":agent,"message":{"role":"user","content":"go"}});
    std::fs::write(&transcript, format!("{user}\n")).unwrap();
    let payload = |event: &str, extra: Value| {
        let mut p = json!({"session_id": agent, "transcript_path": transcript, "cwd": store.scratch(), "hook_event_name": event});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    hook(
        &store,
        &payload("SessionStart", json!({"source": "startup"})),
    );
    let walk = || {
        let mut marked = Vec::new();
        for pct in 70..=95 {
            let input = json!({"session_id": agent, "model": {"display_name": "Sonnet"}, "context_window": {"context_window_size": 200000, "used_percentage": pct}});
            let line = statusline(&store, input.to_string().as_bytes());
            marked.push(line.contains('⚠'));
        }
        marked
    };
    let marked = walk();
    // 82% used is 18% left: the first threshold and the marker.
    assert!(!marked[11] && marked[12], "{marked:?}");
    let fired = alerts(&store);
    assert_eq!(
        fired.iter().map(|a| a.1).collect::<Vec<_>>(),
        [18, 16, 14, 12]
    );
    walk();
    assert_eq!(alerts(&store).len(), 4, "each threshold once");

    // A compaction: the chain splits, the new segment is re-armed.
    let boundary = json!({"type":"system","subtype":"compact_boundary","sessionId":agent,"compactMetadata":{"trigger":"auto","preTokens":190000}});
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    writeln!(f, "{boundary}").unwrap();
    drop(f);
    assert_eq!(hook(&store, &payload("Stop", json!({}))), "");
    walk();
    let fired = alerts(&store);
    assert_eq!(
        fired.iter().map(|a| a.1).collect::<Vec<_>>(),
        [18, 16, 14, 12, 18, 16, 14, 12]
    );
    assert_ne!(
        fired[0].0, fired[4].0,
        "the second round belongs to the new segment"
    );
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(
            store
                .root()
                .join("sessions")
                .join(&fired[4].0)
                .join("tokens.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let thresholds: Vec<u64> = tokens["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["threshold"].as_u64().unwrap())
        .collect();
    assert_eq!(thresholds, [18, 16, 14, 12]);
}

#[test]
fn the_stop_hook_tells_the_user_when_the_transcript_crosses_a_threshold() {
    let store = Store::new();
    // A hook that cannot apply its event within its wait leaves it to be
    // applied later and says nothing: on a machine loaded by the rest of
    // the suite (a debug build) 700 ms was once not enough.
    store.configure("hook_wait_ms = 1400\n");
    let agent = "a1b2c3d4-0000-4000-8000-000000000002";
    let transcript = store.scratch().join(format!("{agent}.jsonl"));
    let response = |used: u64, id: &str| json!({"type":"assistant","sessionId":agent,"requestId":format!("r{id}"),"message":{"id":format!("m{id}"),"model":"claude-sonnet-4-5","usage":{"input_tokens":used - 1000,"cache_read_input_tokens":1000,"output_tokens":10}}});
    std::fs::write(&transcript, format!("{}\n", response(100_000, "1"))).unwrap();
    let stop = json!({"session_id": agent, "transcript_path": transcript, "cwd": store.scratch(), "hook_event_name": "Stop"});
    assert_eq!(hook(&store, &stop), "", "50% left: nothing to say");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    writeln!(f, "{}", response(170_000, "2")).unwrap();
    drop(f);
    let said: Value = serde_json::from_str(&hook(&store, &stop)).unwrap();
    assert!(
        said["systemMessage"]
            .as_str()
            .unwrap()
            .contains("15% of the context window left")
    );
    assert_eq!(hook(&store, &stop), "", "already said");
}

#[test]
fn the_status_line_survives_garbage_and_older_input() {
    let store = Store::new();
    for garbage in [
        &b""[..],
        b"not json",
        b"[1,2,3]",
        b"{\"session_id\":\"../../x\"}",
    ] {
        let line = statusline(&store, garbage);
        assert!(line.starts_with("claude · context"), "{line}");
    }
    let older = json!({"session_id":"no-such","model":{"id":"claude-opus-4-1"},"context_window":{"context_window_size":200000,"current_usage":{"input_tokens":10000,"cache_creation_input_tokens":0,"cache_read_input_tokens":40000}}});
    assert_eq!(
        statusline(&store, older.to_string().as_bytes()).trim(),
        "claude-opus-4-1 · context 25% used, 75% left"
    );
}

#[test]
fn token_usage_lines_in_a_text_transcript_are_readings() {
    let store = Store::new();
    let id = store.start("text-agent");
    let file = store.scratch().join("agent.log");
    std::fs::write(&file, "working\nToken usage: 120000/200000; 80000 remaining\nmore\nToken usage: 170,000/200,000; 30,000 remaining\n").unwrap();
    store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(store.root().join("sessions").join(&id).join("tokens.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(tokens["context"]["used"], 170000);
    assert_eq!(tokens["context"]["window"], 200000);
    assert_eq!(tokens["context"]["remaining_pct"], 15.0);
    let observed = store
        .ok(&["log", "--session", &id, "--json"])
        .matches("token_usage_observed")
        .count();
    assert_eq!(observed, 1);
}

#[test]
fn the_status_line_records_a_reading_only_when_it_changes_and_prices_are_configurable() {
    let store = Store::new();
    let agent = "a1b2c3d4-0000-4000-8000-000000000003";
    let transcript = store.scratch().join(format!("{agent}.jsonl"));
    let response = json!({"type":"assistant","sessionId":agent,"requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5","usage":{"input_tokens":1_000_000,"output_tokens":0}}});
    std::fs::write(&transcript, format!("{response}\n")).unwrap();
    hook(
        &store,
        &json!({"session_id": agent, "transcript_path": transcript, "cwd": store.scratch(), "hook_event_name": "SessionStart", "source": "startup"}),
    );
    let input = json!({"session_id": agent, "context_window": {"context_window_size": 1_000_000, "used_percentage": 30}});
    for _ in 0..3 {
        statusline(&store, input.to_string().as_bytes());
    }
    let observed = store
        .ok(&["export"])
        .matches("\"token_usage_observed\"")
        .count();
    assert_eq!(observed, 1, "three identical readings, one event");
    let id = &store.sessions()[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(store.root().join("sessions").join(id).join("tokens.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        tokens["context"]["window"], 1_000_000,
        "the status line said 1M"
    );
    assert_eq!(tokens["context"]["used"], 300_000);

    // 1M input tokens of Sonnet: $3 at list price, $10 with an override.
    let cost = |store: &Store| {
        token_rows(store, &[])[0]["cost_usd_estimate"]
            .as_f64()
            .unwrap()
    };
    assert!((cost(&store) - 3.0).abs() < 1e-9);
    store.configure("[pricing.\"sonnet-4-5\"]\ninput = 10.0\noutput = 0.0\ncache_creation = 0.0\ncache_read = 0.0\n");
    assert!((cost(&store) - 10.0).abs() < 1e-9);
}

/// Status-line input from Claude Code 2.1.328 (see the fixture's SOURCES.md).
fn real_statusline(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/claude-code-2.1.328/hooks")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_status_line_with_no_reading_says_unknown_and_records_nothing() {
    let store = Store::new();
    let input = real_statusline("statusline-no-reading.json");
    let agent = serde_json::from_slice::<Value>(&input).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let transcript = store.scratch().join(format!("{agent}.jsonl"));
    std::fs::write(&transcript, "").unwrap();
    hook(
        &store,
        &json!({"session_id": agent, "transcript_path": transcript, "cwd": store.scratch(), "hook_event_name": "SessionStart", "source": "startup"}),
    );
    // Before the first reply every figure is null: not "0% used".
    assert_eq!(
        statusline(&store, &input).trim(),
        "Opus 5.5 · context unknown"
    );
    let observed = |store: &Store| {
        store
            .ok(&["export"])
            .lines()
            .filter(|l| l.contains("\"token_usage_observed\""))
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(observed(&store).is_empty());

    // With a reading, the exact usage is recorded, not the rounded 1 %
    // (10,000 tokens of a 1M window).
    statusline(&store, &real_statusline("statusline-reading.json"));
    let readings = observed(&store);
    assert_eq!(readings.len(), 1);
    let reading = &readings[0]["event"]["token_usage_observed"];
    assert_eq!(reading["used"], 8_502, "{reading}");
    assert_eq!(reading["window"], 1_000_000);
}
