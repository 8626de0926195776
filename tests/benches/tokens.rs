//! Tokens benchmark against ccusage on the same generated corpora:
//! (a) `logbook import` then `logbook tokens --by agent-session --json`
//! versus `ccusage claude session --offline --json`; (b) one more turn
//! appended (and captured by a `Stop` hook, as it would be live), then only
//! `logbook tokens` again versus ccusage again; and the status line's median
//! wall time as a whole process. Totals are compared, not just timed.
//!
//! Run: `cargo build --release -p logbook-cli && npm install --prefix
//! target/ccusage ccusage@20.0.24 && cargo bench -p logbook-tests --bench
//! tokens -- --mb 100 [--mb 1000]`. `CCUSAGE=path` picks another ccusage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logbook_tests::corpus::{Truth, generate_with_truth, session_id, session_path, turn};
use serde_json::Value;

fn timed(cmd: &mut Command) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let out = cmd.stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed");
    (t.elapsed(), out.stdout)
}

fn logbook(store: &Path) -> Command {
    let mut cmd = Command::new(logbook_tests::logbook_bin());
    cmd.env("LOGBOOK_DIR", store);
    cmd
}

fn ccusage(corpus: &Path) -> (Duration, Truth) {
    let (took, out) = timed(
        Command::new(logbook_tests::ccusage_bin())
            .args(["claude", "session", "--offline", "--json"])
            .env("CLAUDE_CONFIG_DIR", corpus),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    let mut t = Truth::default();
    for s in v["sessions"].as_array().unwrap() {
        t.input += s["inputTokens"].as_u64().unwrap();
        t.output += s["outputTokens"].as_u64().unwrap();
        t.cache_creation += s["cacheCreationTokens"].as_u64().unwrap();
        t.cache_read += s["cacheReadTokens"].as_u64().unwrap();
    }
    (took, t)
}

fn logbook_totals(out: &[u8]) -> Truth {
    let rows: Value = serde_json::from_slice(out).unwrap();
    let mut t = Truth::default();
    for r in rows.as_array().unwrap() {
        t.input += r["input"].as_u64().unwrap();
        t.output += r["output"].as_u64().unwrap();
        t.cache_creation += r["cache_creation"].as_u64().unwrap();
        t.cache_read += r["cache_read"].as_u64().unwrap();
        t.responses += r["responses"].as_u64().unwrap();
    }
    t
}

fn same_tokens(a: &Truth, b: &Truth) -> bool {
    (a.input, a.output, a.cache_creation, a.cache_read)
        == (b.input, b.output, b.cache_creation, b.cache_read)
}

fn statusline_median(store: &Path, agent: &str) -> Duration {
    let mut times: Vec<Duration> = (0..31u64)
        .map(|n| {
            let input = format!(
                "{{\"session_id\":\"{agent}\",\"model\":{{\"display_name\":\"Sonnet\"}},\"context_window\":{{\"context_window_size\":200000,\"used_percentage\":{}}}}}",
                40 + n % 2
            );
            let t = Instant::now();
            let mut child = logbook(store)
                .arg("statusline")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            assert!(child.wait().unwrap().success());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let sizes = logbook_tests::corpus::sizes_from_args();
    assert!(
        logbook_tests::ccusage_bin().exists(),
        "no ccusage at {} (see the header)",
        logbook_tests::ccusage_bin().display()
    );
    println!(
        "| corpus | (a) logbook import + tokens | (a) ccusage | ratio | (b) logbook tokens | (b) ccusage | speed-up | same totals |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut last_store = None;
    for mb in sizes {
        let scratch = tempfile::tempdir().unwrap();
        let corpus = scratch.path().join("claude");
        let (bytes, mut truth, sessions) = generate_with_truth(&corpus, mb * 1_000_000);
        let store = scratch.path().join("store");

        let (import, _) = timed(logbook(&store).arg("import").arg(&corpus));
        let (tokens_a, out) =
            timed(logbook(&store).args(["tokens", "--by", "agent-session", "--json"]));
        let ours_a = logbook_totals(&out);
        let (cc_a, theirs_a) = ccusage(&corpus);

        // One more turn in the last session, captured as the Stop hook would.
        let last = sessions - 1;
        let path = session_path(&corpus, last);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        turn(&mut f, last, &session_id(last), 400, &mut truth);
        drop(f);
        let payload = format!(
            "{{\"session_id\":\"{}\",\"transcript_path\":\"{}\",\"cwd\":\"/home/dev/proj\",\"hook_event_name\":\"Stop\"}}",
            session_id(last),
            path.display()
        );
        let mut hook = logbook(&store)
            .arg("hook")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        hook.stdin
            .take()
            .unwrap()
            .write_all(payload.as_bytes())
            .unwrap();
        assert!(hook.wait().unwrap().success());
        let (tokens_b, out) =
            timed(logbook(&store).args(["tokens", "--by", "agent-session", "--json"]));
        let ours_b = logbook_totals(&out);
        let (cc_b, theirs_b) = ccusage(&corpus);

        let a = import + tokens_a;
        println!(
            "| {:.0} MB | {:.2} s | {:.2} s | {:.2}× | {:.0} ms | {:.2} s | {:.0}× | {} |",
            bytes as f64 / 1e6,
            a.as_secs_f64(),
            cc_a.as_secs_f64(),
            a.as_secs_f64() / cc_a.as_secs_f64(),
            tokens_b.as_secs_f64() * 1000.0,
            cc_b.as_secs_f64(),
            cc_b.as_secs_f64() / tokens_b.as_secs_f64(),
            if same_tokens(&ours_a, &theirs_a)
                && same_tokens(&ours_b, &theirs_b)
                && same_tokens(&ours_b, &truth)
                && ours_b.responses == truth.responses
            {
                "yes".to_owned()
            } else {
                format!("NO: logbook {ours_b:?}, ccusage {theirs_b:?}, truth {truth:?}")
            }
        );
        last_store = Some((scratch, store, session_id(last)));
    }
    if let Some((_scratch, store, agent)) = last_store {
        println!(
            "\n`statusline` as a whole process, median of 31 on the last store: {:.1} ms (target ≤ 15 ms)",
            statusline_median(&store, &agent).as_secs_f64() * 1000.0
        );
    }
}
