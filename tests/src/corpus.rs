//! The project's own corpus generator, so every benchmark can be reproduced
//! from a clone (no `../shared`, no network).
//!
//! Sessions are shaped like Claude Code transcripts: a prompt, a response
//! split over three assistant lines sharing `message.id` and `requestId`
//! (even sessions let `output_tokens` grow over the lines, odd ones repeat
//! the final usage, the two ways Claude Code writes them), a tool result,
//! and an auto compaction every 40 turns. Ids are unique per session, as in
//! real transcripts, so tools that deduplicate across files agree with ones
//! that do not. The layout is `projects/<slug>/<session>.jsonl`, what
//! `~/.claude` holds, so ccusage reads it with `CLAUDE_CONFIG_DIR`.
//! Checked against the reference generator (`gen-transcripts.py`): both
//! produce the same record shapes, and logbook's totals on the reference's
//! committed corpus equal its ground truth (`tests/it/tokens.rs`).

use std::io::Write;
use std::path::Path;

/// Token totals the generator wrote, counted once per response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
    pub responses: u64,
}

/// Appends turn `turn` of session `session` (id `id`) to `out`.
pub fn turn(out: &mut impl Write, session: u64, id: &str, turn: u64, truth: &mut Truth) {
    let pad = "lorem ipsum dolor sit amet ".repeat(20);
    let common = format!(
        "\"sessionId\":\"{id}\",\"cwd\":\"/home/dev/proj\",\"timestamp\":\"2026-11-01T10:{:02}:{:02}Z\"",
        (turn / 60) % 60,
        turn % 60
    );
    writeln!(out, "{{\"type\":\"user\",{common},\"uuid\":\"u{session}-{turn}\",\"message\":{{\"role\":\"user\",\"content\":\"please fix test {turn}: {pad}\"}}}}").unwrap();
    let (input, cache_creation, cache_read, output) = (10 + turn % 7, 100, 1000 * (turn % 40), 150);
    for block in 0..3u64 {
        let shown = if session.is_multiple_of(2) {
            50 * (block + 1)
        } else {
            output
        };
        writeln!(out, "{{\"type\":\"assistant\",{common},\"uuid\":\"a{session}-{turn}-{block}\",\"requestId\":\"req_{session}_{turn}\",\"message\":{{\"id\":\"msg_{session}_{turn}\",\"model\":\"claude-sonnet-4-5-20250929\",\"role\":\"assistant\",\"content\":[{{\"type\":\"tool_use\",\"id\":\"tu_{session}_{turn}_{block}\",\"name\":\"Read\",\"input\":{{\"file_path\":\"/home/dev/proj/src/m{block}.rs\"}}}}],\"usage\":{{\"input_tokens\":{input},\"output_tokens\":{shown},\"cache_creation_input_tokens\":{cache_creation},\"cache_read_input_tokens\":{cache_read}}}}}}}").unwrap();
    }
    truth.input += input;
    truth.output += output;
    truth.cache_creation += cache_creation;
    truth.cache_read += cache_read;
    truth.responses += 1;
    writeln!(out, "{{\"type\":\"user\",{common},\"uuid\":\"r{session}-{turn}\",\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"tool_result\",\"tool_use_id\":\"tu_{session}_{turn}_0\",\"content\":\"{pad}{pad}\"}}]}}}}").unwrap();
    if turn % 40 == 39 {
        writeln!(out, "{{\"type\":\"system\",\"subtype\":\"compact_boundary\",{common},\"compactMetadata\":{{\"trigger\":\"auto\",\"preTokens\":{}}}}}", 150_000 + turn).unwrap();
    }
}

/// The session id of session number `n`.
pub fn session_id(n: u64) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

/// The file of session `n` under `dir`.
pub fn session_path(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("projects/-home-dev-proj{}", n % 7))
        .join(format!("{}.jsonl", session_id(n)))
}

/// Writes sessions of 400 turns under `dir` until `target` bytes; returns
/// the bytes written.
pub fn generate(dir: &Path, target: u64) -> u64 {
    generate_with_truth(dir, target).0
}

/// [`generate`], also returning the token totals and the session count.
pub fn generate_with_truth(dir: &Path, target: u64) -> (u64, Truth, u64) {
    let mut total = 0u64;
    let mut truth = Truth::default();
    let mut session = 0u64;
    while total < target {
        let path = session_path(dir, session);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let id = session_id(session);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for t in 0..400u64 {
            turn(&mut out, session, &id, t, &mut truth);
        }
        out.flush().unwrap();
        total += std::fs::metadata(&path).unwrap().len();
        session += 1;
    }
    (total, truth, session)
}

/// Corpus sizes in MB from `--mb N` arguments (100 when none is given).
pub fn sizes_from_args() -> Vec<u64> {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<u64> = args
        .windows(2)
        .filter(|w| w[0] == "--mb")
        .map(|w| w[1].parse().expect("--mb takes a number"))
        .collect();
    if sizes.is_empty() { vec![100] } else { sizes }
}
