//! The engine's errors: what went wrong, and whether the user caused it.

use crate::config::ConfigError;
use crate::workspace::WorkspaceError;

/// Errors a user can cause by what they typed (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A bad session id or prefix.
    #[error(transparent)]
    Id(#[from] logbook_core::IdError),
    /// No active session to default to, or several.
    #[error("{0}")]
    Ambiguous(String),
    /// Anything else that is wrong with the arguments.
    #[error("{0}")]
    Invalid(String),
}

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is wrong (exit code 2).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// Opening or using the store failed.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// Reading input or writing output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Encoding or decoding JSON failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// An operation that cannot go on, with the reason.
    #[error("{0}")]
    Failed(String),
    /// A failure with what was being done when it happened.
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What failed.
        #[source]
        source: Box<EngineError>,
    },
}

macro_rules! via_workspace {
    ($($ty:ty),*) => {$(
        impl From<$ty> for EngineError {
            fn from(e: $ty) -> Self {
                Self::Workspace(WorkspaceError::from(e))
            }
        }
    )*};
}
via_workspace!(
    logbook_search::SearchError,
    ConfigError,
    logbook_store::StoreError,
    logbook_core::LogError,
    logbook_core::ProjectionError,
    logbook_capture::CaptureError,
    logbook_core::lifecycle::LifecycleError
);

impl From<logbook_core::IdError> for EngineError {
    fn from(e: logbook_core::IdError) -> Self {
        Self::Usage(UsageError::Id(e))
    }
}

impl EngineError {
    /// The log error underneath, if this is one.
    fn log_error(&self) -> Option<&logbook_core::LogError> {
        match self {
            Self::Workspace(WorkspaceError::Log(e))
            | Self::Workspace(WorkspaceError::Store(logbook_store::StoreError::Log(e)))
            | Self::Workspace(WorkspaceError::Capture(logbook_capture::CaptureError::Log(e)))
            | Self::Workspace(WorkspaceError::Projection(logbook_core::ProjectionError::Log(e))) => {
                Some(e)
            }
            Self::Context { source, .. } => source.log_error(),
            _ => None,
        }
    }

    /// Whether the store refused to write for want of disk (or after a
    /// write that never reached it): a hook's payload is worth keeping in
    /// the spool until there is room again.
    pub fn is_out_of_space(&self) -> bool {
        matches!(
            self.log_error(),
            Some(logbook_core::LogError::DiskFull { .. } | logbook_core::LogError::Poisoned(_))
        )
    }

    /// A failure described by `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// A usage error described by `message`.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(UsageError::Invalid(message.into()))
    }

    /// Whether the user caused it (exit code 2) rather than the world (1).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::Usage(_) => true,
            Self::Context { source, .. } => source.is_usage(),
            _ => false,
        }
    }

    /// The exit code a command failing with this error ends with.
    pub fn exit_code(&self) -> u8 {
        if self.is_usage() { 2 } else { 1 }
    }

    /// Whether the failure is only a reader that went away (`logbook log |
    /// head`), which is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        // `transparent` variants hand `source()` on to their inner error's
        // source, skipping the inner error itself: look at it directly.
        match self {
            Self::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => return true,
            Self::Json(json) if json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => {
                return true;
            }
            Self::Context { source, .. } => return source.is_broken_pipe(),
            _ => {}
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return true;
            }
            cause = e.source();
        }
        false
    }

    /// The whole cause chain on one line, without the repetitions that
    /// wrapping errors tend to add.
    pub fn one_line(&self) -> String {
        let mut line = String::new();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            let text = e.to_string();
            if !line.contains(&text) {
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&text);
            }
            cause = e.source();
        }
        line.replace('\n', " ")
    }
}

/// Adds what was being done to an error, like `anyhow::Context`, keeping
/// the error typed.
pub trait ResultExt<T> {
    /// Wraps the error with `context`.
    fn context(self, context: impl Into<String>) -> Result<T, EngineError>;
    /// Wraps the error with a lazily built context.
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T, EngineError>;
}

impl<T, E: Into<EngineError>> ResultExt<T> for Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T, EngineError> {
        self.map_err(|e| EngineError::Context {
            context: context.into(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T, EngineError> {
        self.map_err(|e| EngineError::Context {
            context: f().into(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_found_under_context_and_lines_do_not_repeat() {
        let e: Result<(), _> = Err(EngineError::usage("bad --at"));
        let e = e.context("replaying").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.one_line(), "replaying: bad --at");
        let pipe = EngineError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        let pipe: Result<(), _> = Err(pipe);
        assert!(pipe.context("writing").unwrap_err().is_broken_pipe());
        // JSON written into a closed pipe.
        let mut closed = ClosedPipe;
        let json = serde_json::to_writer(&mut closed, &[1, 2, 3]).unwrap_err();
        assert!(EngineError::from(json).is_broken_pipe());
    }

    struct ClosedPipe;

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
