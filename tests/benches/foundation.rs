//! Foundation benchmarks: append throughput, replay throughput and the wall
//! time of `logbook start` as a whole process on stores of growing size.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests --bench foundation`
//! (`-- --quick` for a smaller run). Prints a Markdown table for the README.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use logbook_core::EventLog;
use logbook_store::{SledLog, StoreOptions};
use logbook_tests::fill;

fn per_second(count: u64, took: Duration) -> String {
    format!("{:.0}", count as f64 / took.as_secs_f64())
}

/// Median wall time of `logbook start` as a whole process.
fn start_median(dir: &Path, runs: usize) -> Duration {
    let bin = logbook_tests::logbook_bin();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new(&bin)
                .arg("--dir")
                .arg(dir)
                .args(["start", "--command", "bench"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let big: u64 = if quick { 200_000 } else { 1_000_000 };
    let scratch = tempfile::tempdir().unwrap();
    let opts = StoreOptions::default();
    println!("| measure | result |");
    println!("|---|---|");

    {
        let dir = scratch.path().join("single");
        let log = SledLog::open(&dir, &opts).unwrap();
        let n = if quick { 500 } else { 2_000 };
        let t = Instant::now();
        fill(&log, n, 1);
        println!(
            "| append, one event per flushed batch | {} events/s |",
            per_second(n, t.elapsed())
        );
    }
    {
        let dir = scratch.path().join("batched");
        let log = SledLog::open(&dir, &opts).unwrap();
        let n = if quick { 100_000 } else { 300_000 };
        let t = Instant::now();
        fill(&log, n, 1_000);
        println!(
            "| append, batches of 1,000 | {} events/s |",
            per_second(n, t.elapsed())
        );
    }

    let stores = [0u64, 100_000, big];
    for &size in &stores {
        let dir = scratch.path().join(format!("start-{size}"));
        if size > 0 {
            let log = SledLog::open(&dir, &opts).unwrap();
            let t = Instant::now();
            fill(&log, size, 1_000);
            let filled = t.elapsed();
            if size == big {
                let t = Instant::now();
                let mut next = 1;
                let mut read = 0u64;
                loop {
                    let batch = block_on(log.read_from(next, 4096)).unwrap();
                    let Some(last) = batch.last() else { break };
                    next = last.seq + 1;
                    read += batch.len() as u64;
                }
                assert_eq!(read, size);
                println!(
                    "| replay (read + decode) at {size} events | {} events/s |",
                    per_second(read, t.elapsed())
                );
                println!(
                    "| fill {size} events in batches of 1,000 | {} events/s |",
                    per_second(size, filled)
                );
            }
        }
        // The first run creates the store (and, for filled stores, projects
        // every session once): report the steady state.
        start_median(&dir, 1);
        let median = start_median(&dir, if quick { 11 } else { 31 });
        println!(
            "| `logbook start`, whole process, {size} events in store | {:.1} ms median |",
            median.as_secs_f64() * 1000.0
        );
    }
}
