//! What one case may use, with safe defaults. Every limit is per case, reset at each case.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How much state is shared between executions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// A fresh instance per input: nothing is shared, the slowest.
    Case,
    /// A fresh instance per function, all its inputs run in it (the default): a function's
    /// module globals persist across its own inputs, as in the paper's executor, but nothing
    /// reaches another function.
    Function,
    /// Many functions per instance. NOT isolated: one function can patch what the next sees.
    /// For trusted code and for measuring the cost of isolation.
    Shared,
}

impl Isolation {
    pub const NAMES: [&'static str; 3] = ["case", "function", "shared"];

    /// The settings' name of this isolation (as serde and the Python `Limits` spell it).
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Case => "case",
            Isolation::Function => "function",
            Isolation::Shared => "shared",
        }
    }

    pub fn from_name(name: &str) -> Result<Isolation, LimitsError> {
        match name {
            "case" => Ok(Isolation::Case),
            "function" => Ok(Isolation::Function),
            "shared" => Ok(Isolation::Shared),
            _ => Err(LimitsError::UnknownIsolation(name.to_string())),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wasm instructions (wasmtime fuel) per case; deterministic, so the primary time limit.
    pub fuel_per_case: u64,
    /// Wasm instructions for defining a function (running its imports: `import pandas` takes
    /// several billion).
    pub fuel_per_definition: u64,
    /// Wall-clock backstop per case (and per definition), in milliseconds.
    pub wall_ms_per_case: u64,
    /// Linear memory cap per instance, in bytes (the interpreter itself takes ~40 MiB).
    pub memory_bytes: u64,
    /// Captured stdout per case, in characters; printing more ends the case as `output_limit`.
    pub stdout_chars: u64,
    /// Longest `repr()` of a return value, in characters; longer is `output_limit`.
    pub repr_chars: u64,
    /// Python recursion limit, set before every case.
    pub recursion_limit: u32,
    pub isolation: Isolation,
    /// Run every returning or raising case a second time in a perturbed world (another hash
    /// salt, date and clock, random bytes, address layout and case order) and mark the cases
    /// whose result changes `unstable`: their output is not something a model could infer.
    pub check_stability: bool,
    /// Report each case's coverage: the lines and branch arms of the function's own code its
    /// call ran (`CaseOutcome::coverage`). Its callbacks cost instructions from the case's fuel
    /// (about a tenth more CPU time in the execute stage).
    pub coverage: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_case: 2_000_000_000,
            fuel_per_definition: 50_000_000_000,
            wall_ms_per_case: 10_000,
            memory_bytes: 512 << 20,
            stdout_chars: 64 << 10,
            repr_chars: 64 << 10,
            recursion_limit: 1000,
            isolation: Isolation::Function,
            check_stability: true,
            coverage: true,
        }
    }
}

/// Limits that cannot run, each saying which setting and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitsError {
    NotPositive,
    MemoryTooSmall,
    MemoryTooLarge,
    RecursionLimit,
    UnknownIsolation(String),
}

impl fmt::Display for LimitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitsError::NotPositive => write!(f, "fuel and wall-clock limits must be positive"),
            LimitsError::MemoryTooSmall => write!(
                f,
                "memory_bytes must be at least 64 MiB (the interpreter needs ~40 MiB)"
            ),
            LimitsError::MemoryTooLarge => {
                write!(f, "memory_bytes must be at most 4 GiB (32-bit wasm)")
            }
            LimitsError::RecursionLimit => {
                write!(f, "recursion_limit must be between 50 and 1,000,000")
            }
            LimitsError::UnknownIsolation(name) => write!(
                f,
                "unknown isolation {name:?}; isolations are: {}",
                Isolation::NAMES.join(", ")
            ),
        }
    }
}

impl std::error::Error for LimitsError {}

impl Limits {
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.fuel_per_case == 0 || self.fuel_per_definition == 0 || self.wall_ms_per_case == 0 {
            return Err(LimitsError::NotPositive);
        }
        if self.memory_bytes < (64 << 20) {
            return Err(LimitsError::MemoryTooSmall);
        }
        if self.memory_bytes > (4 << 30) {
            return Err(LimitsError::MemoryTooLarge);
        }
        if !(50..=1_000_000).contains(&self.recursion_limit) {
            return Err(LimitsError::RecursionLimit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_names_round_trip() {
        for name in Isolation::NAMES {
            let isolation = Isolation::from_name(name).unwrap();
            assert_eq!(isolation.as_str(), name);
            // The worker's wire format spells it the same way.
            assert_eq!(
                serde_json::to_string(&isolation).unwrap(),
                format!("{name:?}")
            );
        }
        let unknown = Isolation::from_name("thread").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown isolation \"thread\"; isolations are: case, function, shared"
        );
    }
}
