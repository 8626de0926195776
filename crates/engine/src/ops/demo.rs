//! `logbook demo`: the main job on a throwaway store, narrated like a shell
//! session, so a newcomer sees what logbook records without any setup.

use std::io::Write;

use logbook_capture::run::CaptureConfig;
use logbook_capture::source::{FileSource, Source};
use logbook_core::lifecycle::LifecycleCommand;
use logbook_core::sessions::MAIN_SOURCE;
use logbook_core::{EndReason, SessionId, SourceKind, SourceRef};

use crate::request::{
    HandoffArgs, JsonArg, LsArgs, NoteArgs, ReasonArg, RedactArg, StartArgs, TokensArgs, TokensBy,
    TransitionArgs,
};

/// The demo's transcript: real Claude Code output, bundled in the binary.
const TRANSCRIPT: &[u8] =
    include_bytes!("../../../../tests/fixtures/claude-code/spotter-real/tool_heavy.jsonl");
/// Another agent's sessions, bundled too: a Codex CLI 0.77 rollout
/// (codemie-code, Apache-2.0) and a Gemini CLI chat (entire-cli, MIT); see
/// tests/fixtures/{codex,gemini}/SOURCES.md.
const CODEX_ROLLOUT: &[u8] = include_bytes!(
    "../../../../tests/fixtures/codex/codemie-code/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"
);
const GEMINI_CHAT: &[u8] =
    include_bytes!("../../../../tests/fixtures/gemini/entire-cli/ab-2b9748b105-0.full.jsonl");
use crate::console::Console;
use crate::ops::plural;
use crate::workspace::Workspace;

fn no_json() -> JsonArg {
    JsonArg { json: false }
}

fn say(out: &mut dyn Write, command: &str) -> std::io::Result<()> {
    writeln!(out, "\n$ logbook {command}")
}

