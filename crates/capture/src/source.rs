//! The sources capture reads, behind one trait: a growing file (a Claude
//! Code transcript or plain text), a stream (standard input) and a tmux
//! pane ([`crate::tmux::TmuxSource`]).

use std::io::Read;
use std::path::PathBuf;

use async_trait::async_trait;
use logbook_core::{EventLog, SessionId, SourceRef};

use crate::CaptureError;
use crate::run::{CaptureConfig, CaptureReport, capture_file, capture_stream};

/// Told how many source bytes each recorded batch took.
pub type Progress<'a> = &'a mut (dyn FnMut(u64) + Send);

/// Something an agent writes to, read into a session incrementally and
/// exactly once: each pass starts at the cursor the log holds for
/// [`Source::source_ref`]'s key and records only what came after it.
#[async_trait]
pub trait Source: Send {
    /// The source as events name it.
    fn source_ref(&self) -> &SourceRef;

    /// One incremental pass.
    async fn capture(
        &mut self,
        log: &dyn EventLog,
        session: SessionId,
        config: CaptureConfig,
        progress: Progress<'_>,
    ) -> Result<CaptureReport, CaptureError>;
}

/// A file that grows; a truncated or replaced file is recorded as a
/// `SourceReset` and read again from its start.
#[derive(Clone, Debug)]
pub struct FileSource {
    source: SourceRef,
    path: PathBuf,
}

impl FileSource {
    /// The file at `path`, recorded as `source`.
    pub fn new(source: SourceRef, path: PathBuf) -> Self {
        Self { source, path }
    }
}

#[async_trait]
impl Source for FileSource {
    fn source_ref(&self) -> &SourceRef {
        &self.source
    }

    async fn capture(
        &mut self,
        log: &dyn EventLog,
        session: SessionId,
        config: CaptureConfig,
        progress: Progress<'_>,
    ) -> Result<CaptureReport, CaptureError> {
        capture_file(
            log,
            session,
            self.source.clone(),
            &self.path,
            config,
            progress,
        )
        .await
    }
}

/// A stream read to its end; its last line is complete at end of input.
pub struct StreamSource<R> {
    source: SourceRef,
    reader: R,
}

impl<R: Read + Send> StreamSource<R> {
    /// `reader`, recorded as `source`.
    pub fn new(source: SourceRef, reader: R) -> Self {
        Self { source, reader }
    }
}

#[async_trait]
impl<R: Read + Send> Source for StreamSource<R> {
    fn source_ref(&self) -> &SourceRef {
        &self.source
    }

    async fn capture(
        &mut self,
        log: &dyn EventLog,
        session: SessionId,
        config: CaptureConfig,
        progress: Progress<'_>,
    ) -> Result<CaptureReport, CaptureError> {
        capture_stream(
            log,
            session,
            self.source.clone(),
            &mut self.reader,
            config,
            progress,
        )
        .await
    }
}
