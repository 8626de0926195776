//! Long unterminated tails, remembered: a file whose bytes after the
//! cursor hold no newline (a line still being written, or one that never
//! ends) is read once; later captures read only what it gained since.
//!
//! Without this every hook read the whole tail again: a 300 MB line cost
//! each `Stop` 3.8 s. The memory is per process (the daemon serves every
//! hook and watcher of a store, so there it is per store), keyed by file
//! identity and cursor, and forgetting it only costs one more read.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::sync::Mutex;

/// Tails shorter than this are read again, as any partial line is: not
/// worth remembering.
pub const REMEMBER_FROM: u64 = 1 << 20;

/// Files remembered at once; past it the memory starts afresh.
const CAPACITY: usize = 1024;

/// A file, as the file system knows it (a replaced file is another one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// What is known of one file: from `cursor` up to `scanned_to` there is no
/// newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Unterminated {
    cursor: u64,
    scanned_to: u64,
}

/// What a capture may skip.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// Nothing remembered: read from the cursor as usual.
    Unknown,
    /// The file gained no newline since the cursor: nothing to capture.
    NoNewLine,
}

/// The per-process memory of unterminated tails.
#[derive(Debug, Default)]
pub struct Tails {
    known: Mutex<HashMap<FileId, Unterminated>>,
}

impl Tails {
    /// Whether `file` (length `len`, cursor at `cursor`) can have gained a
    /// complete line: when its tail is remembered, only the bytes it gained
    /// since are read (from `reader`) to find out.
    pub fn check(
        &self,
        file: FileId,
        cursor: u64,
        len: u64,
        reader: &mut (impl Read + Seek),
    ) -> std::io::Result<Known> {
        let Some(known) = self.get(file).filter(|k| k.cursor == cursor) else {
            return Ok(Known::Unknown);
        };
        if len < known.scanned_to {
            // Shorter than what was read: not the file that was read.
            self.forget(file);
            return Ok(Known::Unknown);
        }
        if len == known.scanned_to {
            return Ok(Known::NoNewLine);
        }
        reader.seek(SeekFrom::Start(known.scanned_to))?;
        let mut gained = reader.take(len - known.scanned_to);
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = gained.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            if memchr::memchr(b'\n', &chunk[..n]).is_some() {
                return Ok(Known::Unknown);
            }
        }
        self.remember(file, cursor, len);
        Ok(Known::NoNewLine)
    }

    /// After a capture that left the cursor at `cursor` with the file read
    /// to `len`: remembers the tail when it is long.
    pub fn after_capture(&self, file: FileId, cursor: u64, len: u64) {
        if len.saturating_sub(cursor) >= REMEMBER_FROM {
            self.remember(file, cursor, len);
        } else {
            self.forget(file);
        }
    }

    fn get(&self, file: FileId) -> Option<Unterminated> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&file)
            .copied()
    }

    fn remember(&self, file: FileId, cursor: u64, scanned_to: u64) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= CAPACITY && !known.contains_key(&file) {
            known.clear();
        }
        known.insert(file, Unterminated { cursor, scanned_to });
    }

    fn forget(&self, file: FileId) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&file);
    }
}

/// The process's memory of tails.
pub fn tails() -> &'static Tails {
    static TAILS: std::sync::OnceLock<Tails> = std::sync::OnceLock::new();
    TAILS.get_or_init(Tails::default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that counts the bytes read from it.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counting<R> {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    const FILE: FileId = FileId { dev: 1, ino: 7 };

    #[test]
    fn a_long_tail_is_read_once_then_only_what_it_gains() {
        let tails = Tails::default();
        let mut bytes = b"{\"a\":1}\n".to_vec();
        let cursor = bytes.len() as u64;
        bytes.extend(std::iter::repeat_n(b'x', 3 << 20));
        let mut file = Counting {
            inner: Cursor::new(bytes.clone()),
            read: 0,
        };
        let len = bytes.len() as u64;
        // Nothing known yet: the caller reads the tail and says so.
        assert_eq!(
            tails.check(FILE, cursor, len, &mut file).unwrap(),
            Known::Unknown
        );
        tails.after_capture(FILE, cursor, len);
        // Unchanged: nothing is read at all.
        assert_eq!(
            tails.check(FILE, cursor, len, &mut file).unwrap(),
            Known::NoNewLine
        );
        assert_eq!(file.read, 0);
        // It grew without a newline: only the growth is read.
        bytes.extend_from_slice(b"yyyy");
        let mut file = Counting {
            inner: Cursor::new(bytes.clone()),
            read: 0,
        };
        assert_eq!(
            tails.check(FILE, cursor, len + 4, &mut file).unwrap(),
            Known::NoNewLine
        );
        assert_eq!(file.read, 4);
        // The line ends: a capture is due.
        bytes.extend_from_slice(b"\n");
        let mut file = Counting {
            inner: Cursor::new(bytes),
            read: 0,
        };
        assert_eq!(
            tails.check(FILE, cursor, len + 5, &mut file).unwrap(),
            Known::Unknown
        );
    }

    #[test]
    fn a_short_tail_another_cursor_or_a_shorter_file_is_not_trusted() {
        let tails = Tails::default();
        let mut file = Cursor::new(vec![b'x'; 10]);
        tails.after_capture(FILE, 0, 10);
        assert_eq!(
            tails.check(FILE, 0, 10, &mut file).unwrap(),
            Known::Unknown,
            "short tails are read again"
        );
        tails.after_capture(FILE, 0, 2 << 20);
        assert_eq!(
            tails.check(FILE, 5, 2 << 20, &mut file).unwrap(),
            Known::Unknown
        );
        assert_eq!(tails.check(FILE, 0, 1, &mut file).unwrap(), Known::Unknown);
        assert_eq!(
            tails.check(FILE, 0, 2 << 20, &mut file).unwrap(),
            Known::Unknown,
            "forgotten once the file was shorter"
        );
    }
}
