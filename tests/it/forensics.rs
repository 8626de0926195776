//! Forensics: timeline, search, files, render, anchors and redaction, on
//! real transcripts through the real `logbook` process.

use std::path::{Path, PathBuf};

use logbook_tests::{Store, append_text, fixtures, hook_payload};
use serde_json::{Value, json};

/// The real transcript with a hand count (python over the file): 167 tool
/// calls, 144 ok and 23 failed; page.tsx read 3 times and edited 4 times.
const AGENT: &str = "fe5e1c67-53e7-4862-81ae-d0e013e3270b";

fn imported() -> (Store, String) {
    let store = Store::new();
    store.ok(&["import", fixtures().join("viewer-sample").to_str().unwrap()]);
    let id = store
        .sessions()
        .into_iter()
        .find(|s| s["agent"]["session_id"] == AGENT)
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .unwrap();
    (store, id)
}

/// A store holding one real transcript, and its session.
fn one_real(file: &str) -> (Store, String) {
    let store = Store::new();
    store.ok(&["import", fixtures().join(file).to_str().unwrap()]);
    let id = store.sessions()[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (store, id)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn the_timeline_of_a_real_transcript_is_a_projection_replay_rebuilds_and_verify_checks() {
    let (store, id) = imported();
    let timeline = json_of(&store.ok(&["timeline", &id, "--json"]));
    let actions = timeline["actions"].as_array().unwrap();
    let tools: Vec<&Value> = actions.iter().filter(|a| a["kind"] == "tool").collect();
    assert_eq!(tools.len(), 167);
    let failed = tools.iter().filter(|a| a["outcome"] == "error").count();
    assert_eq!(failed, 23);
    assert_eq!(tools.iter().filter(|a| a["outcome"] == "ok").count(), 144);
    assert_eq!(actions.first().unwrap()["kind"], "session_start");
    // (An import ends a session only when its file has been idle a while:
    // a fresh checkout's fixtures are new, so it may still be open.)
    // Times come from the records, in order along the main chain. 156 of
    // the calls are inline sidechain records of five parallel subagents,
    // written as they ran (so not in time order), each marked as such.
    let times: Vec<&str> = tools
        .iter()
        .filter(|a| a.get("agent").is_none())
        .map(|a| a["at"].as_str().unwrap())
        .collect();
    assert_eq!(times.len(), 11);
    assert_eq!(
        tools.iter().filter(|a| a["agent"] == "sidechain").count(),
        156
    );
    assert!(
        tools
            .iter()
            .all(|a| a["at"].as_str().unwrap().starts_with("2025-09-03"))
    );
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let text = store.ok(&["timeline", &id]);
    assert!(
        text.contains("Edit /path/to/Demo/todo-app/src/app/page.tsx  +8 -97  ok"),
        "{text}"
    );
    assert!(text.contains("ERROR: "));
    // A heredoc shown by its first line says that more follows.
    assert!(
        text.contains("Bash cat > types/state.ts << 'EOF' …  ok"),
        "{text}"
    );
    // Calls with no path or command say what they were about.
    for said in [
        "TodoWrite 5 items, in progress: Install additional dependencies (lucide-react)  ok",
        "BashOutput bash_1  ok",
        "KillBash bash_1  ok",
    ] {
        assert!(text.contains(said), "{said} in {text}");
    }
    // One time form down the column, whatever precision the agent wrote
    // (its own `.063Z` beside logbook's microseconds).
    for line in text.lines() {
        let at = &line[..27];
        assert!(
            at.len() == 27 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
            "{line}"
        );
        assert_eq!(&line[27..30], "  #", "{line}");
    }
    assert!(text.contains("2025-09-03T00:54:46.063000Z"), "{text}");

    // A projection like the others.
    let file = store
        .root()
        .join("sessions")
        .join(&id)
        .join("timeline.json");
    let projected = std::fs::read(&file).unwrap();
    assert!(store.ok(&["verify"]).starts_with("ok:"));
    std::fs::write(&file, b"{}").unwrap();
    let bad = store.run(&["verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stdout(&bad).contains("timeline.json: differs from a rebuild"),
        "{}",
        stdout(&bad)
    );
    store.ok(&["replay"]);
    assert_eq!(std::fs::read(&file).unwrap(), projected);
}

#[test]
fn the_timeline_follows_a_chain_and_goes_back_to_any_moment() {
    let store = Store::new();
    let a = store.start("build");
    store.ok(&["note", "--session", &a, "--decision", "first decision"]);
    store.ok(&["note", "--session", &a, "--decision", "second decision"]);
    let b = store.ok(&["transition", &a]).trim().to_owned();
    store.ok(&["note", "--session", &b, "--correction", "third, in b"]);

    let chain = json_of(&store.ok(&["timeline", &b, "--chain", "--json"]));
    let sessions = logbook_tests::strs(&chain, "session_id");
    assert_eq!(sessions, [a.as_str(), b.as_str()]);
    let kinds = |t: &Value| -> Vec<String> {
        t["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(&chain[0]),
        ["session_start", "note", "note", "session_end"]
    );
    assert_eq!(kinds(&chain[1]), ["session_start", "note"]);
    // A render of the chain holds both sessions, oldest first.
    let md = store.ok(&["render", &b, "--chain", "--format", "md"]);
    let (in_a, in_b) = (
        md.find(&format!("## Session {a}")).unwrap(),
        md.find(&format!("## Session {b}")).unwrap(),
    );
    assert!(in_a < in_b, "{md}");
    assert!(md.find("first decision").unwrap() < in_b);
    assert!(md.find("third, in b").unwrap() > in_b);
    // From the first session, the chain reaches forward too.
    assert_eq!(
        json_of(&store.ok(&["timeline", &a, "--chain", "--json"])),
        chain
    );

    // --at: the log as it stood when the first note landed.
    let log: Vec<Value> = store
        .ok(&["log", "--session", &a, "--json"])
        .lines()
        .map(json_of)
        .collect();
    let first_note = log
        .iter()
        .find(|e| e["event"].get("note_recorded").is_some())
        .unwrap();
    let at = first_note["at"].as_str().unwrap();
    let then = json_of(&store.ok(&["timeline", &a, "--at", at, "--json"]));
    assert_eq!(kinds(&then), ["session_start", "note"]);
    assert_eq!(then["actions"][1]["detail"], "first decision");
    store.fails(&["timeline", &a, "--at", "yesterday-ish"], 2);
    // Before the session was recorded: said, not an empty answer.
    for json in [false, true] {
        let mut args = vec!["timeline", a.as_str(), "--at", "2020-01-01"];
        if json {
            args.push("--json");
        }
        let out = store.run(&args);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("the log held nothing of session") && said.contains("first recorded at"),
            "{said}"
        );
    }
}

#[test]
fn search_and_files_find_real_work_across_sessions() {
    let (store, id) = imported();
    let hits = json_of(&store.ok(&["search", "useTodos", "--json"]));
    let hits = hits.as_array().unwrap();
    assert!(hits.len() >= 10, "{hits:?}");
    assert!(hits.iter().all(|h| h["session"] == id.as_str()));
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first");
    for hit in hits {
        let snippet = hit["snippet"].as_str().unwrap();
        let (a, b) = (
            hit["highlights"][0][0].as_u64().unwrap() as usize,
            hit["highlights"][0][1].as_u64().unwrap() as usize,
        );
        assert!(snippet[a..b].eq_ignore_ascii_case("usetodos"), "{hit}");
        assert!(hit["at"].as_str().unwrap().starts_with("2025-09-03"));
    }
    let edits = json_of(&store.ok(&["search", "useTodos", "--tool", "Edit", "--json"]));
    assert!(!edits.as_array().unwrap().is_empty());
    assert!(
        edits
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["tool"] == "edit")
    );
    let text = store.ok(&["search", "useTodos", "--limit", "2"]);
    assert!(text.contains("[useTodos]"), "{text}");
    // Nothing found is exit 1 (like grep), said as an answer, not an error;
    // as JSON it is the empty list.
    let none = store.run(&["search", "xylophonequartz"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(none.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&none.stderr), "logbook: no match\n");
    let none = store.run(&["search", "xylophonequartz", "--json"]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(json_of(&stdout(&none)), json!([]));
    store.fails(&["search", "  "], 2);

    let none = store.run(&["files", "src/app/nowhere.tsx"]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        "logbook: no session read or changed src/app/nowhere.tsx\n"
    );
    let none = store.run(&["files", "src/app/nowhere.tsx", "--json"]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(json_of(&stdout(&none)), json!([]));
    let uses = json_of(&store.ok(&["files", "src/app/page.tsx", "--json"]));
    let uses = uses.as_array().unwrap();
    let count = |action: &str| uses.iter().filter(|u| u["action"] == action).count();
    assert_eq!((count("changed"), count("read")), (4, 3), "{uses:?}");
    assert!(uses.iter().all(|u| u["session"] == id.as_str()));
    store.fails(&["files", " "], 2);

    // The index is derived: deleted, it comes back from the log.
    store.stop_daemon();
    std::fs::remove_dir_all(store.root().join("index")).unwrap();
    assert_eq!(
        json_of(&store.ok(&["search", "useTodos", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        hits.len()
    );
}

#[test]
fn search_sees_what_lands_after_the_index_was_built() {
    let (store, _) = imported();
    store.ok(&["search", "useTodos"]);
    let id = store.start("later");
    store.ok(&[
        "note",
        "--session",
        &id,
        "--decision",
        "adopt the quetzal plan",
    ]);
    let hits = json_of(&store.ok(&["search", "quetzal", "--json"]));
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["session"], id.as_str());
    assert_eq!(hits[0]["role"], "note");
    let scoped = json_of(&store.ok(&["search", "quetzal", "--session", &id, "--json"]));
    assert_eq!(scoped.as_array().unwrap().len(), 1);
    let later = store.run(&["search", "quetzal", "--since", "2100-01-01"]);
    assert_eq!(later.status.code(), Some(1));
}

#[test]
fn an_import_is_indexed_up_to_the_head_when_it_returns() {
    let store = Store::new();
    let corpus = store.scratch().join("corpus");
    // Many files, so the indexer follows the log while it grows.
    logbook_tests::corpus::generate(&corpus, 4 << 20);
    store.ok(&[
        "import",
        corpus.to_str().unwrap(),
        fixtures().join("viewer-sample").to_str().unwrap(),
    ]);
    let head = store
        .ok(&["log", "--json"])
        .lines()
        .filter_map(|l| json_of(l)["seq"].as_u64())
        .max()
        .unwrap();
    let index = logbook_search::SearchIndex::open(&store.root().join("index")).unwrap();
    assert_eq!(index.position().unwrap().seq, head);
    // What both sources said is in it.
    for word in ["lorem", "useTodos"] {
        let hits = index.search(&logbook_search::Query::new(word)).unwrap();
        assert!(!hits.is_empty(), "{word}");
    }
}

fn env_cmd(store: &Store, config: &Path, args: &[&str]) -> std::process::Output {
    store
        .cmd()
        .env("XDG_CONFIG_HOME", config)
        .env_remove("LOGBOOK_ANCHOR_KEY")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Copies a store directory (the daemon stopped): a backup.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn restore(store: &Store, backup: &Path) {
    store.stop_daemon();
    std::fs::remove_dir_all(store.root()).unwrap();
    copy_dir(backup, &store.root());
}

#[test]
fn an_anchor_detects_a_cut_log_a_rolled_back_store_and_a_forged_anchor() {
    let store = Store::new();
    let config = store.scratch().join("config");
    let a = store.start("audited");
    store.ok(&["note", "--session", &a, "--decision", "before the backup"]);
    store.stop_daemon();
    let backup = store.scratch().join("backup");
    copy_dir(&store.root(), &backup);
    for n in 0..3 {
        store.ok(&["note", "--session", &a, "--decision", &format!("after {n}")]);
    }
    store.ok(&["end", &a]);
    let anchor = store.scratch().join("anchor.json");
    let out = env_cmd(
        &store,
        &config,
        &["anchor", "--out", anchor.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    let signed = json_of(&std::fs::read_to_string(&anchor).unwrap());
    assert_eq!(signed["format"], "logbook-anchor/1");
    assert_eq!(signed["seq"], 6);
    // The key: created on first use, private, outside the store.
    let key = config.join("logbook/anchor.key");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);

    // Intact, and still intact once the log has grown.
    let verify = |file: &Path| {
        env_cmd(
            &store,
            &config,
            &["verify", "--anchor", file.to_str().unwrap()],
        )
    };
    let ok = verify(&anchor);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("holds the anchored history unchanged"));
    let b = store.start("later");
    assert!(verify(&anchor).status.success());

    // An ended session's session.json pins the history up to its end.
    let session_json = store.root().join("sessions").join(&a).join("session.json");
    let pin = json_of(&std::fs::read_to_string(&session_json).unwrap())["anchor"].clone();
    assert_eq!(pin["seq"], 5, "{pin}");
    let kept_pin = store.scratch().join("session.json");
    std::fs::copy(&session_json, &kept_pin).unwrap();
    assert!(verify(&kept_pin).status.success());

    // Forged: moved back to match a shorter log, the signature fails.
    let mut forged = signed.clone();
    forged["seq"] = json!(2);
    let forged_file = store.scratch().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let out = verify(&forged_file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("forged"), "{}", stdout(&out));

    // Cut: the store restored from the older copy ends before the anchor.
    restore(&store, &backup);
    for file in [&anchor, &kept_pin] {
        let out = verify(file);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("cut off or restored from an older copy"),
            "{}",
            stdout(&out)
        );
        // The same store: no word of another one.
        assert!(!stdout(&out).contains("made for the store"));
    }
    // Rolled back and gone on: as long again, but not the same history.
    let c = store.start("rewritten");
    for n in 0..4 {
        store.ok(&["note", "--session", &c, "--decision", &format!("other {n}")]);
    }
    let out = verify(&anchor);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("rewritten"), "{}", stdout(&out));
    let _ = b;
    // Checked against another store by mistake: the anchor says which
    // store it was made for.
    let other = Store::new();
    other.start("elsewhere");
    let out = env_cmd(
        &other,
        &config,
        &["verify", "--anchor", anchor.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!(
            "made for the store at {}; this one is {}",
            store.root().display(),
            other.root().display()
        )),
        "{}",
        stdout(&out)
    );

    // A key kept inside the store could be rewritten with it: refused.
    let out = store
        .cmd()
        .env("LOGBOOK_ANCHOR_KEY", store.root().join("anchor.key"))
        .args(["anchor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("inside the store"),
        "{}",
        stdout(&out)
    );
    store.fails(&["verify", "--anchor", "/no/such/anchor.json"], 2);
    let not_anchor = store.scratch().join("x.json");
    std::fs::write(&not_anchor, "{}").unwrap();
    store.fails(&["verify", "--anchor", not_anchor.to_str().unwrap()], 2);
}

/// `LOGBOOK_ANCHOR_KEY=team.key` names a file where the user runs logbook,
/// as every other path they give does, not where the daemon that serves
/// them happened to be started.
#[test]
fn a_relative_key_path_is_the_users_not_the_daemons() {
    let store = Store::new();
    // The store's first command (and so its daemon) runs in the scratch dir.
    store.start("keyed");
    let here = store.scratch().join("here");
    std::fs::create_dir_all(&here).unwrap();
    let run = |dir: &Path, args: &[&str]| {
        let out = store
            .cmd()
            .current_dir(dir)
            .env("LOGBOOK_ANCHOR_KEY", "team.key")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stdout(&out));
        stdout(&out)
    };
    run(&here, &["anchor", "--out", "a.json"]);
    assert!(here.join("team.key").is_file());
    assert!(!store.scratch().join("team.key").exists());
    let checked = run(&here, &["verify", "--anchor", "a.json"]);
    assert!(
        checked.contains("holds the anchored history unchanged"),
        "{checked}"
    );
    // From elsewhere, the same relative name is another key, which cannot
    // vouch for this anchor: the check fails rather than passing on a key
    // the user did not mean.
    let elsewhere = store
        .cmd()
        .env("LOGBOOK_ANCHOR_KEY", "team.key")
        .args(["verify", "--anchor", here.join("a.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!elsewhere.status.success(), "{}", stdout(&elsewhere));
}

/// `--project` takes a directory as a shell gives it: `.` in the project,
/// `..` from below it, or a name beside where the user stands.
#[test]
fn search_and_memory_take_the_project_as_the_user_names_it() {
    let store = Store::new();
    let project = store.scratch().join("app");
    let below = project.join("src");
    std::fs::create_dir_all(&below).unwrap();
    let transcript = store.scratch().join("plant.jsonl");
    append_text(&transcript, &planted_transcript(&project));
    for event in ["SessionStart", "Stop"] {
        store.piped(
            &["hook"],
            &hook_payload(event, "plant", &transcript, &project, json!({})),
        );
    }
    let id = first_session(&store);
    decide(&store, &id, "deploy on Fridays");
    let search = |dir: &Path, project: &str| {
        store
            .cmd()
            .current_dir(dir)
            .args(["search", "deploy", "--project", project, "--json"])
            .output()
            .unwrap()
    };
    for (dir, named) in [
        (&project, "."),
        (&below, ".."),
        (&below, "../src/.."),
        (&store.scratch().to_owned(), "app"),
        (&store.scratch().to_owned(), "./app/"),
    ] {
        let out = search(dir, named);
        assert!(
            out.status.success(),
            "{named} from {dir:?}: {}",
            stdout(&out)
        );
        let hits = json_of(&String::from_utf8_lossy(&out.stdout));
        assert!(
            hits.as_array()
                .unwrap()
                .iter()
                .all(|h| h["session"] == id.as_str()),
            "{hits}"
        );
        let memory = store
            .cmd()
            .current_dir(dir)
            .args(["memory", "--project", named, "--json"])
            .output()
            .unwrap();
        assert!(memory.status.success(), "{named}: {}", stdout(&memory));
        assert!(stdout(&memory).contains("deploy on Fridays"));
    }
    // Another directory is another project: nothing found, exit 1.
    let other = store.scratch().join("other");
    std::fs::create_dir_all(&other).unwrap();
    assert_eq!(search(&other, ".").status.code(), Some(1));
}

/// Secrets planted where an agent's transcript really carries them: a
/// prompt, a command, a tool's output, an answer, a .env file read.
const SECRETS: &[&str] = &[
    "sk-ant-api03-PLANTEDa1b2c3d4e5f6g7h8i9j0",
    "ghp_PLANTED0123456789abcdefABCDEF012345",
    "AKIAPLANTED123456789",
    "hunter2PLANTEDpw",
    "PLANTEDstripeKEYx9y8z7w6",
    "b3BlbnNzaC1rZXktdjEPLANTED",
];

fn planted_transcript(cwd: &Path) -> String {
    let cwd = cwd.display().to_string();
    let line = |v: Value| format!("{v}\n");
    let mut t = String::new();
    t += &line(
        json!({"type":"user","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:00Z",
        "message":{"role":"user","content":format!("deploy with ANTHROPIC_API_KEY={} please", SECRETS[0])}}),
    );
    t += &line(
        json!({"type":"assistant","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:01Z",
        "message":{"id":"m1","role":"assistant","content":[
            {"type":"text","text":format!("I will push with https://x:{}@github.com/o/r", SECRETS[1])},
            {"type":"tool_use","id":"t1","name":"Bash","input":{"command":format!("AWS_ACCESS_KEY_ID={} aws s3 ls", SECRETS[2])}}],
        "usage":{"input_tokens":10,"output_tokens":5}}}),
    );
    t += &line(
        json!({"type":"user","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:02Z",
        "message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":format!("DB_PASSWORD={}\nSTRIPE_KEY=sk_live_{}", SECRETS[3], SECRETS[4])}]}}),
    );
    t += &line(
        json!({"type":"assistant","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:03Z",
        "message":{"id":"m2","role":"assistant","content":[
            {"type":"tool_use","id":"t2","name":"Read","input":{"file_path":format!("{cwd}/.ssh/id_ed25519")}}]}}),
    );
    t += &line(
        json!({"type":"user","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:04Z",
        "message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t2","content":format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----", SECRETS[5])}]}}),
    );
    t += &line(
        json!({"type":"user","sessionId":"plant","cwd":cwd,"timestamp":"2026-01-01T10:00:05Z",
        "message":{"role":"user","content":format!("no, never print DB_PASSWORD={} again; the deploy is decided", SECRETS[3])}}),
    );
    t
}

fn first_session(store: &Store) -> String {
    store.sessions()[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn decide(store: &Store, id: &str, text: &str) {
    store.ok(&["note", "--session", id, "--decision", text]);
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

#[test]
fn planted_secrets_reach_no_output_while_the_log_keeps_the_exact_bytes() {
    let store = Store::new();
    let project = store.scratch().join("app");
    std::fs::create_dir_all(&project).unwrap();
    let transcript = store.scratch().join("plant.jsonl");
    append_text(&transcript, &planted_transcript(&project));
    let at = |event: &str, agent: &str, path: &Path, extra: Value| {
        hook_payload(event, agent, path, &project, extra)
    };
    store.piped(
        &["hook"],
        &at(
            "SessionStart",
            "plant",
            &transcript,
            json!({"source":"startup"}),
        ),
    );
    store.piped(&["hook"], &at("Stop", "plant", &transcript, json!({})));
    // A call refused before it ran never reaches the transcript: the hook
    // alone names it.
    store.piped(
        &["hook"],
        &at(
            "PermissionDenied",
            "plant",
            &transcript,
            json!({"tool_name":"Bash","tool_use_id":"t9","reason":"not allowed",
                "tool_input":{"command":format!("curl https://admin:{}@example.com/api", SECRETS[1])}}),
        ),
    );
    let id = first_session(&store);
    decide(&store, &id, &format!("rotate {} tomorrow", SECRETS[0]));
    // /clear: a handoff, and the brief handed to the next conversation.
    store.piped(
        &["hook"],
        &at(
            "SessionEnd",
            "plant",
            &transcript,
            json!({"reason":"clear"}),
        ),
    );
    let next = store.scratch().join("next.jsonl");
    append_text(&next, "");
    let brief = store.piped(
        &["hook"],
        &at("SessionStart", "next", &next, json!({"source":"clear"})),
    );
    let brief = String::from_utf8_lossy(&brief.stdout).into_owned();
    assert!(brief.contains("deploy"), "the brief was handed on: {brief}");
    assert_clean("the brief injected at SessionStart", &brief);

    // A script's session, named with a secret pasted into its command.
    let scripted = store
        .ok(&[
            "start",
            "--command",
            &format!("deploy --password={}", SECRETS[3]),
        ])
        .trim()
        .to_owned();
    store.ok(&["end", &scripted]);

    let mut shown = vec![
        ("timeline", store.ok(&["timeline", &id])),
        ("timeline --json", store.ok(&["timeline", &id, "--json"])),
        (
            "search",
            store.ok(&[
                "search",
                "deploy OR push OR aws OR password OR stripe OR key OR print",
                "--limit",
                "50",
                "--json",
            ]),
        ),
        ("render md", store.ok(&["render", &id, "--format", "md"])),
        (
            "render html",
            store.ok(&["render", &id, "--format", "html"]),
        ),
        ("export --redact", store.ok(&["export", "--redact"])),
        ("context --json", store.ok(&["context", &id, "--json"])),
        ("context", store.ok(&["context", &id])),
        ("handoff", store.ok(&["handoff", &id])),
        ("handoff --json", store.ok(&["handoff", &id, "--json"])),
        ("log", store.ok(&["log"])),
        ("show", store.ok(&["show", &id])),
        ("review", store.ok(&["review", &id])),
        ("review --json", store.ok(&["review", &id, "--json"])),
        (
            "memory --json",
            store.ok(&["memory", "--project", project.to_str().unwrap(), "--json"]),
        ),
        (
            "memory --brief",
            store.ok(&["memory", "--project", project.to_str().unwrap(), "--brief"]),
        ),
        ("files", store.ok(&["files", "id_ed25519", "--json"])),
        ("tokens", store.ok(&["tokens", "--json"])),
        ("stats", store.ok(&["stats", "--json"])),
        ("ls", store.ok(&["ls"])),
        ("ls --json", store.ok(&["ls", "--json"])),
        ("show (a command)", store.ok(&["show", &scripted])),
        (
            "show --json (a command)",
            store.ok(&["show", &scripted, "--json"]),
        ),
        ("timeline (a command)", store.ok(&["timeline", &scripted])),
        (
            "render (a command)",
            store.ok(&["render", &scripted, "--format", "html"]),
        ),
        (
            "review --json (a command)",
            store.ok(&["review", &scripted, "--json"]),
        ),
        (
            "log (a command)",
            store.ok(&["log", "--session", &scripted]),
        ),
    ];
    for file in [
        "context.json",
        "handoff.json",
        "handoff.md",
        "timeline.json",
        "session.json",
        "review.json",
    ] {
        let path = store.root().join("sessions").join(&id).join(file);
        shown.push((file, std::fs::read_to_string(path).unwrap()));
    }
    for (what, text) in &shown {
        assert_clean(what, text);
    }
    // The search did find the planted records, masked.
    assert!(shown[2].1.contains("[REDACTED:"), "{}", shown[2].1);
    assert!(shown[3].1.contains("[REDACTED:anthropic-key]"));
    // The export, decoded, is still the transcript, masked.
    let exported = captured_in_export(&shown[5].1);
    assert!(exported.contains("[REDACTED:github-token]"), "{exported}");
    for line in exported.lines() {
        json_of(line);
    }

    // The handoff pins the history up to it.
    let handoff = store.root().join("sessions").join(&id).join("handoff.json");
    assert!(json_of(&std::fs::read_to_string(&handoff).unwrap())["anchor"]["seq"].is_u64());
    let pinned = store.ok(&["verify", "--anchor", handoff.to_str().unwrap()]);
    assert!(
        pinned.contains("holds the anchored history unchanged"),
        "{pinned}"
    );

    // The log keeps the exact bytes, and a user who asks sees them.
    let raw = store.ok(&["export"]);
    let raw_bytes = captured_in_export(&raw);
    assert_eq!(raw_bytes, std::fs::read_to_string(&transcript).unwrap());
    assert!(
        store
            .ok(&["render", &id, "--no-redact"])
            .contains(SECRETS[0])
    );
    assert!(
        store
            .ok(&["timeline", &id, "--no-redact"])
            .contains(SECRETS[0])
    );
    // The refused call is in the timeline, masked.
    let refused = &shown[0].1;
    assert!(
        refused.contains("Bash curl https://admin:[REDACTED:"),
        "{refused}"
    );
    assert!(
        store
            .ok(&["show", &scripted, "--no-redact"])
            .contains(SECRETS[3])
    );
    assert!(store.ok(&["ls", "--no-redact"]).contains(SECRETS[3]));
    // session.json is the store's own record of the session, like the log
    // and the transcript parts beside it (files 0600 in a 0700 store): the
    // command is kept as given.
    let record = store
        .root()
        .join("sessions")
        .join(&scripted)
        .join("session.json");
    assert!(
        std::fs::read_to_string(record)
            .unwrap()
            .contains(SECRETS[3])
    );
}

/// The bytes of a transcript capture, as the export writes them (base64).
/// The transcript bytes an `export` holds, decoded and joined.
fn captured_in_export(export: &str) -> String {
    export
        .lines()
        .map(json_of)
        .filter_map(|e| {
            e["event"]["transcript_captured"]["bytes"]
                .as_str()
                .map(str::to_owned)
        })
        .map(|b| decode_base64(&b))
        .collect()
}

fn decode_base64(text: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

/// The browser the render test drives: `LOGBOOK_CHROMIUM`, else the first
/// of the usual names on PATH. CI installs it; a missing browser fails the
/// test, never skips it.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("LOGBOOK_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("no Chromium found (install chromium, or set LOGBOOK_CHROMIUM); .ci/run installs it")
}

fn headless(args: &[&str]) -> std::process::Output {
    let child = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            // Offline: any request would fail, so a page that needs the
            // network would show it.
            "--proxy-server=127.0.0.1:9",
        ])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    logbook_tests::claude_code::wait_output(child, std::time::Duration::from_secs(120))
}

#[test]
fn a_rendered_real_transcript_looks_right_in_headless_chromium() {
    let (store, id) = imported();
    // A hostile prompt, as an agent's transcript can hold one.
    let hostile = store.scratch().join("hostile.jsonl");
    append_text(
        &hostile,
        &format!(
            "{}\n",
            json!({"type":"user","sessionId":"hostile","timestamp":"2026-01-01T00:00:00Z",
                "message":{"role":"user","content":"<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\"> render me"}})
        ),
    );
    store.ok(&["import", hostile.to_str().unwrap()]);
    let hostile_id = store
        .sessions()
        .into_iter()
        .find(|s| s["agent"]["session_id"] == "hostile")
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .unwrap();

    let page = store.scratch().join("page.html");
    store.ok(&[
        "render",
        &id,
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    assert_eq!(
        html.matches("<details").count(),
        167,
        "every tool call, collapsed"
    );

    let shot = store.scratch().join("shot.png");
    let url = format!("file://{}", page.display());
    let out = headless(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,1600",
        &url,
    ]);
    assert!(shot.exists(), "no screenshot: {}", stdout(&out));
    let (width, height, pixels) = decode_png(&shot);
    assert_eq!((width, height), (1200, 1600));
    let inked = pixels
        .iter()
        .filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200)
        .count();
    let colours: std::collections::BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        inked > pixels.len() / 100,
        "the page looks blank: {inked} dark pixels of {}",
        pixels.len()
    );
    assert!(colours.len() > 20, "only {} colours", colours.len());

    // What the browser made of it: the text is there, as text.
    let dom = headless(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(&format!("logbook session {id}")), "{dom:.400}");
    assert!(dom.contains("useTodos"));
    assert!(dom.contains("tokens: "));

    let hostile_page = store.scratch().join("hostile.html");
    store.ok(&[
        "render",
        &hostile_id,
        "--format",
        "html",
        "--out",
        hostile_page.to_str().unwrap(),
    ]);
    let dom = headless(&["--dump-dom", &format!("file://{}", hostile_page.display())]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<title>PWNED"), "a script ran: {dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(dom.contains("render me"));
    // A prompt that opens with a tag is still the user's: the timeline
    // lists it (it once took it for Claude Code's markup and dropped it).
    let timeline = store.ok(&["timeline", &hostile_id]);
    assert!(
        timeline.contains("prompt             <script>document.title='PWNED'</script>"),
        "{timeline}"
    );
}

/// `/mcp` and what it printed, from a real Claude Code 2.1.38 transcript:
/// the command is the user's, its output is Claude Code's, shown as output
/// without its markup.
#[test]
fn a_command_the_user_ran_is_rendered_with_its_output_as_output() {
    let (store, id) = one_real("spotter-real/tool_heavy.jsonl");
    let md = store.ok(&["render", &id, "--format", "md"]);
    assert!(
        md.contains(
            "### User · 2026-02-10T22:58:08.126Z\n\n/mcp\n\n### Output (local command) · 2026-02-10T22:58:08.126Z\n\n```text\nReconnected to tidewave.\n```"
        ),
        "{md}"
    );
    assert!(!md.contains("local-command-stdout"), "{md}");
    let html = store.ok(&["render", &id, "--format", "html"]);
    assert!(
        html.contains("Output (local command) · 2026-02-10T22:58:08.126Z</span><pre>Reconnected to tidewave.</pre>"),
        "{html}"
    );
}

/// Decodes an 8-bit RGB or RGBA PNG into RGB pixels.
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

#[test]
fn escape_sequences_in_a_transcript_never_reach_the_auditors_terminal() {
    // A transcript is hostile input: an escape sequence printed raw would
    // clear the screen, hide what follows (SGR 8) or set the clipboard
    // (OSC 52); a bidirectional override would reorder what is shown.
    let store = Store::new();
    let dir = store.scratch().join("projects/p");
    std::fs::create_dir_all(&dir).unwrap();
    let hostile = "look \u{1b}[2J\u{1b}[8mhidden\u{1b}]52;c;ZXZpbA==\u{7} \u{202e}txt.exe";
    let line = |v: Value| format!("{v}\n");
    let mut t = String::new();
    t += &line(
        json!({"type":"user","sessionId":"esc","cwd":"/p","timestamp":"2026-01-01T10:00:00Z",
        "message":{"role":"user","content":format!("please {hostile}")}}),
    );
    t += &line(
        json!({"type":"assistant","sessionId":"esc","cwd":"/p","timestamp":"2026-01-01T10:00:01Z",
        "message":{"id":"m1","role":"assistant","content":[
            {"type":"tool_use","id":"t1","name":"Read","input":{"file_path":format!("/p/{hostile}")}}]}}),
    );
    t += &line(
        json!({"type":"user","sessionId":"esc","cwd":"/p","timestamp":"2026-01-01T10:00:02Z",
        "message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":format!("cannot read {hostile}")}]}}),
    );
    append_text(&dir.join("esc.jsonl"), &t);
    store.ok(&["import", dir.to_str().unwrap()]);
    let id = first_session(&store);
    decide(&store, &id, &format!("saw {hostile}"));
    let file = format!("/p/{hostile}");
    for args in [
        vec!["timeline", id.as_str()],
        vec!["search", "look"],
        vec!["files", file.as_str()],
        vec!["log"],
        vec!["context", id.as_str()],
        vec!["review", id.as_str()],
        vec!["review", id.as_str(), "--json"],
        vec!["render", id.as_str(), "--format", "md"],
        vec!["render", id.as_str(), "--format", "html"],
    ] {
        let out = store.ok(&args);
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{202e}']),
            "{args:?} printed a control character:\n{out:?}"
        );
        // Shown, not dropped: the auditor sees that it was there.
        assert!(out.contains("\\u001b"), "{args:?}:\n{out}");
    }
    // JSON stays the same JSON: the escapes are JSON's own.
    let review = json_of(&store.ok(&["review", &id, "--json"]));
    assert!(review.to_string().contains('\u{202e}'), "{review}");
}

#[test]
fn a_terminal_agents_output_is_rendered_as_it_was_printed() {
    // What a terminal agent printed (standard input here; a pane or a log
    // file the same) is its transcript: a render of it must not be empty.
    let store = Store::new();
    let id = store.ok(&["start", "--command", "aider"]).trim().to_owned();
    let first = "aider> fix the bug in <b>main.rs</b>\nApplied edit to main.rs\n";
    let second = format!(
        "export TOKEN={}\r\n\u{1b}[2Jdone\n",
        "ghp_PLANTED0123456789abcdefABCDEF012345"
    );
    for part in [first, second.as_str()] {
        let out = store.piped(&["capture", "--stdin", &id], part.as_bytes());
        assert!(out.status.success(), "{out:?}");
    }
    store.ok(&["end", &id]);
    let md = store.ok(&["render", &id, "--format", "md"]);
    // Two captures of one source are one block, with its time.
    assert_eq!(md.matches("### Output (main) · ").count(), 1, "{md}");
    assert!(
        md.contains(
            "aider> fix the bug in <b>main.rs</b>\nApplied edit to main.rs\nexport TOKEN=[REDACTED:github-token]\n\\u001b[2Jdone\n```"
        ),
        "{md}"
    );
    let html = store.ok(&["render", &id, "--format", "html"]);
    assert!(
        html.contains("aider&gt; fix the bug in &lt;b&gt;main.rs&lt;/b&gt;"),
        "{html}"
    );
    for page in [&md, &html] {
        assert!(!page.contains("PLANTED"), "{page}");
        assert!(!page.contains(['\u{1b}', '\r']), "{page:?}");
    }
    assert!(
        store
            .ok(&["render", &id, "--format", "md", "--no-redact"])
            .contains("ghp_PLANTED")
    );
}

/// A real `AskUserQuestion` (two questions at once) shows what was asked.
#[test]
fn the_timeline_shows_the_question_put_to_the_user() {
    let (store, id) = one_real("spotter-real/subagent.jsonl");
    let text = store.ok(&["timeline", &id]);
    assert!(
        text.contains(
            "AskUserQuestion Which rig do these beads belong to? (This is a single-app project — should I use 'spotter'?) (+1 more)  ok"
        ),
        "{text}"
    );
}
