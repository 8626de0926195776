//! The daemon benchmark: whole-process wall time of what an agent and a
//! person run (`hook Stop`, `hook PostToolUse`, `statusline`, `ls`,
//! `tokens`) with the daemon
//! and without it, on stores holding 0 and N MB of imported transcripts;
//! the latency from a transcript write to its capture; the daemon's memory.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests
//! --bench daemon -- --mb 0 --mb 1000` (add `--mb 5000` for the big store).
//! The corpora come from the project's generator (`tests/src/corpus.rs`).
//! Prints Markdown tables for the README.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logbook_tests::append_text as append;
use logbook_tests::logbook_bin;

const RUNS: usize = 31;

fn logbook(store: &Path, daemon: bool) -> Command {
    let mut cmd = Command::new(logbook_bin());
    cmd.env("LOGBOOK_DIR", store)
        .env("LOGBOOK_DAEMON", if daemon { "on" } else { "off" })
        .env("CLAUDE_CONFIG_DIR", store.join("no-claude"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Runs `args` with `input` on stdin; the whole process's wall time.
fn timed(store: &Path, daemon: bool, args: &[&str], input: &[u8]) -> Duration {
    let started = Instant::now();
    let mut child = logbook(store, daemon)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    assert!(child.wait().unwrap().success(), "logbook {args:?} failed");
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let at = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[at]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn line(agent: &str, n: usize) -> String {
    format!(
        "{{\"type\":\"assistant\",\"sessionId\":\"{agent}\",\"requestId\":\"req_{n}\",\"message\":{{\"id\":\"msg_{n}\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{{\"type\":\"text\",\"text\":\"answer {n}\"}}],\"usage\":{{\"input_tokens\":10,\"output_tokens\":50,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":{}}}}}}}\n",
        1000 + n
    )
}

fn payload(event: &str, agent: &str, transcript: &Path, extra: &str) -> Vec<u8> {
    format!(
        "{{\"session_id\":\"{agent}\",\"transcript_path\":\"{}\",\"cwd\":\"/home/dev/bench\",\"hook_event_name\":\"{event}\"{extra}}}",
        transcript.display()
    )
    .into_bytes()
}

fn statusline_input(agent: &str, used: u64) -> Vec<u8> {
    format!(
        "{{\"session_id\":\"{agent}\",\"cwd\":\"/home/dev/bench\",\"model\":{{\"id\":\"claude-sonnet-4-5\",\"display_name\":\"Sonnet\"}},\"context_window\":{{\"context_window_size\":200000,\"used_percentage\":{},\"current_usage\":{{\"input_tokens\":{used},\"output_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}}}}",
        used * 100 / 200_000
    )
    .into_bytes()
}

