//! Bad input: one-line errors, non-zero exits, nothing recorded lost.

use std::os::unix::fs::PermissionsExt;

use logbook_tests::Store;

/// Asserts the store still holds exactly `ids` and verifies clean.
fn nothing_lost(store: &Store, ids: &[&str]) {
    let now: Vec<String> = store
        .sessions()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(now, ids);
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn unknown_and_ambiguous_prefixes() {
    let store = Store::new();
    let a = store.start("a");
    let b = store.start("b");
    let line = store.fails(&["show", "ffff"], 2);
    assert!(line.contains("no session matches `ffff`"), "{line}");
    // v7 ids of this era all start with 0.
    let line = store.fails(&["end", "0"], 2);
    assert!(line.contains("ambiguous"), "{line}");
    let line = store.fails(&["show", "../../etc"], 2);
    assert!(line.contains("not a session id"), "{line}");
    nothing_lost(&store, &[&a, &b]);
}

#[test]
fn ending_an_ended_session() {
    let store = Store::new();
    let a = store.start("a");
    store.ok(&["end", &a]);
    let line = store.fails(&["end", &a], 1);
    assert!(line.contains("already ended (completed)"), "{line}");
    let line = store.fails(&["transition", &a], 1);
    assert!(line.contains("already ended"), "{line}");
    nothing_lost(&store, &[&a]);
    assert_eq!(store.ok(&["log"]).lines().count(), 2);
}

#[test]
fn a_store_path_that_is_a_file() {
    let store = Store::new();
    let file = store.scratch().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let line = store.fails(&["--dir", file.to_str().unwrap(), "ls"], 1);
    assert!(line.contains("is not a directory"), "{line}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_store_path_that_is_a_dangling_symbolic_link() {
    let store = Store::new();
    let link = store.scratch().join("store-link");
    std::os::unix::fs::symlink(store.scratch().join("gone"), &link).unwrap();
    let line = store.fails(&["--dir", link.to_str().unwrap(), "ls"], 1);
    assert!(
        line.contains("is a symbolic link to") && line.contains("does not exist"),
        "{line}"
    );
    assert!(!store.scratch().join("gone").exists());
}

#[test]
fn an_unreadable_event_database() {
    let store = Store::new();
    let a = store.start("a");
    store.stop_daemon();
    let conf = store.root().join("log").join("conf");
    let saved = std::fs::read(&conf).unwrap();
    std::fs::write(&conf, b"\xff\xfenot a sled config").unwrap();
    let line = store.fails(&["ls"], 1);
    assert!(line.contains("event log database"), "{line}");
    assert!(
        !line.contains("Some(") && !line.contains("backtrace"),
        "{line}"
    );
    store.fails(&["start"], 1);
    // Put it back: everything recorded is still there.
    std::fs::write(&conf, saved).unwrap();
    nothing_lost(&store, &[&a]);
}

#[test]
fn a_log_path_that_is_a_file() {
    let store = Store::new();
    std::fs::create_dir_all(store.root()).unwrap();
    std::fs::write(store.root().join("log"), "x").unwrap();
    let line = store.fails(&["start"], 1);
    assert!(line.contains("event log database"), "{line}");
}

#[test]
fn a_corrupt_config_toml() {
    let store = Store::new();
    let a = store.start("a");
    for (text, needle) in [
        ("lock_wait_secs = [\n", "config.toml: line"),
        ("colour = \"red\"\n", "unknown field `colour`"),
        ("rotate_lines = 0\n", "rotate_lines must be at least 1"),
    ] {
        store.configure(text);
        let line = store.fails(&["start"], 1);
        assert!(line.contains(needle), "{text:?}: {line}");
    }
    std::fs::remove_file(store.root().join("config.toml")).unwrap();
    nothing_lost(&store, &[&a]);
}

#[test]
fn store_directories_are_0700_and_files_0600() {
    let store = Store::new();
    let a = store.start("a");
    store.ok(&["transition", &a]);
    let mut checked = 0;
    let mut stack = vec![store.root()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "checked {checked} files");
}

#[test]
fn bad_usage_exits_2() {
    let store = Store::new();
    assert_eq!(store.run(&["start", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        store.run(&["end", "--status", "great"]).status.code(),
        Some(2)
    );
    assert_eq!(store.run(&["--help"]).status.code(), Some(0));
}

#[test]
fn with_no_home_there_is_no_user_store_and_nothing_lands_in_the_project() {
    let store = Store::new();
    let project = store.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let run = |args: &[&str], input: &[u8]| {
        use std::io::Write as _;
        let mut child = store
            .cmd()
            .current_dir(&project)
            .env_remove("LOGBOOK_DIR")
            .env_remove("HOME")
            .env_remove("XDG_DATA_HOME")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["ls"], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("HOME and XDG_DATA_HOME are unset"),
        "{stderr}"
    );
    // The hook still never fails the agent.
    let payload = format!(
        "{{\"session_id\":\"x1\",\"hook_event_name\":\"Stop\",\"cwd\":\"{}\"}}",
        project.display()
    );
    assert!(run(&["hook"], payload.as_bytes()).status.success());
    let entries: Vec<_> = std::fs::read_dir(&project).unwrap().collect();
    assert!(entries.is_empty(), "nothing written into the project");
}

#[test]
fn an_existing_store_others_can_read_is_made_private() {
    let store = Store::new();
    let id = store.start("secret");
    store.stop_daemon();
    // A store restored from a backup with loose modes.
    let sessions = store.root().join("sessions");
    let session_json = store.session_json(&id);
    std::fs::set_permissions(store.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sessions, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&session_json, std::fs::Permissions::from_mode(0o644)).unwrap();
    store.ok(&["ls"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store.root()), 0o700);
    assert_eq!(mode(&sessions), 0o700);
    assert_eq!(mode(&session_json), 0o600);
}

/// Runs `logbook ARGS` bounded in time: a read that would wait forever (a
/// FIFO) or never end (a device) fails the test instead of hanging it.
fn bounded(store: &Store, args: &[&str]) -> std::process::Output {
    let child = store
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    logbook_tests::claude_code::wait_output(child, std::time::Duration::from_secs(20))
}

#[test]
fn fifos_and_devices_are_refused_instead_of_read_forever() {
    let store = Store::new();
    let id = store.start("keep");
    let fifo = store.scratch().join("pipe.jsonl");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for args in [
        vec!["import", fifo.to_str().unwrap()],
        vec!["import", "/dev/zero"],
        vec!["capture", &id, "--file", fifo.to_str().unwrap()],
        vec!["capture", &id, "--file", "/dev/zero"],
    ] {
        let out = bounded(&store, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{args:?}: {stderr}");
    }
    nothing_lost(&store, &[&id]);
    // A FIFO inside a folder being imported is passed over, the rest
    // imported.
    let dir = store.scratch().join("projects");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::rename(&fifo, dir.join("pipe.jsonl")).unwrap();
    let line =
        serde_json::json!({"type": "user", "sessionId": "s-1", "message": {"content": "hi"}});
    std::fs::write(dir.join("s-1.jsonl"), format!("{line}\n")).unwrap();
    let out = bounded(&store, &["import", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        store
            .sessions()
            .iter()
            .any(|s| s["agent"]["session_id"] == "s-1")
    );
    store.ok(&["verify"]);
}

#[test]
fn a_long_line_without_its_end_waits_whole_and_is_captured_once_when_it_ends() {
    let store = Store::new();
    let id = store.start("long");
    let file = store.scratch().join("t.jsonl");
    let first = "{\"n\":1}\n";
    // 8 MB of one line still being written.
    let long = format!("{{\"blob\":\"{}", "z".repeat(8 << 20));
    std::fs::write(&file, format!("{first}{long}")).unwrap();
    let capture = || store.ok(&["capture", &id, "--file", file.to_str().unwrap()]);
    for _ in 0..3 {
        capture();
        assert_eq!(
            logbook_tests::parts_of(&store, &id, "main"),
            first.as_bytes()
        );
    }
    logbook_tests::append_text(&file, "zz");
    capture();
    logbook_tests::append_text(&file, "\"}\n{\"n\":3}\n");
    capture();
    capture();
    assert_eq!(
        logbook_tests::parts_of(&store, &id, "main"),
        std::fs::read(&file).unwrap()
    );
    store.ok(&["verify"]);
}
