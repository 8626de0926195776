//! Hook benchmarks: the wall time of one `logbook hook` call as a whole
//! process, as Claude Code runs it: a `Stop` that captures one new turn with
//! 100K events already in the store, and a `SessionEnd` whose final capture
//! takes a whole 3 MB transcript.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests
//! --bench hooks`. Prints a Markdown table for the README.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logbook_store::{SledLog, StoreOptions};

/// One turn as Claude Code writes it: a prompt, an assistant response over
/// three lines sharing a message id, a tool result.
fn turn(out: &mut impl Write, agent: &str, n: u64, pad: &str) {
    let common = format!(
        "\"sessionId\":\"{agent}\",\"cwd\":\"/home/dev/proj\",\"timestamp\":\"2026-11-01T10:00:{:02}Z\"",
        n % 60
    );
    writeln!(out, "{{\"type\":\"user\",{common},\"message\":{{\"role\":\"user\",\"content\":\"please fix test {n}\"}}}}").unwrap();
    for block in 0..3 {
        writeln!(out, "{{\"type\":\"assistant\",{common},\"requestId\":\"req_{n}\",\"message\":{{\"id\":\"msg_{n}\",\"role\":\"assistant\",\"content\":[{{\"type\":\"tool_use\",\"id\":\"tu_{n}_{block}\",\"name\":\"Read\",\"input\":{{\"file_path\":\"/home/dev/proj/src/m{block}.rs\"}}}}],\"usage\":{{\"input_tokens\":10,\"output_tokens\":50,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":{}}}}}}}", 1000 * n).unwrap();
    }
    writeln!(out, "{{\"type\":\"user\",{common},\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"tool_result\",\"tool_use_id\":\"tu_{n}_0\",\"content\":\"{pad}\"}}]}}}}").unwrap();
}

fn hook(store: &Path, payload: &str) -> Duration {
    let t = Instant::now();
    let mut child = Command::new(logbook_tests::logbook_bin())
        .arg("hook")
        .env("LOGBOOK_DIR", store)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let took = t.elapsed();
    assert!(
        !store.join("logbook.log").exists(),
        "hook failed: {}",
        std::fs::read_to_string(store.join("logbook.log")).unwrap()
    );
    took
}

fn payload(event: &str, agent: &str, transcript: &Path, extra: &str) -> String {
    format!(
        "{{\"session_id\":\"{agent}\",\"transcript_path\":\"{}\",\"cwd\":\"/home/dev/proj\",\"hook_event_name\":\"{event}\"{extra}}}",
        transcript.display()
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    {
        let log = SledLog::open(&store, &StoreOptions::default()).unwrap();
        logbook_tests::fill(&log, 100_000, 1_000);
    }
    println!("| measure | result | target |");
    println!("|---|---|---|");

    let agent = "bench-stop";
    let transcript = scratch.path().join(format!("{agent}.jsonl"));
    let pad = "lorem ipsum ".repeat(40);
    {
        let mut f = std::fs::File::create(&transcript).unwrap();
        for n in 0..200 {
            turn(&mut f, agent, n, &pad);
        }
    }
    // The first call projects the filled store once; not measured.
    hook(
        &store,
        &payload(
            "SessionStart",
            agent,
            &transcript,
            ",\"source\":\"startup\"",
        ),
    );
    let mut stops = Vec::new();
    for n in 200..231 {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&transcript)
            .unwrap();
        turn(&mut f, agent, n, &pad);
        drop(f);
        stops.push(hook(&store, &payload("Stop", agent, &transcript, "")));
    }
    println!(
        "| `hook` Stop with one new turn, 100K events in the store (median of {}) | {} | ≤ 25 ms |",
        stops.len(),
        ms(median(stops))
    );

    let mut ends = Vec::new();
    let mut size = 0;
    for run in 0..7 {
        let agent = format!("bench-end-{run}");
        let transcript = scratch.path().join(format!("{agent}.jsonl"));
        std::fs::write(&transcript, "").unwrap();
        hook(
            &store,
            &payload(
                "SessionStart",
                &agent,
                &transcript,
                ",\"source\":\"startup\"",
            ),
        );
        let mut f = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&transcript)
                .unwrap(),
        );
        let mut n = 0;
        while f.get_ref().metadata().unwrap().len() < 3 << 20 {
            for _ in 0..50 {
                turn(&mut f, &agent, n, &pad);
                n += 1;
            }
            f.flush().unwrap();
        }
        drop(f);
        size = std::fs::metadata(&transcript).unwrap().len();
        ends.push(hook(
            &store,
            &payload(
                "SessionEnd",
                &agent,
                &transcript,
                ",\"reason\":\"prompt_input_exit\"",
            ),
        ));
    }
    println!(
        "| `hook` SessionEnd capturing a whole {:.1} MB transcript (median of {}) | {} | ≤ 300 ms |",
        size as f64 / 1e6,
        ends.len(),
        ms(median(ends))
    );
}
