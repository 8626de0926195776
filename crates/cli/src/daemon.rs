//! `logbook daemon run|start|status|stop`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use logbook_daemon::client::{self, ClientError, Start};
use logbook_daemon::protocol::{Control, ServerFrame};

use crate::cli::DaemonAction;

const WAIT: Duration = Duration::from_secs(3);

/// Stops the store's daemon, if one runs, and waits until it has let go
/// of the store (a daemon that does not answer is terminated).
pub fn stop(root: &Path) {
    let Some(pid) = client::daemon_pid(root) else {
        return;
    };
    let _ =
        client::connect(root, Start::Never, WAIT).and_then(|c| c.control(Control::Shutdown, WAIT));
    let until = std::time::Instant::now() + WAIT;
    while client::is_running(pid) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    client::terminate(pid, Duration::from_millis(200));
}

/// Runs a `daemon` subcommand.
pub fn daemon(action: DaemonAction, root: &Path) -> ExitCode {
    match action {
        DaemonAction::Run => match logbook_daemon::server::run(root) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("logbook: error: {e}");
                ExitCode::from(1)
            }
        },
        DaemonAction::Start => {
            let answering = client::connect(root, Start::IfNeeded, WAIT)
                .and_then(|c| c.control(Control::Ping, WAIT));
            if answering.is_ok() {
                return ExitCode::SUCCESS;
            }
            if let Some(pid) = client::daemon_pid(root) {
                client::terminate(pid, Duration::from_millis(200));
            }
            match client::connect(root, Start::IfNeeded, WAIT) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("logbook: error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        DaemonAction::Status(json) => status(root, json.json),
        DaemonAction::Stop { session } => {
            let control = match &session {
                Some(s) => Control::StopSession(s.clone()),
                None => Control::Shutdown,
            };
            let pid = client::daemon_pid(root);
            match client::connect(root, Start::Never, WAIT).and_then(|c| c.control(control, WAIT)) {
                Ok(ServerFrame::Ok(text)) => {
                    if session.is_none()
                        && let Some(pid) = pid
                    {
                        // Stopped means the store is free for another
                        // process: wait (bounded) until the daemon has exited.
                        let until = std::time::Instant::now() + WAIT;
                        while client::is_running(pid) && std::time::Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                    eprintln!("logbook: {text}");
                    ExitCode::SUCCESS
                }
                Ok(ServerFrame::Failed { message, code }) => {
                    eprintln!("logbook: error: {message}");
                    ExitCode::from(code)
                }
                Ok(_) => ExitCode::SUCCESS,
                Err(ClientError::Unresponsive { waited, .. }) if waited.is_zero() => {
                    if session.is_some() {
                        eprintln!("logbook: error: no daemon runs for {}", root.display());
                        return ExitCode::from(1);
                    }
                    eprintln!("logbook: no daemon runs for {}", root.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("logbook: error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn status(root: &Path, json: bool) -> ExitCode {
    let answer =
        client::connect(root, Start::Never, WAIT).and_then(|c| c.control(Control::Status, WAIT));
    match answer {
        Ok(ServerFrame::Status(status)) => {
            if json {
                match serde_json::to_string_pretty(&status) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("logbook: error: {e}");
                        return ExitCode::from(1);
                    }
                }
            } else {
                println!(
                    "daemon {} for {}: up {} s, {} requests, {} spooled hooks applied",
                    status.pid,
                    status.store,
                    status.uptime_secs,
                    status.requests,
                    status.spooled_applied
                );
                for w in &status.watchers {
                    println!(
                        "{}  {}  {}  {} lines  last write {}  pid {}  {}",
                        w.session,
                        w.agent_session,
                        w.state,
                        w.lines_captured,
                        w.last_write.as_deref().unwrap_or("-"),
                        w.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                        w.files.join(", ")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::from(1),
        Err(ClientError::Unresponsive { waited, .. }) if waited.is_zero() => {
            if json {
                println!("null");
            }
            eprintln!("logbook: no daemon runs for {}", root.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let pid = client::daemon_pid(root).map_or_else(String::new, |p| format!(" (pid {p})"));
            eprintln!("logbook: error: the daemon{pid} is not answering: {e}");
            ExitCode::from(1)
        }
    }
}
