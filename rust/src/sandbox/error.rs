//! What can stop the sandbox from starting or serving: refused limits, the interpreter's files,
//! wasmtime, and the worker processes. (A case that fails is an outcome, not an error.)

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::limits::LimitsError;

#[derive(Debug)]
pub enum SandboxError {
    /// Limits the sandbox cannot run under.
    Limits(LimitsError),
    /// A file or directory of the interpreter or its cache could not be used.
    Read {
        path: PathBuf,
        error: io::Error,
    },
    Create {
        path: PathBuf,
        error: io::Error,
    },
    Write {
        path: PathBuf,
        error: io::Error,
    },
    CopyStdlib(io::Error),
    /// An interpreter file that is not the pinned one.
    Digest {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// wasmtime could not configure its engine.
    Engine(String),
    /// wasmtime could not compile or load the interpreter.
    Compile {
        path: PathBuf,
        error: String,
    },
    Load {
        path: PathBuf,
        error: String,
    },
    /// Setting up instances: linking an import or pre-instantiating (`step` names which).
    Instantiate {
        step: &'static str,
        error: String,
    },
    /// The interpreter could not be primed with the driver (see prime.rs).
    Prime(String),
    /// A worker process could not be started.
    EmptyWorkerCommand,
    WorkerStart {
        program: String,
        error: io::Error,
    },
    /// The channel to or from a worker failed (`step` names what it was doing).
    WorkerIo {
        step: &'static str,
        error: io::Error,
    },
    /// A worker's input ended before its configuration.
    NoWorkerConfig,
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Limits(error) => write!(f, "{error}"),
            SandboxError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            SandboxError::Create { path, error } => {
                write!(f, "cannot create {}: {error}", path.display())
            }
            SandboxError::Write { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
            SandboxError::CopyStdlib(error) => write!(f, "cannot copy the stdlib zip: {error}"),
            SandboxError::Digest {
                path,
                found,
                expected,
            } => write!(
                f,
                "{} has sha256 {found}, expected {expected}: refusing to use it",
                path.display()
            ),
            SandboxError::Engine(error) => write!(f, "wasmtime engine: {error}"),
            SandboxError::Compile { path, error } => {
                write!(f, "compiling {}: {error}", path.display())
            }
            SandboxError::Load { path, error } => write!(f, "loading {}: {error}", path.display()),
            SandboxError::Instantiate { step, error } => write!(f, "{step}: {error}"),
            SandboxError::Prime(error) => write!(f, "{error}"),
            SandboxError::EmptyWorkerCommand => write!(f, "empty worker command"),
            SandboxError::WorkerStart { program, error } => {
                write!(f, "starting a sandbox worker ({program}): {error}")
            }
            SandboxError::WorkerIo { step, error } => write!(f, "{step}: {error}"),
            SandboxError::NoWorkerConfig => write!(f, "no worker config"),
        }
    }
}

impl std::error::Error for SandboxError {}

impl From<LimitsError> for SandboxError {
    fn from(error: LimitsError) -> Self {
        SandboxError::Limits(error)
    }
}
