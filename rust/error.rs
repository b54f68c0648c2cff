//! The one error type of the embedrs core.
//!
//! Every fallible function of the core returns [`Result<T>`]. The Python
//! binding maps each variant to exactly one Python exception type (see
//! `python/mod.rs`), so the variant chosen here decides what a user catches:
//!
//! | variant            | Python exception |
//! |--------------------|------------------|
//! | `InvalidArgument`  | `ValueError`     |
//! | `Parameter`        | `ValueError` naming the parameter (its `param` attribute) |
//! | `Io`               | `OSError` (`FileNotFoundError`, `PermissionError`) |
//! | `Format`           | `ValueError`     |
//! | `Runtime`          | `RuntimeError`   |
//! | `OutOfMemory`      | `MemoryError`    |
//! | `Interrupted`      | `KeyboardInterrupt` |
//!
//! Messages say what is wrong in the core's own terms (parameter and field
//! names, which the Python API shares); they never give advice about a
//! particular binding's types.

use std::path::PathBuf;

/// Errors raised by the embedrs core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter or input value the caller can fix (bad size, empty corpus, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// A model parameter outside the values it accepts.
    #[error("{message}")]
    Parameter {
        /// The parameter's name (gensim's spelling).
        name: &'static str,
        /// What is wrong and which values are accepted.
        message: String,
    },
    /// An operating-system error while reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content does not follow its format; names the place.
    #[error("{path}: {message}")]
    Format {
        /// The file involved.
        path: PathBuf,
        /// What is wrong and where (line or byte offset).
        message: String,
    },
    /// An internal state that should not happen, or an operation in the wrong order.
    #[error("{0}")]
    Runtime(String),
    /// The operation was stopped by the caller (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// A user-sized allocation could not be made (see [`crate::mem`]).
    #[error("{0}")]
    OutOfMemory(String),
}

/// Result alias used throughout the core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// A [`Error::Parameter`] about `name`.
    pub fn parameter(name: &'static str, message: impl Into<String>) -> Self {
        Error::Parameter {
            name,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error in `path`, with a message naming the place.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
