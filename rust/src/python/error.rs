//! Every engine error mapped to a Python exception, in one place (as polars' `error.rs`).
//!
//! Refused settings raise `ConfigError` (a `ValueError`); the sandbox failing to start or serve
//! raises `SandboxError` (a `RuntimeError`); dedup's temporary files failing raise `OSError`. The Python package turns both into `C2CError`
//! with the engine's message, prefixed by the stage.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::dedup::DedupError;
use crate::extract::ExtractError;
use crate::sandbox::{self, LimitsError};

create_exception!(
    case2code._core,
    ConfigError,
    PyValueError,
    "Settings the Rust core refuses: sandbox limits, dedup or extraction settings."
);
create_exception!(
    case2code._core,
    SandboxError,
    PyRuntimeError,
    "The sandbox could not start or serve: its interpreter files, wasmtime or a worker."
);

impl From<LimitsError> for PyErr {
    fn from(error: LimitsError) -> PyErr {
        ConfigError::new_err(error.to_string())
    }
}

impl From<sandbox::SandboxError> for PyErr {
    fn from(error: sandbox::SandboxError) -> PyErr {
        match error {
            sandbox::SandboxError::Limits(error) => error.into(),
            other => SandboxError::new_err(other.to_string()),
        }
    }
}

impl From<DedupError> for PyErr {
    fn from(error: DedupError) -> PyErr {
        match error {
            DedupError::NotPositive
            | DedupError::BandsExceedPermutations { .. }
            | DedupError::Threshold(_) => ConfigError::new_err(error.to_string()),
            DedupError::LengthMismatch { .. }
            | DedupError::NoSuchFunction { .. }
            | DedupError::NotClustered
            | DedupError::SignatureShape(_) => PyValueError::new_err(error.to_string()),
            DedupError::RecordsCreate { .. }
            | DedupError::RecordsWrite { .. }
            | DedupError::RecordsRead(_) => PyOSError::new_err(error.to_string()),
        }
    }
}

impl From<ExtractError> for PyErr {
    fn from(error: ExtractError) -> PyErr {
        ConfigError::new_err(error.to_string())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("SandboxError", m.py().get_type::<SandboxError>())?;
    Ok(())
}
