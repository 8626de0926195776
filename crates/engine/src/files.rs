//! Projected files on disk: atomic replace by write-then-rename, private
//! permissions, and nothing outside the output root.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use logbook_core::projection::{check_relative, short_file};
use logbook_core::{ProjectionError, ProjectionFiles};

/// [`ProjectionFiles`] rooted at a directory.
#[derive(Debug, Clone)]
pub struct FsFiles {
    root: PathBuf,
}

/// Creates `path` and its missing parents with mode 0700: transcripts hold
/// secrets.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Writes a small file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl FsFiles {
    /// Files under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn full(&self, path: &str) -> Result<PathBuf, ProjectionError> {
        check_relative(path)?;
        Ok(self.root.join(path))
    }

    fn parent_dir(&self, full: &Path, path: &str) -> Result<(), ProjectionError> {
        match full.parent() {
            Some(parent) => create_private_dir(parent).map_err(|e| err(path, &e)),
            None => Ok(()),
        }
    }
}

/// Whether the file at `full` already holds exactly `bytes`. A fold
/// rewrites every file of each session a batch touches, though many of
/// them (a review's Markdown, the task list) did not change; each rewrite
/// is a new file and a rename, whose inode allocation showed as a fifth of
/// an import's CPU. Comparing reads the page cache, in pieces (a timeline
/// can be megabytes), and only when the sizes agree.
fn holds(full: &Path, bytes: &[u8]) -> bool {
    let Ok(mut file) = File::open(full) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(bytes.len() as u64) {
        return false;
    }
    let mut piece = [0u8; 16 * 1024];
    let mut rest = bytes;
    while !rest.is_empty() {
        let want = rest.len().min(piece.len());
        if file.read_exact(&mut piece[..want]).is_err() || piece[..want] != rest[..want] {
            return false;
        }
        rest = &rest[want..];
    }
    true
}

fn err(path: &str, e: &std::io::Error) -> ProjectionError {
    ProjectionError::File {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl ProjectionFiles for FsFiles {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        match fs::read(self.full(path)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(path, &e)),
        }
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ProjectionError> {
        let full = self.full(path)?;
        if holds(&full, bytes) {
            return Ok(());
        }
        self.parent_dir(&full, path)?;
        let dir = full.parent().unwrap_or(&self.root);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| err(path, &e))?;
        tmp.write_all(bytes).map_err(|e| err(path, &e))?;
        tmp.persist(&full).map_err(|e| err(path, &e.error))?;
        Ok(())
    }

    fn link(&self, from: &str, to: &str) -> Result<(), ProjectionError> {
        let source = self.full(from)?;
        let full = self.full(to)?;
        self.parent_dir(&full, to)?;
        let dir = full.parent().unwrap_or(&self.root);
        // Linked under a temporary name, then renamed over `to`: readers
        // see the old file or the new, never none.
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .make_in(dir, |p| fs::hard_link(&source, p));
        match tmp {
            Ok(tmp) => tmp
                .persist(&full)
                .map(|_| ())
                .map_err(|e| err(to, &e.error)),
            // A file system without hard links still gets the bytes.
            Err(_) => {
                let bytes = fs::read(&source).map_err(|e| err(from, &e))?;
                self.write(to, &bytes)
            }
        }
    }

    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> Result<(), ProjectionError> {
        let full = self.full(path)?;
        self.parent_dir(&full, path)?;
        let mut file: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&full)
            .map_err(|e| err(path, &e))?;
        let len = file.metadata().map_err(|e| err(path, &e))?.len();
        if len < offset {
            return Err(short_file(path, offset));
        }
        file.set_len(offset).map_err(|e| err(path, &e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| err(path, &e))?;
        file.write_all(bytes).map_err(|e| err(path, &e))
    }

    fn remove(&self, path: &str) -> Result<(), ProjectionError> {
        match fs::remove_file(self.full(path)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(path, &e)),
        }
    }
}

/// Every regular file under `root/sub`, as paths relative to `root` with
/// `/` separators, sorted.
pub fn list_files(root: &Path, sub: &str) -> std::io::Result<Vec<String>> {
    list(root, sub, false)
}

/// [`list_files`], also listing symbolic links that are not directories
/// (transcripts linked into a folder are transcripts; a link whose target
/// is gone is listed, and reading it fails like a file that vanished).
pub fn list_files_and_links(root: &Path, sub: &str) -> std::io::Result<Vec<String>> {
    list(root, sub, true)
}

fn list(root: &Path, sub: &str, links: bool) -> std::io::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, links: bool, out: &mut Vec<String>) -> std::io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                walk(root, &path, links, out)?;
            } else if (kind.is_file() || (links && kind.is_symlink() && !path.is_dir()))
                && let Ok(rel) = path.strip_prefix(root)
            {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, &root.join(sub), links, &mut out)?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_is_private_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let files = FsFiles::new(dir.path().to_owned());
        files.write("a/b.json", b"one").unwrap();
        files.write("a/b.json", b"two").unwrap();
        let full = dir.path().join("a/b.json");
        assert_eq!(fs::read(&full).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&full).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sub = fs::metadata(dir.path().join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(sub & 0o777, 0o700);
        assert_eq!(list_files(dir.path(), "a").unwrap(), vec!["a/b.json"]);
    }

    #[test]
    fn a_write_of_what_the_file_holds_leaves_it_alone() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let files = FsFiles::new(dir.path().to_owned());
        let full = dir.path().join("s/review.md");
        let inode = || fs::metadata(&full).unwrap().ino();
        // Larger than one compared piece, so the comparison goes past it.
        let text: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        files.write("s/review.md", &text).unwrap();
        let first = inode();
        files.write("s/review.md", &text).unwrap();
        assert_eq!(inode(), first, "unchanged bytes were written again");
        // Same length, one byte changed past the first piece: replaced.
        let mut changed = text.clone();
        changed[30_000] = b'!';
        files.write("s/review.md", &changed).unwrap();
        assert_ne!(inode(), first);
        assert_eq!(fs::read(&full).unwrap(), changed);
        // A longer file that starts with the same bytes: replaced.
        let mut longer = changed.clone();
        longer.push(b'\n');
        files.write("s/review.md", &longer).unwrap();
        assert_eq!(fs::read(&full).unwrap(), longer);
        assert_eq!(list_files(dir.path(), "s").unwrap(), vec!["s/review.md"]);
    }

    #[test]
    fn write_at_is_idempotent_and_refuses_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let files = FsFiles::new(dir.path().to_owned());
        files.write_at("p", 0, b"abc").unwrap();
        files.write_at("p", 3, b"def").unwrap();
        files.write_at("p", 3, b"def").unwrap();
        assert_eq!(files.read("p").unwrap().unwrap(), b"abcdef");
        assert!(files.write_at("p", 10, b"x").is_err());
    }

    #[test]
    fn escaping_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = FsFiles::new(dir.path().to_owned());
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "a//b"] {
            assert!(files.write(bad, b"x").is_err(), "{bad}");
        }
    }
}
