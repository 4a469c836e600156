//! The thin PyO3 layer, laid out as polars' `polars-python`: one module per exposed part
//! (`extract`, `dedup`, `sandbox`), every conversion in `conversion`, every error mapping in
//! `error`. It converts, releases the GIL and calls the engine; nothing else.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::dedup::DedupConfig;
use crate::extract::ExtractConfig;
use crate::sandbox::Limits;

mod conversion;
mod dedup;
mod error;
mod extract;
mod sandbox;

use conversion::Wrap;

/// The engine's defaults, one dict per settings type (`limits`, `dedup`, `extract`): the
/// Python dataclasses are tested equal to them.
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("limits", Wrap(Limits::default()))?;
    out.set_item("dedup", Wrap(DedupConfig::default()))?;
    out.set_item("extract", Wrap(ExtractConfig::default()))?;
    Ok(out)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    extract::register(m)?;
    sandbox::register(m)?;
    dedup::register(m)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
