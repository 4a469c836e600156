//! case2code's Rust core: plain Rust, usable without Python.
//!
//! `extract` finds self-contained functions in Python source with tree-sitter.
//! The PyO3 glue lives in `python.rs` and `python/` behind the `python` feature, so the
//! engine never sees a Python type; the engine's errors are its own enums, mapped to Python
//! exceptions in `python/error.rs`.

pub mod dedup;
pub mod extract;
pub mod sandbox;

#[cfg(feature = "python")]
mod python;
