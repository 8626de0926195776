//! The live recorder: the daemon watches what agents write and how they
//! die, never makes a hook wait, and survives being killed or stopped.
//! Every test drives real processes: the stand-in agent
//! (`tests/agents/claude`), `logbook` clients and the daemon they start.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use logbook_tests::append_text as append;
use logbook_tests::{
    Agent, Lcg, Store, chain_parts, hook_payload, parts_of, sessions_of, wait_bounded, wait_until,
};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

fn project(store: &Store, name: &str) -> PathBuf {
    let dir = store.scratch().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn tokens_json(store: &Store, session: &str) -> Option<Value> {
    let path = store
        .root()
        .join("sessions")
        .join(session)
        .join("tokens.json");
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Runs agent `id` in `cwd` to its end.
fn run_agent(store: &Store, id: &str, cwd: &Path, args: &[&str]) -> Agent {
    let mut agent = Agent::spawn(store, id, cwd, args);
    finish(&mut agent);
    agent
}

/// The first session recorded for `agent`.
fn first_session(store: &Store, agent: &str) -> String {
    sessions_of(store, agent)[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn finish(agent: &mut Agent) {
    agent.wait_for("done", LONG);
    assert!(wait_bounded(&mut agent.child, LONG).success());
    for (event, rc, _, _) in agent.hooks() {
        assert_eq!(rc, 0, "hook {event} failed");
    }
}

fn signal(pid: u32, sig: &str) {
    // Only ever a logbook daemon: a pid file can outlive its process.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline.windows(6).any(|w| w == b"daemon") {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    }
}

fn transcript_equals_chain(store: &Store, agent: &Agent) -> bool {
    chain_parts(store, &agent.session_id) == std::fs::read(&agent.transcript).unwrap()
}

fn totals_equal_truth(store: &Store, session: &str, truth: &Value) -> bool {
    tokens_json(store, session).is_some_and(|t| {
        [
            "input",
            "output",
            "cache_creation",
            "cache_read",
            "responses",
        ]
        .iter()
        .all(|k| t["totals"][k] == truth[k])
    })
}

/// Runs a stand-in agent to its end and checks that every line it wrote,
/// the cost-state record after SessionEnd last, landed in its one session.
fn every_line_lands_through_the_end(id: &str, args: &[&str]) {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let agent = run_agent(&store, id, &cwd, args);
    wait_until(LONG, "the transcript captured byte for byte", || {
        transcript_equals_chain(&store, &agent)
    });
    let sessions = sessions_of(&store, &agent.session_id);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["status"], "completed");
    let last = std::fs::read_to_string(&agent.transcript).unwrap();
    assert!(last.lines().last().unwrap().contains("cost-state"));
}

#[test]
fn lines_written_after_stop_and_after_session_end_land_in_their_session() {
    // The final line of every turn comes after Stop, and a cost-state
    // record after SessionEnd: the watcher takes them all, in this session.
    every_line_lands_through_the_end("late-lines-1", &["--turns", "4"]);
}

#[test]
fn a_line_written_well_after_session_end_lands_while_the_agent_still_runs() {
    // The cost-state record comes 1.5 s after SessionEnd: past the quiet
    // period (400 ms), within the drain's bound (5 s). The agent is alive
    // until it has written it.
    every_line_lands_through_the_end("slow-end-1", &["--turns", "1", "--after-end", "1.5"]);
}

#[test]
fn tokens_json_follows_the_last_write_without_another_hook() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    // No SessionEnd: after the last Stop, the turn's final line (with the
    // response's full usage) is written and no hook ever runs again.
    let agent = run_agent(
        &store,
        "current-tokens-1",
        &cwd,
        &["--turns", "3", "--end", "none"],
    );
    let truth = json_file(&agent.truth);
    let session = first_session(&store, &agent.session_id);
    wait_until(LONG, "tokens.json counting the last response", || {
        totals_equal_truth(&store, &session, &truth)
    });
}

#[test]
fn an_agent_killed_mid_turn_leaves_an_abandoned_session_and_a_brief() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let mut agent = Agent::spawn(
        &store,
        "killed-agent-1",
        &cwd,
        &["--turns", "4", "--hang-in-turn", "3"],
    );
    agent.wait_for("hanging", LONG);
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    wait_until(LONG, "the session abandoned", || {
        sessions_of(&store, &agent.session_id)
            .first()
            .is_some_and(|s| s["status"] == "abandoned")
    });
    let ended = &sessions_of(&store, &agent.session_id)[0];
    assert_eq!(ended["end_reason"], "agent_exited");
    assert!(transcript_equals_chain(&store, &agent));

    // The next session in the project is handed what the dead one was doing.
    let next = run_agent(&store, "next-agent-1", &cwd, &["--turns", "1"]);
    let (event, _, _, printed) = next.hooks().into_iter().next().unwrap();
    assert_eq!(event, "SessionStart");
    let first = ended["session_id"].as_str().unwrap();
    assert!(
        printed.starts_with(&format!("# Handoff from logbook session {first}")),
        "{printed}"
    );
    assert!(printed.contains("please do step 3"), "{printed}");
}

#[test]
fn thirty_sigkills_of_the_daemon_while_three_agents_write_lose_and_repeat_nothing() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    store.ok(&["ls"]);
    let mut agents: Vec<Agent> = (0..3)
        .map(|i| {
            Agent::spawn(
                &store,
                &format!("killed-daemon-{i}"),
                &cwd,
                &["--turns", "40", "--pause", "0.01"],
            )
        })
        .collect();
    let mut rng = Lcg(0x5eed);
    let mut kills = 0;
    while kills < 30 {
        std::thread::sleep(Duration::from_millis(20 + rng.next(130)));
        if let Some(pid) = store.daemon_pid() {
            signal(pid, "-KILL");
            kills += 1;
        }
    }
    for agent in &mut agents {
        finish(agent);
    }
    // Whatever was under way when the last daemon died is picked up by the
    // next one, which any command starts.
    store.ok(&["ls"]);
    for agent in &agents {
        wait_until(LONG, "every line exactly once", || {
            transcript_equals_chain(&store, agent)
        });
        wait_until(LONG, "the SessionEnd applied", || {
            sessions_of(&store, &agent.session_id)
                .last()
                .is_some_and(|s| s["status"] == "completed")
        });
    }
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

fn line(agent: &str, n: usize) -> String {
    format!(
        "{{\"type\":\"user\",\"sessionId\":\"{agent}\",\"message\":{{\"role\":\"user\",\"content\":\"line {n}\"}}}}\n"
    )
}

#[test]
fn hooks_to_a_stopped_daemon_exit_at_once_and_are_applied_in_order_later() {
    let store = Store::with_daemon();
    store.configure("hook_wait_ms = 300\n");
    let cwd = project(&store, "repo");
    let (a, b) = ("stopped-a", "stopped-b");
    let ta = store.scratch().join("a.jsonl");
    let tb = store.scratch().join("b.jsonl");
    append(&ta, &line(a, 0));
    store.hook_within(
        &hook_payload("SessionStart", a, &ta, &cwd, json!({"source": "startup"})),
        LONG,
    );
    let first = first_session(&store, a);
    let pid = store.daemon_pid().unwrap();
    signal(pid, "-STOP");
    // A whole /clear while the daemon is frozen: the order matters (the
    // new conversation must find the handoff the old one left).
    append(&ta, &line(a, 1));
    let spooled = [
        hook_payload("UserPromptSubmit", a, &ta, &cwd, json!({"prompt": "x"})),
        hook_payload("Stop", a, &ta, &cwd, json!({})),
        hook_payload("SessionEnd", a, &ta, &cwd, json!({"reason": "clear"})),
        hook_payload("SessionStart", b, &tb, &cwd, json!({"source": "clear"})),
    ];
    for payload in &spooled {
        store.hook_within(payload, Duration::from_secs(5));
    }
    append(&tb, &line(b, 0));
    signal(pid, "-CONT");
    wait_until(
        LONG,
        "the cleared conversation chained to the old one",
        || {
            sessions_of(&store, b).first().is_some_and(|s| {
                s["origin"] == "after_clear" && s["transitioned_from"] == first.as_str()
            })
        },
    );
    wait_until(LONG, "both transcripts whole", || {
        chain_parts(&store, a) == std::fs::read(&ta).unwrap()
            && chain_parts(&store, b) == std::fs::read(&tb).unwrap()
    });
    let ended = &sessions_of(&store, a)[0];
    assert_eq!(ended["end_reason"], "clear");
    let left: Vec<_> = std::fs::read_dir(store.root().join("spool"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|p| p.extension().is_none_or(|e| e != "json")),
        "{left:?}"
    );
}

fn daemon_status(store: &Store) -> Value {
    serde_json::from_str(&store.ok(&["daemon", "status", "--json"])).unwrap()
}

#[test]
fn stopping_one_sessions_watcher_leaves_the_others_capturing() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let agents = ["watched-0", "watched-1", "watched-2"];
    let files: Vec<PathBuf> = agents
        .iter()
        .map(|a| store.scratch().join(format!("{a}.jsonl")))
        .collect();
    for (agent, file) in agents.iter().zip(&files) {
        append(file, &line(agent, 0));
        store.hook_within(
            &hook_payload(
                "SessionStart",
                agent,
                file,
                &cwd,
                json!({"source": "startup"}),
            ),
            LONG,
        );
    }
    wait_until(LONG, "three watchers", || {
        daemon_status(&store)["watchers"]
            .as_array()
            .is_some_and(|w| w.len() == 3)
    });
    let status = daemon_status(&store);
    let watcher = &status["watchers"][0];
    for key in ["session", "agent_session", "files", "lines_captured", "pid"] {
        assert!(!watcher[key].is_null(), "{key} missing from {watcher}");
    }
    let stopped = sessions_of(&store, agents[0])[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ambiguous = store.run(&["daemon", "stop", &stopped[..4]]);
    assert_eq!(
        ambiguous.status.code(),
        Some(2),
        "three sessions share a prefix"
    );
    store.ok(&["daemon", "stop", &stopped]);
    for (agent, file) in agents.iter().zip(&files) {
        for n in 1..=5 {
            append(file, &line(agent, n));
        }
    }
    // No hook runs: only watchers capture.
    for (agent, file) in agents.iter().zip(&files).skip(1) {
        wait_until(LONG, "the other watchers capture", || {
            chain_parts(&store, agent) == std::fs::read(file).unwrap()
        });
    }
    assert_eq!(
        parts_of(&store, &stopped, "main"),
        line(agents[0], 0).into_bytes(),
        "the stopped watcher captured"
    );
    // A watcher counts its pass once the pass has committed, so the log can
    // be ahead of the status for a moment.
    wait_until(
        LONG,
        "each remaining watcher to count its five lines",
        || {
            let status = daemon_status(&store);
            let watchers = status["watchers"].as_array().unwrap().clone();
            watchers.len() == 2 && watchers.iter().all(|w| w["lines_captured"] == 5)
        },
    );
    // A session ended another way leaves its watcher with nothing to do.
    let second = first_session(&store, agents[1]);
    store.ok(&["end", &second]);
    wait_until(LONG, "the ended session's watcher gone", || {
        daemon_status(&store)["watchers"]
            .as_array()
            .is_some_and(|w| w.len() == 1)
    });
}

#[test]
fn a_killed_daemon_leaves_a_stale_socket_that_the_next_command_replaces_silently() {
    let store = Store::with_daemon();
    let first = store.start("one");
    let pid = store.daemon_pid().unwrap();
    signal(pid, "-KILL");
    wait_until(LONG, "the daemon gone", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(store.root().join("daemon.sock").exists(), "a stale socket");
    let out = store.run(&["show", &first, "--json"]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(store.daemon_pid(), Some(pid));
}

#[test]
fn a_daemon_of_another_build_is_replaced_not_talked_to() {
    let store = Store::with_daemon();
    // A copy of the binary is another build to the handshake (its
    // identity includes the executable's size and modification time).
    let other = store.scratch().join("logbook-other-build");
    std::fs::copy(logbook_tests::logbook_bin(), &other).unwrap();
    // Another test thread forking while the copy was open for writing
    // holds that descriptor until its child execs: running the copy then
    // fails with ETXTBSY for a moment (seen once in CI).
    let started = std::time::Instant::now();
    let out = loop {
        match store.command(&other).args(["daemon", "start"]).output() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && started.elapsed() < LONG =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => break result.unwrap(),
        }
    };
    assert!(out.status.success());
    let old = store.daemon_pid().unwrap();
    let id = store.start("after");
    let new = store.daemon_pid().unwrap();
    assert_ne!(new, old);
    assert!(
        !Path::new(&format!("/proc/{old}/cmdline")).exists() || {
            // Reaped later by whoever adopted it; it must at least not run.
            let stat = std::fs::read_to_string(format!("/proc/{old}/stat")).unwrap_or_default();
            stat.contains(") Z")
        }
    );
    assert_eq!(store.show(&id)["command"], "after");
}

#[test]
fn the_daemon_sweeps_transcripts_no_hook_saw() {
    let store = Store::with_daemon();
    // The user store sweeps every project under Claude Code's folder.
    let dir = store.scratch().join("claude/projects/-home-dev-old");
    std::fs::create_dir_all(&dir).unwrap();
    let agent = "swept-agent-1";
    let file = dir.join(format!("{agent}.jsonl"));
    for n in 0..3 {
        append(&file, &line(agent, n));
    }
    // Its subagent's file joins it in the same sweep, though the session
    // the sweep just started for it is active.
    let subagent = dir.join(agent).join("subagents/agent-a1.jsonl");
    std::fs::create_dir_all(subagent.parent().unwrap()).unwrap();
    append(&subagent, &line(agent, 10));
    store.ok(&["ls"]);
    wait_until(LONG, "the swept conversation recorded", || {
        chain_parts(&store, agent) == std::fs::read(&file).unwrap()
    });
    let sessions = sessions_of(&store, agent);
    assert_eq!(sessions.len(), 1);
    let id = sessions[0]["session_id"].as_str().unwrap();
    wait_until(LONG, "the subagent's file recorded", || {
        parts_of(&store, id, "subagents/agent-a1") == std::fs::read(&subagent).unwrap()
    });
}

#[test]
fn import_after_hooks_and_hooks_after_import_keep_one_session_per_conversation() {
    let store = Store::new();
    let cwd = project(&store, "repo");
    // Hooks first, then an import of the same transcript.
    let agent = run_agent(&store, "both-ways-1", &cwd, &["--turns", "3"]);
    let truth = json_file(&agent.truth);
    store.ok(&["import", agent.transcript.to_str().unwrap()]);
    let sessions = sessions_of(&store, &agent.session_id);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let id = sessions[0]["session_id"].as_str().unwrap().to_owned();
    wait_until(LONG, "totals equal to the truth, not doubled", || {
        totals_equal_truth(&store, &id, &truth)
    });

    // An import first, then hooks for the same conversation.
    let agent = "imported-first-1";
    let file = store.scratch().join(format!("{agent}.jsonl"));
    append(&file, &line(agent, 0));
    store.ok(&["import", file.to_str().unwrap()]);
    append(&file, &line(agent, 1));
    store.hook_within(
        &hook_payload(
            "SessionStart",
            agent,
            &file,
            &cwd,
            json!({"source": "resume"}),
        ),
        LONG,
    );
    store.hook_within(&hook_payload("Stop", agent, &file, &cwd, json!({})), LONG);
    assert_eq!(sessions_of(&store, agent).len(), 1);
    assert_eq!(chain_parts(&store, agent), std::fs::read(&file).unwrap());
}

#[test]
fn sixteen_agents_hook_through_a_long_import_and_none_waits_or_is_dropped() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let corpus = store.scratch().join("corpus");
    logbook_tests::corpus::generate(&corpus, 40 << 20);
    let mut import = store
        .cmd()
        .args(["import", corpus.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut agents: Vec<Agent> = (0..16)
        .map(|i| Agent::spawn(&store, &format!("busy-{i:02}"), &cwd, &["--turns", "3"]))
        .collect();
    for agent in &mut agents {
        finish(agent);
        for (event, _, secs, _) in agent.hooks() {
            // hook_wait_ms (700) plus the start of two processes.
            assert!(secs < 5.0, "{event} waited {secs:.2}s");
        }
    }
    assert!(wait_bounded(&mut import, Duration::from_secs(600)).success());
    for agent in &agents {
        wait_until(LONG, "every agent's lines, once", || {
            transcript_equals_chain(&store, agent)
        });
        let sessions = sessions_of(&store, &agent.session_id);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0]["status"], "completed");
    }
}

#[test]
fn a_threshold_crossed_after_stop_is_recorded_at_once_and_shown_at_the_next_stop() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    // 180,000 of 200,000 tokens in use: 10 % left, under every threshold.
    // The response saying so is written after its turn's Stop hook.
    let agent = run_agent(
        &store,
        "low-context-1",
        &cwd,
        &["--turns", "1", "--end", "none", "--context", "179880"],
    );
    let session = first_session(&store, &agent.session_id);
    wait_until(LONG, "the alert recorded without a hook", || {
        tokens_json(&store, &session)
            .is_some_and(|t| t["alerts"].as_array().is_some_and(|a| !a.is_empty()))
    });
    let (_, stop, _, printed) = agent.hooks().into_iter().find(|h| h.0 == "Stop").unwrap();
    assert_eq!(stop, 0);
    assert_eq!(printed, "", "the turn's own Stop came before the reading");
    // The next Stop tells the user.
    let out = store.piped(
        &["hook"],
        &hook_payload(
            "Stop",
            &agent.session_id,
            &agent.transcript,
            &cwd,
            json!({}),
        ),
    );
    assert!(out.status.success());
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = shown["systemMessage"].as_str().unwrap();
    assert!(message.contains("below 12%"), "{message}");
    // Shown once.
    let again = store.piped(
        &["hook"],
        &hook_payload(
            "Stop",
            &agent.session_id,
            &agent.transcript,
            &cwd,
            json!({}),
        ),
    );
    assert!(again.stdout.is_empty());
}

