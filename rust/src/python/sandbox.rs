//! PyO3 glue for the sandbox: `prepare`, an executor over worker processes (or the calling
//! process), and the worker's entry point. Outcomes cross as columns.

use std::path::PathBuf;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::sandbox::pool::{self, Pool};
use crate::sandbox::{self, CaseOutcome, Job, Limits, Prepared, Runner};

/// Checks the interpreter files against their digests and compiles (once, cached):
/// returns (compiled module path, stdlib directory).
#[pyfunction]
fn sandbox_prepare(
    py: Python<'_>,
    wasm: PathBuf,
    wasm_sha256: String,
    stdlib_zip: PathBuf,
    stdlib_sha256: String,
    cache_dir: PathBuf,
) -> PyResult<(PathBuf, PathBuf)> {
    let prepared = py
        .detach(|| sandbox::prepare(&wasm, &wasm_sha256, &stdlib_zip, &stdlib_sha256, &cache_dir))
        .map_err(PyRuntimeError::new_err)?;
    Ok((prepared.compiled, prepared.stdlib_dir))
}

enum Backend {
    /// In the calling process, on a thread with a stack big enough for the guest.
    Local(Runner),
    Processes(Pool),
}

/// Runs batches of jobs; `workers = 0` runs them in this process.
#[pyclass(frozen, module = "case2code._core")]
struct Executor {
    backend: Backend,
}

/// The guest may use 8 MiB of native stack; leave room for the host's own frames.
const GUEST_THREAD_STACK: usize = 24 << 20;

fn on_guest_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("c2c-sandbox".into())
            .stack_size(GUEST_THREAD_STACK)
            .spawn_scoped(scope, f)
            .expect("spawning the sandbox thread")
            .join()
            .expect("the sandbox thread panicked")
    })
}

#[pymethods]
impl Executor {
    #[new]
    fn new(
        py: Python<'_>,
        compiled: PathBuf,
        stdlib_dir: PathBuf,
        limits_json: &str,
        workers: usize,
        command: Vec<String>,
    ) -> PyResult<Self> {
        let limits: Limits = serde_json::from_str(limits_json)
            .map_err(|e| PyValueError::new_err(format!("limits: {e}")))?;
        limits.validate().map_err(PyValueError::new_err)?;
        let backend = if workers == 0 {
            let runner = py
                .detach(|| Runner::new(&compiled, &stdlib_dir, limits))
                .map_err(PyRuntimeError::new_err)?;
            Backend::Local(runner)
        } else {
            let prepared = Prepared {
                compiled,
                stdlib_dir,
            };
            Backend::Processes(
                Pool::new(command, workers, &prepared, limits).map_err(PyValueError::new_err)?,
            )
        };
        Ok(Executor { backend })
    }

    /// `jobs`: (standalone source, function name, [call argument lists]).
    fn run<'py>(
        &self,
        py: Python<'py>,
        jobs: Vec<(String, String, Vec<String>)>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let jobs: Vec<Job> = jobs
            .into_iter()
            .map(|(source, name, inputs)| Job {
                source,
                name,
                inputs,
            })
            .collect();
        let outcomes = py.detach(|| match &self.backend {
            Backend::Local(runner) => on_guest_stack(|| runner.run(&jobs)),
            Backend::Processes(pool) => pool.run(&jobs),
        });
        columns(py, &outcomes)
    }
}

fn columns<'py>(py: Python<'py>, outcomes: &[Vec<CaseOutcome>]) -> PyResult<Bound<'py, PyDict>> {
    let rows = outcomes.iter().map(Vec::len).sum();
    let mut job = Vec::with_capacity(rows);
    let mut case = Vec::with_capacity(rows);
    let mut status = Vec::with_capacity(rows);
    let mut value_repr = Vec::with_capacity(rows);
    let mut value_json = Vec::with_capacity(rows);
    let mut error_type = Vec::with_capacity(rows);
    let mut error = Vec::with_capacity(rows);
    let mut stdout = Vec::with_capacity(rows);
    let mut instructions = Vec::with_capacity(rows);
    let mut wall_us = Vec::with_capacity(rows);
    for (j, cases) in outcomes.iter().enumerate() {
        for (c, o) in cases.iter().enumerate() {
            job.push(j);
            case.push(c);
            status.push(o.status.as_str());
            value_repr.push(o.value_repr.as_deref());
            value_json.push(o.value_json.as_deref());
            error_type.push(o.error_type.as_deref());
            error.push(o.error.as_deref());
            stdout.push(o.stdout.as_str());
            instructions.push(o.instructions);
            wall_us.push(o.wall_us);
        }
    }
    let out = PyDict::new(py);
    out.set_item("job", job)?;
    out.set_item("case", case)?;
    out.set_item("status", status)?;
    out.set_item("value_repr", value_repr)?;
    out.set_item("value_json", value_json)?;
    out.set_item("error_type", error_type)?;
    out.set_item("error", error)?;
    out.set_item("stdout", stdout)?;
    out.set_item("instructions", instructions)?;
    out.set_item("wall_us", wall_us)?;
    Ok(out)
}

/// A worker process's whole life: serve job lists on stdin/stdout until stdin closes.
#[pyfunction]
fn sandbox_worker_main(py: Python<'_>) -> PyResult<()> {
    py.detach(|| on_guest_stack(pool::serve_stdio))
        .map_err(PyRuntimeError::new_err)
}

/// The default limits, as JSON.
#[pyfunction]
fn sandbox_default_limits() -> String {
    serde_json::to_string(&Limits::default()).expect("limits serialise")
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Executor>()?;
    m.add_function(wrap_pyfunction!(sandbox_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_worker_main, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_default_limits, m)?)?;
    Ok(())
}