/// Runs the demo in a temporary store, kept when `keep` is set.
pub async fn demo(
    keep: bool,
    env: &crate::console::ClientEnv,
    out: &mut (dyn Write + Send),
) -> crate::Result<u8> {
    let scratch = tempfile::Builder::new().prefix("logbook-demo-").tempdir()?;
    let root = scratch.path().join("store");
    let ws = Workspace::open(&root).await?;
    writeln!(out, "A throwaway store at {}", ws.root().display())?;

    say(out, "start --command build")?;
    let mut buf = Vec::new();
    crate::ops::start::start(
        &ws,
        StartArgs {
            command: Some("build".into()),
            json: no_json(),
        },
        &mut buf,
    )
    .await?;
    out.write_all(&buf)?;
    let first: SessionId = String::from_utf8_lossy(&buf).trim().parse()?;

    say(out, &format!("transition {first} --reason clear"))?;
    let mut buf = Vec::new();
    crate::ops::transition::transition(
        &ws,
        TransitionArgs {
            session: Some(first.to_string()),
            reason: ReasonArg::Clear,
            json: no_json(),
        },
        &mut buf,
    )
    .await?;
    out.write_all(&buf)?;
    let second: SessionId = String::from_utf8_lossy(&buf).trim().parse()?;

    // A real Claude Code transcript (spotter-real/tool_heavy.jsonl, MIT,
    // see tests/fixtures/claude-code/SOURCES.md), captured into the session.
    let transcript = scratch.path().join("tool_heavy.jsonl");
    std::fs::write(&transcript, TRANSCRIPT)?;
    say(
        out,
        &format!("capture {second} --file {}", transcript.display()),
    )?;
    let source = SourceRef {
        kind: SourceKind::ClaudeCode,
        key: MAIN_SOURCE.into(),
        location: transcript.display().to_string(),
    };
    let report = FileSource::new(source, transcript.clone())
        .capture(ws.log(), second, CaptureConfig::default(), &mut |_| {})
        .await?;
    ws.project().await?;
    writeln!(
        out,
        "captured {} line{}, {} byte{}",
        report.lines,
        plural(report.lines),
        report.bytes,
        plural(report.bytes),
    )?;

    say(
        out,
        &format!("note --session {second} --decision \"keep the demo small\""),
    )?;
    crate::ops::note::note(
        &ws,
        NoteArgs {
            decision: Some("keep the demo small".into()),
            correction: None,
            plan: None,
            memory: None,
            session: Some(second.to_string()),
        },
        None,
        out,
    )
    .await?;

    say(out, &format!("tokens {second}"))?;
    crate::ops::tokens::tokens(
        &ws,
        TokensArgs {
            session: Some(second.to_string()),
            by: TokensBy::Session,
            since: None,
            json: no_json(),
        },
        out,
        false,
    )
    .await?;

    // What a Claude Code SessionEnd hook does: end, and leave a handoff.
    say(
        out,
        &format!("end {second}   # as the SessionEnd hook does: with a handoff"),
    )?;
    ws.run(
        second,
        LifecycleCommand::EndWithHandoff {
            status: logbook_core::EndStatus::Completed,
            reason: EndReason::Exit,
            next: SessionId::new_v7(),
        },
    )
    .await?;
    say(
        out,
        &format!("handoff {second}   # what the next session is told"),
    )?;
    crate::ops::handoff::handoff(
        &ws,
        HandoffArgs {
            session: Some(second.to_string()),
            json: no_json(),
        },
        out,
    )
    .await?;

    say(
        out,
        &format!("timeline {second}   # what the agent did, in order"),
    )?;
    crate::ops::forensics::timeline(
        &ws,
        crate::request::TimelineArgs {
            session: second.to_string(),
            chain: true,
            at: None,
            redact: Default::default(),
            json: no_json(),
        },
        out,
    )
    .await?;
    say(out, "search \"hooks\"   # across every session, best first")?;
    let (mut console, found, _) = Console::captured(env.clone());
    crate::ops::forensics::search(
        &ws,
        crate::request::SearchArgs {
            query: "hooks".into(),
            session: None,
            project: None,
            since: None,
            tool: None,
            file: None,
            limit: 3,
            redact: Default::default(),
            json: no_json(),
        },
        &mut console,
    )
    .await?;
    out.write_all(&found.take())?;

    // Codex CLI and Gemini CLI, read from the files they write.
    let codex = scratch
        .path()
        .join("codex/sessions/2026/01/02/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl");
    let gemini = scratch
        .path()
        .join("gemini/.gemini/tmp/project/chats/session-2026-01-05T20-51-f7633853.json");
    for (path, bytes) in [(&codex, CODEX_ROLLOUT), (&gemini, GEMINI_CHAT)] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)?;
    }
    say(
        out,
        &format!(
            "import {} {}   # with no path: every agent's own folders",
            codex.display(),
            gemini.display()
        ),
    )?;
    let summary = crate::ops::import::import_files(
        &ws,
        vec![codex, gemini],
        crate::ops::import::ImportOptions::default(),
        None,
    )
    .await?;
    writeln!(
        out,
        "imported {} file{} into {} new session{}: {} line{}",
        summary.files,
        plural(summary.files),
        summary.new_sessions,
        plural(summary.new_sessions),
        summary.lines,
        plural(summary.lines),
    )?;
    say(out, "tokens --by agent")?;
    crate::ops::tokens::tokens(
        &ws,
        TokensArgs {
            session: None,
            by: TokensBy::Agent,
            since: None,
            json: no_json(),
        },
        out,
        true,
    )
    .await?;

    say(
        out,
        &format!("review {second}   # what the session achieved"),
    )?;
    crate::ops::review::review(
        &ws,
        crate::request::ReviewArgs {
            session: Some(second.to_string()),
            json: no_json(),
        },
        out,
    )
    .await?;
    say(out, "stats --by agent")?;
    crate::ops::review::stats(
        &ws,
        crate::request::StatsArgs {
            by: crate::request::StatsBy::Agent,
            since: None,
            json: no_json(),
        },
        out,
    )
    .await?;

    say(out, "ls")?;
    crate::ops::ls::ls(
        &ws,
        LsArgs {
            status: None,
            redact: RedactArg::default(),
            json: no_json(),
        },
        out,
        false,
    )
    .await?;
    say(out, "log")?;
    crate::ops::log::log(
        &ws,
        crate::request::LogArgs {
            session: None,
            since: None,
            json: no_json(),
        },
        out,
    )
    .await?;
    say(out, "verify")?;
    let (mut console, verified, _) = Console::captured(env.clone());
    let code = crate::ops::verify::verify(
        &ws,
        crate::request::VerifyArgs {
            anchor: None,
            json: crate::request::JsonArg { json: false },
        },
        &mut console,
    )
    .await?;
    out.write_all(&verified.take())?;
    say(out, &format!("show {second} --json"))?;
    out.write_all(&ws.quick_view(second).await?.to_json()?)?;
    drop(ws);
    if keep {
        let kept = scratch.keep();
        writeln!(
            out,
            "\nThe store is kept: LOGBOOK_DIR={} logbook ls",
            kept.join("store").display()
        )?;
    } else {
        writeln!(
            out,
            "\nThe store was removed (keep it with `logbook demo --keep`)."
        )?;
    }
    Ok(code)
}