/// Processes running `logbook … daemon run` for this store.
fn daemons_of(store: &Store) -> Vec<u32> {
    let root = store.root();
    let root = root.to_str().unwrap().as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            cmd.windows(root.len()).any(|w| w == root)
                && cmd.windows(6).any(|w| w == b"daemon")
                && !stat.contains(") Z")
        })
        .collect()
}

#[test]
fn racing_clients_start_one_detached_private_daemon_that_leaves_when_idle() {
    use std::os::unix::fs::PermissionsExt as _;
    let store = Store::with_daemon();
    store.configure("daemon_idle_secs = 3\n");
    let racers: Vec<_> = (0..8)
        .map(|_| {
            store
                .cmd()
                .arg("ls")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut racer in racers {
        assert!(wait_bounded(&mut racer, LONG).success());
    }
    // Each racer that found no daemon spawned one; all but one find the
    // lock held and leave, and under load a moment after the racers that
    // spawned them have been answered (CI saw three still starting).
    let mut running = Vec::new();
    wait_until(LONG, "one daemon left, the one that serves", || {
        running = daemons_of(&store);
        running.len() == 1 && store.daemon_pid() == Some(running[0])
    });
    let pid = running[0];
    // Its own session: closing the terminal of the client that started it
    // does not take it down.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let session: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(session, pid);
    let mode = std::fs::metadata(store.root().join("daemon.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // No session to watch and nobody asking: it goes.
    wait_until(LONG, "the idle daemon gone", || {
        daemons_of(&store).is_empty()
    });
    assert!(!store.root().join("daemon.sock").exists());
}

#[test]
fn status_names_a_daemon_that_stopped_answering() {
    let store = Store::with_daemon();
    store.ok(&["ls"]);
    let pid = store.daemon_pid().unwrap();
    signal(pid, "-STOP");
    let out = store.run(&["daemon", "status"]);
    signal(pid, "-CONT");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("pid {pid}")) && stderr.contains("not answering"),
        "{stderr}"
    );
}

#[test]
fn a_failing_watcher_retries_and_recovers_from_the_log() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let agent = "failing-watch-1";
    let file = store.scratch().join(format!("{agent}.jsonl"));
    append(&file, &line(agent, 0));
    store.hook_within(
        &hook_payload(
            "SessionStart",
            agent,
            &file,
            &cwd,
            json!({"source": "startup"}),
        ),
        LONG,
    );
    let session = first_session(&store, agent);
    // A file where the transcript parts' directory belongs: every
    // projection of this session fails until it is gone.
    let parts = store
        .root()
        .join("sessions")
        .join(&session)
        .join("transcript");
    std::fs::remove_dir_all(&parts).unwrap();
    std::fs::write(&parts, "in the way").unwrap();
    append(&file, &line(agent, 1));
    wait_until(LONG, "the watcher failing", || {
        daemon_status(&store)["watchers"][0]["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("failing"))
    });
    std::fs::remove_file(&parts).unwrap();
    wait_until(LONG, "the watcher recovered", || {
        chain_parts(&store, agent) == std::fs::read(&file).unwrap()
    });
    assert!(store.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn daemon_false_in_the_config_runs_commands_in_process_unless_the_environment_says_on() {
    let store = Store::new();
    store.configure("daemon = false\n");
    let out = store
        .cmd()
        .env_remove("LOGBOOK_DAEMON")
        .args(["start", "--command", "alone"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(daemons_of(&store).is_empty());
    assert!(!store.root().join("daemon.sock").exists());
    let out = store
        .cmd()
        .env("LOGBOOK_DAEMON", "on")
        .arg("ls")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(daemons_of(&store).len(), 1);
}

#[test]
fn a_resumed_conversation_is_watched_live_again() {
    let store = Store::with_daemon();
    let cwd = project(&store, "repo");
    let agent = "resumed-watch-1";
    let file = store.scratch().join(format!("{agent}.jsonl"));
    append(&file, &line(agent, 0));
    let at = |event: &str, extra: Value| hook_payload(event, agent, &file, &cwd, extra);
    store.hook_within(&at("SessionStart", json!({"source": "startup"})), LONG);
    store.hook_within(
        &at("SessionEnd", json!({"reason": "prompt_input_exit"})),
        LONG,
    );
    store.hook_within(&at("SessionStart", json!({"source": "resume"})), LONG);
    let sessions = sessions_of(&store, agent);
    assert_eq!(sessions.len(), 2);
    // Past the watcher's check of its session's status, which must look at
    // the resumed session, not the ended one.
    std::thread::sleep(Duration::from_millis(1_500));
    for n in 1..=3 {
        append(&file, &line(agent, n));
    }
    let caught = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        chain_parts(&store, agent) == std::fs::read(&file).unwrap()
    });
    if !caught {
        eprintln!("STATUS {}", store.ok(&["daemon", "status", "--json"]));
        eprintln!("SESSIONS {:?}", sessions_of(&store, agent));
        eprintln!(
            "LOG {}",
            std::fs::read_to_string(store.root().join("logbook.log")).unwrap_or_default()
        );
        eprintln!(
            "DLOG {}",
            std::fs::read_to_string(store.root().join("daemon.log")).unwrap_or_default()
        );
        panic!("not caught");
    }
    let resumed = sessions[1]["session_id"].as_str().unwrap();
    assert_eq!(
        parts_of(&store, resumed, "main").len(),
        3 * line(agent, 1).len()
    );
}
