//! Forensics benchmark: the search index on a generated Claude Code
//! corpus. Import with the index off and on (the overhead, and each one's
//! peak memory), the index on its own (throughput), its size per
//! transcript byte, search latency
//! (median and p99 over 100 queries, warm, as the daemon answers them; and
//! through the CLI), and `timeline` and `render` of the largest session.
//!
//! Run: `cargo build --release -p logbook-cli && cargo bench -p logbook-tests
//! --bench forensics -- [--mb 1000] [--corpora DIR]`. The corpus is the
//! project's own generator's, so every figure reproduces from a clone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn logbook(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(logbook_tests::logbook_bin());
    cmd.env("LOGBOOK_DAEMON", "off")
        .arg("--dir")
        .arg(store)
        .args(args)
        .stderr(std::process::Stdio::null());
    cmd
}

fn timed(cmd: &mut Command) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed");
    (started.elapsed(), out.stdout)
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        dir_bytes(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn corpora_dir() -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--corpora")
        .map(|w| PathBuf::from(&w[1]))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// 100 queries of the kinds people type: a rare number, a common word, two
/// words, a phrase, a word within one file, a word within one session.
fn queries(sessions: &[String]) -> Vec<logbook_search::Query> {
    let mut out = Vec::new();
    let words = [
        "lorem", "please", "fix", "ipsum", "amet", "dolor", "test", "sit",
    ];
    for n in 0..100u64 {
        let mut q = match n % 6 {
            0 => logbook_search::Query::new(&format!("{}", (n * 37) % 400)),
            1 => logbook_search::Query::new(words[(n as usize) % words.len()]),
            2 => logbook_search::Query::new(&format!("fix {}", (n * 13) % 400)),
            3 => logbook_search::Query::new(&format!("\"please fix test {}\"", (n * 7) % 400)),
            4 => logbook_search::Query {
                file: Some(format!("src/m{}.rs", n % 3)),
                ..logbook_search::Query::new("Read")
            },
            _ => logbook_search::Query {
                session: Some(
                    sessions[(n as usize * 31) % sessions.len()]
                        .parse()
                        .unwrap(),
                ),
                ..logbook_search::Query::new("lorem")
            },
        };
        q.limit = 20;
        out.push(q);
    }
    out
}

/// Waits until files deleted or replaced by what ran before are past the
/// kernel's writeback age: ext4 without a journal checks a new inode
/// against inodes freed within `dirty_expire_centisecs` (30 s by default),
/// which on this machine made an import that followed another one (its
/// thousands of replaced files) pay up to 5 s more.
fn settle() {
    let centisecs: u64 = std::fs::read_to_string("/proc/sys/vm/dirty_expire_centisecs")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(3000);
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_millis(centisecs * 10 + 1000));
}

