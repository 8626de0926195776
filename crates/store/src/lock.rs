//! logbook's own lock file. sled refuses a second opener at once
//! (`WouldBlock`); parallel hooks from several tabs must instead wait their
//! turn, so every opener takes this lock first, retrying with backoff.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::StoreError;

/// The held lock; released when dropped (or when the process dies, which is
/// why a kernel lock is used rather than the file's existence).
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const MAX_PAUSE: Duration = Duration::from_millis(50);

impl StoreLock {
    /// Takes the lock of the store in `dir` (creating the directory, mode
    /// 0700), waiting up to `wait`.
    pub fn take(dir: &Path, wait: Duration) -> Result<Self, StoreError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StoreError::io(dir, e))?;
        Self::acquire(&dir.join("lock"), wait)
    }

    /// Takes the lock at `path`, waiting up to `wait`.
    pub fn acquire(path: &Path, wait: Duration) -> Result<Self, StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let waited = started.elapsed();
                    if waited >= wait {
                        return Err(StoreError::Locked {
                            path: path.to_owned(),
                            holder: read_pid(&mut file),
                            waited,
                        });
                    }
                    // A little jitter keeps 16 simultaneous starters from
                    // retrying in lockstep.
                    let jitter = Duration::from_micros(u64::from(std::process::id() % 500));
                    std::thread::sleep((pause + jitter).min(wait - waited));
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(TryLockError::Error(e)) => return Err(StoreError::io(path, e)),
            }
        }
        let mut lock = Self {
            file,
            path: path.to_owned(),
        };
        lock.write_pid()?;
        Ok(lock)
    }

    fn write_pid(&mut self) -> Result<(), StoreError> {
        let pid = std::process::id().to_string();
        let path = self.path.clone();
        (|| {
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(pid.as_bytes())?;
            self.file.flush()
        })()
        .map_err(|e| StoreError::io(&path, e))
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_times_out_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let _held = StoreLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let err = StoreLock::acquire(&path, Duration::from_millis(30)).unwrap_err();
        match err {
            StoreError::Locked { holder, waited, .. } => {
                assert_eq!(holder, Some(std::process::id()));
                assert!(waited >= Duration::from_millis(30));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err_text(&path).contains(&std::process::id().to_string()));
    }

    fn err_text(path: &Path) -> String {
        StoreLock::acquire(path, Duration::ZERO)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        drop(StoreLock::acquire(&path, Duration::ZERO).unwrap());
        StoreLock::acquire(&path, Duration::ZERO).unwrap();
    }
}
