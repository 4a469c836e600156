//! PyO3 glue for the sandbox: `prepare`, an executor over worker processes (or the calling
//! process), and the worker's entry point. Outcomes cross as columns.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::sandbox::pool::{self, Pool};
use crate::sandbox::{self, CaseOutcome, Job, Limits, Prepared, Runner};

use super::conversion::Wrap;

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
    let prepared = py.detach(|| {
        sandbox::prepare(&wasm, &wasm_sha256, &stdlib_zip, &stdlib_sha256, &cache_dir)
    })?;
    Ok((prepared.compiled, prepared.stdlib_dir))
}

/// Where `sandbox_prepare` keeps (or will keep) the interpreter compiled for this CPU and this
/// build: whether that file exists says whether preparing has to compile.
#[pyfunction]
fn sandbox_compiled_path(
    py: Python<'_>,
    wasm: PathBuf,
    wasm_sha256: String,
    cache_dir: PathBuf,
) -> PyResult<PathBuf> {
    Ok(py.detach(|| sandbox::engine::compiled_target(&wasm, &wasm_sha256, &cache_dir))?)
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
    /// `limits`: the Python `Limits` (its fields are read, see `conversion`).
    #[new]
    fn new(
        py: Python<'_>,
        compiled: PathBuf,
        stdlib_dir: PathBuf,
        limits: Wrap<Limits>,
        workers: usize,
        command: Vec<String>,
    ) -> PyResult<Self> {
        // Both backends validate the limits before starting anything.
        let Wrap(limits) = limits;
        let backend = if workers == 0 {
            Backend::Local(py.detach(|| Runner::new(&compiled, &stdlib_dir, limits))?)
        } else {
            let prepared = Prepared {
                compiled,
                stdlib_dir,
            };
            Backend::Processes(Pool::new(command, workers, &prepared, limits)?)
        };
        Ok(Executor { backend })
    }

    /// `jobs`: (standalone source, function name, [call argument lists]).
    fn run(&self, py: Python<'_>, jobs: Vec<Wrap<Job>>) -> Wrap<Vec<Vec<CaseOutcome>>> {
        let jobs: Vec<Job> = jobs.into_iter().map(|Wrap(job)| job).collect();
        Wrap(py.detach(|| match &self.backend {
            Backend::Local(runner) => on_guest_stack(|| runner.run(&jobs)),
            Backend::Processes(pool) => pool.run(&jobs),
        }))
    }
}

/// A worker process's whole life: serve job lists on stdin/stdout until stdin closes.
#[pyfunction]
fn sandbox_worker_main(py: Python<'_>) -> PyResult<()> {
    Ok(py.detach(|| on_guest_stack(pool::serve_stdio))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Executor>()?;
    m.add_function(wrap_pyfunction!(sandbox_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_compiled_path, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_worker_main, m)?)?;
    Ok(())
}
