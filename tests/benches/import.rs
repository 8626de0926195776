//! Import benchmark: throughput, peak memory and disk use of `logbook import`
//! on a generated Claude Code corpus, and the time to re-import it unchanged.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests
//! --bench import -- [--mb 100] [--mb 1000]`. The corpus comes from this
//! file's own generator (no network, no `../shared`), so every figure can be
//! reproduced from a clone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command, polling its peak resident memory (VmHWM) from /proc.
fn run_measured(cmd: &mut Command) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    let kb: u64 = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                    peak_kb = peak_kb.max(kb);
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            return (started.elapsed(), peak_kb * 1024);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Bytes on disk under `path`, each file once however many names it has
/// (a one-part session's combined transcript is its part, hard-linked).
fn dir_size(path: &Path) -> u64 {
    fn walk(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        let mut total = 0;
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            total += if meta.is_dir() {
                walk(&entry.path(), seen)
            } else if seen.insert((meta.dev(), meta.ino())) {
                meta.len()
            } else {
                0
            };
        }
        total
    }
    walk(path, &mut std::collections::HashSet::new())
}

fn main() {
    let sizes = logbook_tests::corpus::sizes_from_args();
    println!(
        "| corpus | import | MB/s | peak RSS | log bytes per transcript byte | log + projected files per byte | re-import unchanged |"
    );
    println!("|---|---|---|---|---|---|---|");
    for mb in sizes {
        let scratch = tempfile::tempdir().unwrap();
        let corpus = scratch.path().join("corpus");
        let bytes = logbook_tests::corpus::generate(&corpus, mb * 1_000_000);
        let store = scratch.path().join("store");
        // In this process, so its peak RSS is the import's (through the
        // daemon it would be the daemon's).
        let mut import = Command::new(logbook_tests::logbook_bin());
        import
            .env("LOGBOOK_DAEMON", "off")
            .arg("--dir")
            .arg(&store)
            .arg("import")
            .arg(&corpus);
        let (took, peak) = run_measured(&mut import);
        let log = dir_size(&store.join("log"));
        let projected = dir_size(&store.join("sessions"));
        let mut again = Command::new(logbook_tests::logbook_bin());
        again
            .env("LOGBOOK_DAEMON", "off")
            .arg("--dir")
            .arg(&store)
            .arg("import")
            .arg(&corpus);
        let (reimport, _) = run_measured(&mut again);
        println!(
            "| {:.0} MB | {:.1} s | {:.0} | {:.0} MB | {:.2} | {:.2} | {:.2} s |",
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64(),
            peak as f64 / 1e6,
            log as f64 / bytes as f64,
            (log + projected) as f64 / bytes as f64,
            reimport.as_secs_f64()
        );
    }
}
