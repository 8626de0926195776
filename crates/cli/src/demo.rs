//! `logbook demo`: the main job on a throwaway store, narrated like a shell
//! session, so a newcomer sees what logbook records without any setup.

use std::io::Write;
use std::process::ExitCode;

use logbook_core::SessionId;

use crate::cli::{EndArgs, JsonArg, LsArgs, ReasonArg, StartArgs, StatusArg, TransitionArgs};
use crate::commands;
use crate::workspace::Workspace;

fn no_json() -> JsonArg {
    JsonArg { json: false }
}

fn say(out: &mut dyn Write, command: &str) -> std::io::Result<()> {
    writeln!(out, "\n$ logbook {command}")
}

/// Runs the demo in a temporary store, kept when `keep` is set.
pub async fn demo(keep: bool, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::Builder::new().prefix("logbook-demo-").tempdir()?;
    let root = scratch.path().join("store");
    let ws = Workspace::open(&root).await?;
    writeln!(out, "A throwaway store at {}", ws.root().display())?;

    say(out, "start --command build")?;
    let mut buf = Vec::new();
    commands::start(
        &ws,
        StartArgs {
            command: Some("build".into()),
            json: no_json(),
        },
        &mut buf,
    )
    .await?;
    out.write_all(&buf)?;
    let first: SessionId = String::from_utf8(buf)?.trim().parse()?;

    say(out, &format!("transition {first} --reason clear"))?;
    let mut buf = Vec::new();
    commands::transition(
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
    let second: SessionId = String::from_utf8(buf)?.trim().parse()?;

    say(out, &format!("end {second} --exit-code 0"))?;
    commands::end(
        &ws,
        EndArgs {
            session: Some(second.to_string()),
            status: StatusArg::Completed,
            exit_code: Some(0),
            json: no_json(),
        },
        out,
    )
    .await?;

    say(out, "ls")?;
    commands::ls(
        &ws,
        LsArgs {
            status: None,
            json: no_json(),
        },
        out,
    )
    .await?;
    say(out, "log")?;
    commands::log(
        &ws,
        crate::cli::LogArgs {
            session: None,
            since: None,
            json: no_json(),
        },
        out,
    )
    .await?;
    say(out, "verify")?;
    let code = crate::verify::verify(&ws, false, out).await?;
    say(out, &format!("show {second} --json"))?;
    out.write_all(&ws.view(second).await?.to_json()?)?;
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
