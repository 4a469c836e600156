//! case2code's Rust core: plain Rust, usable without Python.
//!
//! `extract` finds self-contained functions in Python source with tree-sitter.
//! The PyO3 glue lives in `python.rs` behind the `python` feature, so the engine
//! never sees a Python type.

pub mod dedup;
pub mod extract;
pub mod sandbox;

#[cfg(feature = "python")]
mod python;
