//! Byte progress on the client's stderr for long imports and captures.
//!
//! Drawn only when the client's stderr is a terminal, so scripts and pipes
//! see clean stderr; `LOGBOOK_PROGRESS=always` draws it anyway (for logs of
//! long jobs, and for the tests that check it is there). The bar draws
//! through the [`Console`], so it reaches the client whether the operation
//! runs in its process or in the daemon.

use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::console::{Console, SharedWriter};

/// Below this many bytes to read, a capture is quick enough to need no bar.
pub const BIG: u64 = 32 << 20;

/// A bar over `total` bytes, or a hidden one when `wanted` is false or
/// nobody would see it.
pub fn bytes(total: u64, wanted: bool, console: &Console) -> ProgressBar {
    let env = &console.env;
    let target = if env.progress_always || (wanted && env.stderr_terminal) {
        ProgressDrawTarget::term_like(Box::new(ConsoleTerm(console.err.clone())))
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

/// A terminal seen through the console's stderr: plain ANSI sequences,
/// which the client's terminal interprets.
#[derive(Debug)]
struct ConsoleTerm(SharedWriter);

impl ConsoleTerm {
    fn put(&self, text: &str) -> std::io::Result<()> {
        let mut w = self.0.clone();
        w.write_all(text.as_bytes())
    }
}

impl TermLike for ConsoleTerm {
    fn width(&self) -> u16 {
        80
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}A"))
        } else {
            Ok(())
        }
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}B"))
        } else {
            Ok(())
        }
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}C"))
        } else {
            Ok(())
        }
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}D"))
        } else {
            Ok(())
        }
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r\x1b[2K")
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.clone().flush()
    }
}