fn main() {
    let kept = corpora_dir();
    let scratch = tempfile::tempdir().unwrap();
    for size in logbook_tests::corpus::sizes_from_args() {
        let corpus = match &kept {
            Some(dir) => dir.join(format!("{size}MB")),
            None => scratch.path().join(format!("corpus-{size}")),
        };
        if !corpus.join("projects").exists() {
            logbook_tests::corpus::generate(&corpus, size * 1_000_000);
        }
        let bytes = dir_bytes(&corpus);
        let corpus_arg = corpus.to_str().unwrap();
        println!("== {size} MB corpus ({bytes} bytes)");

        let off = scratch.path().join(format!("off-{size}"));
        std::fs::create_dir_all(&off).unwrap();
        std::fs::write(off.join("config.toml"), "search_index = false\n").unwrap();
        settle();
        let (t_off, peak_off) =
            logbook_tests::run_measured(&mut logbook(&off, &["import", corpus_arg]));
        let on = scratch.path().join(format!("on-{size}"));
        settle();
        let (t_on, peak_on) =
            logbook_tests::run_measured(&mut logbook(&on, &["import", corpus_arg]));
        println!(
            "import, index off: {:.1} s ({:.0} MB/s); index on: {:.1} s ({:.0} MB/s): {:+.0} %",
            t_off.as_secs_f64(),
            bytes as f64 / 1e6 / t_off.as_secs_f64(),
            t_on.as_secs_f64(),
            bytes as f64 / 1e6 / t_on.as_secs_f64(),
            (t_on.as_secs_f64() / t_off.as_secs_f64() - 1.0) * 100.0
        );
        println!(
            "import peak RSS, index off: {} MB; index on: {} MB",
            peak_off >> 20,
            peak_on >> 20
        );
        let index_dir = on.join("index");
        let index_bytes = dir_bytes(&index_dir);
        println!(
            "index: {:.1} MB, {:.3} bytes per transcript byte",
            index_bytes as f64 / 1e6,
            index_bytes as f64 / bytes as f64
        );
        // The index alone, rebuilt from the log (what `replay` leaves to
        // the next search): its throughput.
        std::fs::remove_dir_all(&index_dir).unwrap();
        let (t_index, peak_index) =
            logbook_tests::run_measured(&mut logbook(&on, &["search", "lorem", "--limit", "1"]));
        println!(
            "indexing from the log: {:.1} s, {:.0} MB of transcript per second, peak RSS {} MB",
            t_index.as_secs_f64(),
            bytes as f64 / 1e6 / t_index.as_secs_f64(),
            peak_index >> 20
        );

        // Warm, in one process, as the daemon answers.
        let ls: serde_json::Value =
            serde_json::from_slice(&timed(&mut logbook(&on, &["ls", "--json"])).1).unwrap();
        let sessions: Vec<String> = ls
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["session_id"].as_str().unwrap().to_owned())
            .collect();
        let index = logbook_search::SearchIndex::open(&index_dir).unwrap();
        let qs = queries(&sessions);
        for q in &qs {
            index.search(q).unwrap();
        }
        let mut times: Vec<Duration> = qs
            .iter()
            .map(|q| {
                let started = Instant::now();
                let hits = index.search(q).unwrap();
                let took = started.elapsed();
                assert!(!hits.is_empty(), "{q:?} found nothing");
                took
            })
            .collect();
        times.sort();
        println!(
            "search, 100 queries, warm: median {}, p99 {}, max {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap())
        );
        drop(index);

        // Through the CLI and the daemon: what a person waits for.
        let mut cli: Vec<Duration> = (0..20)
            .map(|n| {
                let mut cmd = logbook(&on, &["search", &format!("fix {n}"), "--json"]);
                cmd.env("LOGBOOK_DAEMON", "on");
                timed(&mut cmd).0
            })
            .collect();
        cli.sort();
        println!(
            "logbook search through the daemon, 20 runs: median {}, p99 {}",
            ms(percentile(&cli, 0.5)),
            ms(percentile(&cli, 0.99))
        );
        let _ = logbook(&on, &["daemon", "stop"]).output();

        let largest = ls
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|s| s["capture"]["bytes"].as_u64().unwrap_or(0))
            .unwrap();
        let id = largest["session_id"].as_str().unwrap();
        let session_bytes = largest["capture"]["bytes"].as_u64().unwrap_or(0);
        let (t_projected, _) = timed(&mut logbook(&on, &["timeline", id, "--json"]));
        let (t_folded, _) = timed(&mut logbook(
            &on,
            &["timeline", id, "--no-redact", "--json"],
        ));
        let (t_md, md) = timed(&mut logbook(&on, &["render", id, "--format", "md"]));
        let (t_html, html) = timed(&mut logbook(&on, &["render", id, "--format", "html"]));
        println!(
            "largest session ({:.1} MB): timeline {} (projected), {} (folded from the log); render md {} ({:.1} MB), html {} ({:.1} MB)",
            session_bytes as f64 / 1e6,
            ms(t_projected),
            ms(t_folded),
            ms(t_md),
            md.len() as f64 / 1e6,
            ms(t_html),
            html.len() as f64 / 1e6
        );
    }
}
