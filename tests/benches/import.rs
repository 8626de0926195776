//! Store benchmark: `logbook import` throughput and peak memory on a
//! generated Claude Code corpus, the store's size on disk, the time to
//! re-import it unchanged, to open the store, and `verify` and `replay`
//! (speed and peak memory), with ccusage reading the same corpus beside it.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests
//! --bench import -- [--mb 100] [--mb 1000] [--mb 5000] [--corpora DIR]`.
//! The corpus comes from the project's own generator (no network, no
//! `../shared`), so every figure can be reproduced from a clone; `--corpora`
//! keeps each one under DIR for the next run. ccusage is measured when
//! `npm install --prefix target/ccusage ccusage@20.0.24` has been run
//! (or `CCUSAGE=path`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Bytes on disk under `path`, each file once however many names it has
/// (a one-part session's combined transcript is its part, hard-linked).
fn dir_size(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_size(&entry.path(), seen)
        } else if seen.insert((meta.dev(), meta.ino())) {
            meta.len()
        } else {
            0
        };
    }
    total
}

fn logbook(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(logbook_tests::logbook_bin());
    // In this process, so its peak RSS is the command's (through the
    // daemon it would be the daemon's).
    cmd.env("LOGBOOK_DAEMON", "off")
        .arg("--dir")
        .arg(store)
        .args(args);
    cmd
}

/// The median time of opening the store (lock, sled, index check), warm.
fn open_time(store: &Path) -> Duration {
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let started = Instant::now();
            let log = logbook_store::SledLog::open(store, &Default::default()).unwrap();
            let took = started.elapsed();
            drop(log);
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn corpora_dir() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--corpora")
        .map(|w| PathBuf::from(&w[1]))
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn main() {
    let sizes = logbook_tests::corpus::sizes_from_args();
    let kept = corpora_dir();
    let mut first = Vec::new();
    let mut second = Vec::new();
    for size in sizes {
        let scratch = tempfile::tempdir().unwrap();
        let corpus = match &kept {
            Some(dir) => dir.join(format!("{size}MB")),
            None => scratch.path().join("corpus"),
        };
        if !corpus.join("projects").is_dir() {
            logbook_tests::corpus::generate(&corpus, size * 1_000_000);
        }
        let bytes = dir_size(&corpus, &mut Default::default());
        let store = scratch.path().join("store");
        let corpus_arg = corpus.to_str().unwrap();

        let (took, peak) =
            logbook_tests::run_measured(&mut logbook(&store, &["import", corpus_arg]));
        let log = dir_size(&store.join("log"), &mut Default::default());
        let mut seen = Default::default();
        let total = dir_size(&store, &mut seen);
        let (reimport, _) =
            logbook_tests::run_measured(&mut logbook(&store, &["import", corpus_arg]));
        first.push(format!(
            "| {} | {:.1} s | {:.0} | {} | {} ({:.2}) | {} ({:.2}) | {:.2} | {:.2} s |",
            mb(bytes),
            took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64(),
            mb(peak),
            mb(log),
            log as f64 / bytes as f64,
            mb(total - log),
            (total - log) as f64 / bytes as f64,
            total as f64 / bytes as f64,
            reimport.as_secs_f64()
        ));

        let open = open_time(&store);
        let (verify, verify_peak) = logbook_tests::run_measured(&mut logbook(&store, &["verify"]));
        let (replay, replay_peak) = logbook_tests::run_measured(&mut logbook(&store, &["replay"]));
        let ccusage = if logbook_tests::ccusage_bin().exists() {
            let (took, peak) = logbook_tests::run_measured(
                Command::new(logbook_tests::ccusage_bin())
                    .args(["claude", "session", "--offline", "--json"])
                    .env("CLAUDE_CONFIG_DIR", &corpus),
            );
            format!("{:.1} s, {}", took.as_secs_f64(), mb(peak))
        } else {
            "not installed".into()
        };
        second.push(format!(
            "| {} | {:.1} ms | {:.1} s ({:.0} MB/s) | {} | {:.1} s | {} | {ccusage} |",
            mb(bytes),
            open.as_secs_f64() * 1e3,
            verify.as_secs_f64(),
            bytes as f64 / 1e6 / verify.as_secs_f64(),
            mb(verify_peak),
            replay.as_secs_f64(),
            mb(replay_peak),
        ));
    }
    println!(
        "| corpus | import | MB/s | peak RSS | log (per byte) | projected files (per byte) | total per byte | re-import unchanged |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in first {
        println!("{row}");
    }
    println!();
    println!(
        "| corpus | open (median of 21) | verify | verify peak RSS | replay | replay peak RSS | ccusage 20.0.24 (time, peak RSS) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in second {
        println!("{row}");
    }
}
