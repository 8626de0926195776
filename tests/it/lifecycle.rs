//! Starting, ending, transitioning and listing sessions through the CLI.

use logbook_tests::Store;
use serde_json::Value;

#[test]
fn start_prints_the_id_alone_for_command_substitution() {
    let store = Store::new();
    let out = store
        .cmd()
        .args(["start", "--command", "build"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.len(), 37, "{text:?}");
    assert!(text.ends_with('\n'));
    let id = text.trim();
    assert_eq!(store.show(id)["command"], "build");

    // The way scripts and slash commands use it.
    let script =
        r#"SESSION_ID=$("$LOGBOOK" start --command build) && "$LOGBOOK" show "$SESSION_ID" --json"#;
    assert_eq!(
        store.run(&[]).status.code(),
        Some(2),
        "no subcommand is bad usage"
    );
    let out = std::process::Command::new("bash")
        .args(["-c", script])
        .env("LOGBOOK", logbook_tests::logbook_bin())
        .env("LOGBOOK_DIR", store.root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "active");
}

#[test]
fn session_json_has_the_documented_keys() {
    let store = Store::new();
    let id = store.start("build");
    store.ok(&["end", &id, "--status", "failed", "--exit-code", "3"]);
    let file: Value =
        serde_json::from_slice(&std::fs::read(store.session_json(&id)).unwrap()).unwrap();
    for key in [
        "session_id",
        "command",
        "status",
        "started_at",
        "ended_at",
        "exit_code",
        "end_reason",
        "transitioned_from",
        "transitioned_to",
        "agent",
        "dir",
        "capture",
    ] {
        assert!(file.get(key).is_some(), "session.json lacks {key}: {file}");
    }
    assert_eq!(file["status"], "failed");
    assert_eq!(file["exit_code"], 3);
    assert_eq!(file["end_reason"], "exit");
    // The file names its directory relative to the store, so a moved or
    // restored store still verifies; what `show` prints is absolute.
    assert_eq!(file["dir"], format!("sessions/{id}"));
    assert_eq!(file["capture"]["lines"], 0);
    let shown = store.show(&id);
    let dir = shown["dir"].as_str().unwrap();
    assert!(std::path::Path::new(dir).is_absolute());
    assert!(std::path::Path::new(dir).join("session.json").exists());
    let mut same = shown.clone();
    same["dir"] = file["dir"].clone();
    assert_eq!(same, file);
}

#[test]
fn end_defaults_to_the_only_active_session() {
    let store = Store::new();
    let id = store.start("a");
    store.ok(&["end"]);
    assert_eq!(store.show(&id)["status"], "completed");
    let line = store.fails(&["end"], 2);
    assert!(line.contains("no active session"), "{line}");
    store.start("b");
    store.start("c");
    let line = store.fails(&["end"], 2);
    assert!(line.contains("2 sessions are active"), "{line}");
}

#[test]
fn transition_links_both_ways_and_prints_the_new_id() {
    let store = Store::new();
    let first = store.start("build");
    let second = store
        .ok(&["transition", &first[..20], "--reason", "clear"])
        .trim()
        .to_owned();
    assert_ne!(first, second);
    let old = store.show(&first);
    let new = store.show(&second);
    assert_eq!(old["status"], "completed");
    assert_eq!(old["end_reason"], "clear");
    assert_eq!(old["transitioned_to"], second.as_str());
    assert_eq!(new["status"], "active");
    assert_eq!(new["origin"], "after_clear");
    assert_eq!(new["transitioned_from"], first.as_str());
    assert_eq!(new["command"], "build");
    // Both halves are one batch: consecutive sequence numbers.
    let log = store.ok(&["log", "--json"]);
    let kinds: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kinds.len(), 3);
    assert_eq!(
        kinds[1]["at"], kinds[2]["at"],
        "one atomic batch shares its time"
    );
}

#[test]
fn ls_filters_by_status_and_log_by_session_and_time() {
    let store = Store::new();
    let a = store.start("a");
    let b = store.start("b");
    store.ok(&["end", &a]);
    let active: Vec<String> =
        serde_json::from_str::<Vec<Value>>(&store.ok(&["ls", "--status", "active", "--json"]))
            .unwrap()
            .iter()
            .map(|v| v["session_id"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(active, vec![b.clone()]);
    let table = store.ok(&["ls"]);
    assert!(table.lines().next().unwrap().starts_with("SESSION"));
    assert_eq!(table.lines().count(), 3);

    let only_a = store.ok(&["log", "--session", &a]);
    assert_eq!(only_a.lines().count(), 2);
    assert!(only_a.lines().all(|l| l.contains(&a)));
    assert_eq!(store.ok(&["log", "--since", "2999-01-01"]), "");
    assert_eq!(
        store.ok(&["log", "--since", "2000-01-01"]).lines().count(),
        3
    );
    store.fails(&["log", "--since", "last tuesday"], 2);
}

#[test]
fn export_is_every_envelope_as_json_lines() {
    let store = Store::new();
    let a = store.start("a");
    store.ok(&["transition", &a]);
    let text = store.ok(&["export"]);
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["seq"], i as u64 + 1);
        assert_eq!(row["format"], 1);
        assert_eq!(row["prev_hash"].as_str().unwrap().len(), 64);
    }
    assert_eq!(rows[0]["prev_hash"], "0".repeat(64));
}

#[test]
fn init_creates_a_private_store_that_is_discovered_from_below() {
    let store = Store::new();
    let project = store.scratch().join("project");
    std::fs::create_dir_all(project.join("src/deep")).unwrap();
    let mut init = store.cmd();
    init.env_remove("LOGBOOK_DIR")
        .current_dir(&project)
        .arg("init");
    let out = init.output().unwrap();
    assert!(out.status.success());
    let dot = project.join(".logbook");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dot).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::read_to_string(dot.join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );

    let mut start = store.cmd();
    start
        .env_remove("LOGBOOK_DIR")
        .current_dir(project.join("src/deep"))
        .args(["start", "--command", "x"]);
    let id = String::from_utf8(start.output().unwrap().stdout).unwrap();
    assert!(
        dot.join("sessions")
            .join(id.trim())
            .join("session.json")
            .exists()
    );
}

#[test]
fn verbose_tracing_goes_to_stderr_only() {
    let store = Store::new();
    let out = store.cmd().args(["-vv", "start"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opening store"), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim().len(), 36);
    let out = store
        .cmd()
        .env("LOGBOOK_LOG", "debug")
        .args(["ls"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening store"));
}

#[test]
fn completions_for_each_shell() {
    let store = Store::new();
    for shell in ["bash", "zsh", "fish"] {
        let text = store.ok(&["completions", shell]);
        assert!(text.contains("transition"), "{shell}");
    }
    let out = store.run(&["completions", "tcsh-ish"]);
    assert_eq!(out.status.code(), Some(2));
}
