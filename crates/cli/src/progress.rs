//! Byte progress on stderr for long imports and captures.
//!
//! Drawn only on a terminal, so scripts and pipes see clean stderr; the
//! environment variable `LOGBOOK_PROGRESS=always` draws it anyway (for logs
//! of long jobs, and for the tests that check it is there).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many bytes to read, a capture is quick enough to need no bar.
pub const BIG: u64 = 32 << 20;

/// A bar over `total` bytes, or a hidden one when `wanted` is false or
/// nobody would see it.
pub fn bytes(total: u64, wanted: bool) -> ProgressBar {
    let forced = std::env::var_os("LOGBOOK_PROGRESS").is_some_and(|v| v == "always");
    let target = if forced {
        ProgressDrawTarget::term_like(Box::new(console::Term::stderr()))
    } else if wanted && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec}{msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
