//! logbook-cli: the `logbook` binary.
//!
//! It owns the command line (clap), store discovery, `config.toml`, the
//! on-disk implementation of projected files, and the workspace facade that
//! wires the sled log to the projections. Libraries return typed errors;
//! this binary turns them into one-line messages and exit codes: 0 success,
//! 1 a failed check or operation, 2 bad usage.

mod capture;
mod cli;
mod commands;
mod config;
mod demo;
mod files;
mod hook;
mod import;
mod notes;
mod progress;
mod settings;
mod statusline;
mod tokens;
mod verify;
mod workspace;

use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are "errors" that go to stdout with 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("logbook: {}", one_line_usage_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    // Transcripts hold secrets: everything created from here on is private.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("logbook: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// clap renders usage errors over several lines with a usage block; scripts
/// and people reading logs want the message on one line.
fn one_line_usage_error(rendered: &str) -> String {
    let message = rendered
        .split("\n\nUsage:")
        .next()
        .unwrap_or(rendered)
        .replace("For more information, try '--help'.", "");
    let mut line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    line.push_str(" (see --help)");
    line
}

fn init_tracing(verbose: u8) {
    let filter = EnvFilter::try_from_env("LOGBOOK_LOG").unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// One line on stderr, the whole cause chain; quiet on a closed pipe.
fn report(err: &anyhow::Error) -> ExitCode {
    let broken_pipe = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        // Wrapping errors often repeat their source's text.
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    eprintln!("logbook: error: {}", line.replace('\n', " "));
    let usage = err
        .chain()
        .any(|cause| cause.downcast_ref::<workspace::UsageError>().is_some());
    ExitCode::from(if usage { 2 } else { 1 })
}
