//! `logbook verify`: the hash chain, then every projected file against a
//! fresh rebuild from the log.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::console::Console;
use crate::workspace::Workspace;

#[derive(Debug, Serialize)]
struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    message: String,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    events: u64,
    sessions: u64,
    head_seq: u64,
    head_hash: String,
    files_checked: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<AnchorReport>,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct AnchorReport {
    file: String,
    seq: u64,
    hash: String,
    signed: bool,
    holds: bool,
    message: String,
}

/// Checks the anchor in `file` against the log.
async fn check_anchor(
    ws: &Workspace,
    file: &std::path::Path,
    console: &Console,
) -> crate::Result<AnchorReport> {
    use logbook_forensics::anchor::{Finding, Pinned, check};
    let path = super::forensics::client_path(&console.env, file);
    let bytes = std::fs::read(&path).map_err(|e| {
        crate::error::EngineError::usage(format!("cannot read the anchor {}: {e}", path.display()))
    })?;
    let pinned = Pinned::parse(&bytes)
        .map_err(|e| crate::error::EngineError::usage(format!("{}: {e}", path.display())))?;
    let pin = pinned.pin();
    let head = logbook_core::EventLog::head(ws.log()).await?.seq;
    let hash_at = logbook_core::log::hash_at(ws.log(), pin.seq).await?;
    let signed = matches!(pinned, Pinned::Signed(_));
    // An unsigned pin (a handoff, a session file) is guarded by wherever
    // it was kept; only a signed anchor needs the key.
    let key = if signed {
        Some(super::forensics::key(ws, &console.env)?)
    } else {
        None
    };
    let finding = check(&pinned, key.as_ref(), head, hash_at);
    let mut message = finding.to_string();
    // A store restored or moved elsewhere is still the same history, so
    // the path alone decides nothing; but when the history disagrees, the
    // likeliest cause is the wrong store, and that is worth saying.
    if let Pinned::Signed(anchor) = &pinned
        && finding != Finding::Holds
        && anchor.store != ws.root().display().to_string()
    {
        message.push_str(&format!(
            " (the anchor was made for the store at {}; this one is {})",
            anchor.store,
            ws.root().display()
        ));
    }
    Ok(AnchorReport {
        file: path.display().to_string(),
        seq: pin.seq,
        hash: pin.hash.to_hex(),
        signed,
        holds: finding == Finding::Holds,
        message,
    })
}

/// Compares every projected file with a rebuild from the log: how many
/// files were compared, and each that differs with what is wrong.
pub(crate) async fn projection_problems(
    ws: &Workspace,
) -> crate::Result<(usize, Vec<(String, &'static str)>)> {
    let scratch = tempfile::Builder::new()
        .prefix(".verify-")
        .tempdir_in(ws.scratch_dir())?;
    ws.rebuild_into(scratch.path(), None).await?;
    let rebuilt: BTreeSet<String> = ws
        .rebuilt_owned_files(scratch.path())?
        .into_iter()
        .collect();
    let live: BTreeSet<String> = ws.live_owned_files()?.into_iter().collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in rebuilt.union(&live) {
        checked += 1;
        let message = match (rebuilt.contains(path), live.contains(path)) {
            (true, false) => Some("missing (the log says it should exist)"),
            (false, true) => Some("not produced by the log"),
            _ => {
                let same = same_bytes(&scratch.path().join(path), &ws.root().join(path))?;
                (!same).then_some("differs from a rebuild from the log")
            }
        };
        if let Some(message) = message {
            problems.push((path.clone(), message));
        }
    }
    Ok((checked, problems))
}

/// Whether two files hold the same bytes, read a block at a time: a
/// session's combined transcript can be larger than the memory `verify`
/// may hold.
fn same_bytes(a: &std::path::Path, b: &std::path::Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// Runs the checks; exit 1 when anything is wrong.
pub async fn verify(
    ws: &Workspace,
    args: crate::request::VerifyArgs,
    console: &mut Console,
) -> crate::Result<u8> {
    let json = args.json.json;
    let anchor = match &args.anchor {
        Some(file) => Some(check_anchor(ws, file, console).await?),
        None => None,
    };
    let out = &mut *console.out;
    let chain = ws.log().verify_chain()?;
    let mut problems = Vec::new();
    let mut files_checked = 0;
    if let Some(problem) = &chain.problem {
        problems.push(Problem {
            seq: Some(problem.seq()),
            file: None,
            message: problem.to_string(),
        });
    } else {
        let (checked, differing) = projection_problems(ws).await?;
        files_checked = checked;
        // Files another build projected differ from this build's rebuild
        // without anything being wrong with the log: say so first.
        if let Some(other) = ws.other_projections().filter(|_| !differing.is_empty()) {
            problems.push(Problem {
                seq: None,
                file: None,
                message: format!(
                    "the projected files were built by another version of logbook (projections {other}, this build {}); the log itself is intact: `logbook replay` rebuilds them",
                    crate::workspace::PROJECTIONS_VERSION
                ),
            });
        }
        problems.extend(differing.into_iter().map(|(path, message)| Problem {
            seq: None,
            message: format!("{path}: {message}"),
            file: Some(path),
        }));
    }
    if let Some(a) = anchor.as_ref().filter(|a| !a.holds) {
        problems.push(Problem {
            seq: Some(a.seq),
            file: None,
            message: format!("anchor {}: {}", a.file, a.message),
        });
    }
    let report = Report {
        anchor,
        ok: problems.is_empty(),
        events: chain.report.events,
        sessions: chain.report.sessions,
        head_seq: chain.report.head.seq,
        head_hash: chain.report.head.hash.to_hex(),
        files_checked,
        problems,
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else if report.ok {
        writeln!(
            out,
            "ok: {} events in {} sessions, head {} {}; {} projected files match the log",
            report.events, report.sessions, report.head_seq, report.head_hash, report.files_checked
        )?;
        if let Some(a) = &report.anchor {
            writeln!(out, "ok: anchor {} (seq {}): {}", a.file, a.seq, a.message)?;
        }
    } else {
        for p in &report.problems {
            writeln!(out, "bad: {}", p.message)?;
        }
    }
    if !report.ok {
        let first = &report.problems[0];
        console.say(format_args!(
            "logbook: verify failed: {}{}",
            first.message,
            if report.problems.len() > 1 {
                format!(" (and {} more)", report.problems.len() - 1)
            } else {
                String::new()
            }
        ));
        if first.file.is_some() {
            console.say("hint: `logbook replay` rebuilds the projected files from the log");
        }
    }
    Ok(if report.ok { 0 } else { 1 })
}