/// `VmRSS` and `VmHWM` of `pid`, in MB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn daemon_pid(store: &Path) -> u32 {
    std::fs::read_to_string(store.join("daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn stop_daemon(store: &Path) {
    assert!(
        logbook(store, true)
            .args(["daemon", "stop"])
            .status()
            .unwrap()
            .success()
    );
}

/// A `PostToolUse` payload as Claude Code 2.1.328 sends it (a Bash call
/// with its output), `n` making each call distinct.
fn post_tool_use(agent: &str, transcript: &Path, n: usize) -> Vec<u8> {
    let extra = format!(
        ",\"tool_name\":\"Bash\",\"tool_input\":{{\"command\":\"cargo test -p m{n}\",\"description\":\"run the tests\"}},\"tool_response\":{{\"stdout\":\"{}\",\"stderr\":\"\",\"interrupted\":false}},\"tool_use_id\":\"toolu_{n:06}\",\"duration_ms\":1200",
        "test result: ok. 12 passed\\n".repeat(40)
    );
    payload("PostToolUse", agent, transcript, &extra)
}

/// The five commands, `RUNS` times each, in the given mode.
fn commands(
    store: &Path,
    daemon: bool,
    agent: &str,
    transcript: &Path,
    turn: &mut usize,
) -> [Duration; 5] {
    let mut stops = Vec::new();
    let mut tool_calls = Vec::new();
    let mut lines = Vec::new();
    let mut lists = Vec::new();
    let mut tokens = Vec::new();
    for run in 0..RUNS {
        append(transcript, &line(agent, *turn));
        *turn += 1;
        stops.push(timed(
            store,
            daemon,
            &["hook"],
            &payload("Stop", agent, transcript, ""),
        ));
        tool_calls.push(timed(
            store,
            daemon,
            &["hook"],
            &post_tool_use(agent, transcript, *turn),
        ));
        let input = statusline_input(agent, 20_000 + 100 * (*turn as u64) + run as u64);
        lines.push(timed(store, daemon, &["statusline"], &input));
        lists.push(timed(store, daemon, &["ls"], b""));
        tokens.push(timed(store, daemon, &["tokens", "--json"], b""));
    }
    [
        median(stops),
        median(tool_calls),
        median(lines),
        median(lists),
        median(tokens),
    ]
}

fn main() {
    let sizes = logbook_tests::corpus::sizes_from_args();
    let scratch = tempfile::tempdir().unwrap();
    let floor = median(
        (0..RUNS)
            .map(|_| timed(scratch.path(), false, &["--version"], b""))
            .collect(),
    );
    println!(
        "Empty process (`logbook --version`), median of {RUNS}: {}\n",
        ms(floor)
    );
    let mut memory_rows = Vec::new();
    let mut latency_rows = Vec::new();
    for mb in sizes {
        let store: PathBuf = scratch.path().join(format!("store-{mb}"));
        // The daemon starts on an empty store: its idle footprint.
        assert!(logbook(&store, true).arg("ls").status().unwrap().success());
        std::thread::sleep(Duration::from_millis(300));
        let idle = memory(daemon_pid(&store));
        if mb > 0 {
            let corpus = scratch.path().join(format!("corpus-{mb}"));
            logbook_tests::corpus::generate(&corpus, mb * 1_000_000);
            let started = Instant::now();
            assert!(
                logbook(&store, true)
                    .args(["import", corpus.to_str().unwrap()])
                    .status()
                    .unwrap()
                    .success()
            );
            let took = started.elapsed();
            let (rss, peak) = memory(daemon_pid(&store));
            memory_rows.push(format!(
                "| {mb} MB | {:.0} MB | {rss:.0} MB | {peak:.0} MB | {:.1} s |",
                idle.0,
                took.as_secs_f64()
            ));
            std::fs::remove_dir_all(&corpus).unwrap();
        } else {
            memory_rows.push(format!(
                "| empty | {:.0} MB | - | {:.0} MB | - |",
                idle.0, idle.1
            ));
        }
        let agent = format!("bench-{mb}");
        let transcript = scratch.path().join(format!("{agent}.jsonl"));
        let mut turn = 0;
        for _ in 0..50 {
            append(&transcript, &line(&agent, turn));
            turn += 1;
        }
        let start = payload(
            "SessionStart",
            &agent,
            &transcript,
            ",\"source\":\"startup\"",
        );
        timed(&store, true, &["hook"], &start);

        // Capture latency: a write, then the moment its bytes are in the
        // session's transcript part (the watcher, no hook).
        let session = sessions_dir_of(&store, &agent);
        let mut latencies = Vec::new();
        for _ in 0..200 {
            let text = line(&agent, turn);
            turn += 1;
            let part = last_part(&session);
            let before = std::fs::metadata(&part).map_or(0, |m| m.len());
            let written = Instant::now();
            append(&transcript, &text);
            let want = before + text.len() as u64;
            loop {
                let now = std::fs::metadata(last_part(&session)).map_or(0, |m| m.len());
                if now >= want || last_part(&session) != part {
                    break;
                }
                assert!(
                    written.elapsed() < Duration::from_secs(10),
                    "never captured"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            latencies.push(written.elapsed());
            std::thread::sleep(Duration::from_millis(20));
        }
        latency_rows.push(format!(
            "| {} | {} | {} | {} |",
            if mb == 0 {
                "empty".to_owned()
            } else {
                format!("{mb} MB")
            },
            ms(percentile(&mut latencies, 0.5)),
            ms(percentile(&mut latencies, 0.99)),
            ms(percentile(&mut latencies, 1.0)),
        ));

        let with = commands(&store, true, &agent, &transcript, &mut turn);
        stop_daemon(&store);
        let without = commands(&store, false, &agent, &transcript, &mut turn);
        let names = [
            "`hook` Stop",
            "`hook` PostToolUse",
            "`statusline`",
            "`ls`",
            "`tokens --json`",
        ];
        println!(
            "Store with {} (median of {RUNS} whole-process runs):\n",
            if mb == 0 {
                "no transcripts".to_owned()
            } else {
                format!("{mb} MB of imported transcripts")
            }
        );
        println!("| command | with the daemon | without (`LOGBOOK_DAEMON=off`) |");
        println!("|---|---|---|");
        for (i, name) in names.iter().enumerate() {
            println!("| {name} | {} | {} |", ms(with[i]), ms(without[i]));
        }
        println!();
    }
    println!("Capture latency, write to captured bytes, 200 writes (daemon's watcher):\n");
    println!("| store | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for row in latency_rows {
        println!("{row}");
    }
    println!("\nDaemon memory:\n");
    println!(
        "| store | RSS idle at start | RSS after the import | peak RSS | import through the daemon |"
    );
    println!("|---|---|---|---|---|");
    for row in memory_rows {
        println!("{row}");
    }
}

/// The session directory of conversation `agent` (its first session).
fn sessions_dir_of(store: &Path, agent: &str) -> PathBuf {
    for entry in std::fs::read_dir(store.join("sessions")).unwrap().flatten() {
        let json = std::fs::read_to_string(entry.path().join("session.json")).unwrap_or_default();
        if json.contains(&format!("\"session_id\": \"{agent}\"")) {
            return entry.path();
        }
    }
    panic!("no session for {agent}");
}

/// The newest transcript part of a session.
fn last_part(session: &Path) -> PathBuf {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(session.join("transcript"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    parts
        .pop()
        .unwrap_or_else(|| session.join("transcript/part-0001.jsonl"))
}
