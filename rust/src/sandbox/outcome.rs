//! What running one case produced.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// The function (or its definition) raised; `error_type` / `error` say what.
    Error,
    /// Out of instructions or past the wall-clock deadline.
    Timeout,
    /// `MemoryError`, or the instance hit its memory cap.
    Memory,
    /// Printed or returned more than the caps allow (an int too long for `repr` included).
    OutputLimit,
    /// The result changed when what a model cannot see changed (see `Limits::check_stability`),
    /// or it shows a set whose order comes from the hash seed.
    Unstable,
    /// The call returned, but `repr()` of the value raised: the function did not.
    ReprError,
    /// The input is not a literal call argument list.
    InvalidInput,
    /// The instance died another way (wasm trap, stack overflow, `os._exit`).
    Crash,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Memory => "memory",
            Status::OutputLimit => "output_limit",
            Status::Unstable => "unstable",
            Status::ReprError => "repr_error",
            Status::InvalidInput => "invalid_input",
            Status::Crash => "crash",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    pub status: Status,
    /// `repr()` of the return value.
    pub value_repr: Option<String>,
    /// The return value as JSON text when it is plain data (tuples become arrays).
    pub value_json: Option<String>,
    /// Exception class name, e.g. `ValueError`.
    pub error_type: Option<String>,
    /// The paper's form, `<class 'ValueError'>: message`, or what stopped the instance.
    pub error: Option<String>,
    /// Captured stdout (capped).
    pub stdout: String,
    /// Wasm instructions used (fuel), including argument parsing and `repr()`.
    pub instructions: u64,
    pub wall_us: u64,
    /// What the call ran of the function's own code, when `Limits::coverage` asks for it and
    /// the call was made (none for an invalid input, a definition error or a stopped instance).
    #[serde(default)]
    pub coverage: Option<Coverage>,
}

/// The lines and branch arms of a function's own code (its functions, lambdas and carried
/// helpers; not module-level code) that one case's call ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Lines of the standalone source (1-based) the call ran.
    pub lines: Vec<u32>,
    /// Branch arms the call took: indices into the function's arms, two per conditional jump
    /// (fall through, jump) in code order, so the same source numbers them the same way.
    pub arms: Vec<u32>,
    /// How many lines hold code and how many arms the function has.
    pub lines_total: u32,
    pub arms_total: u32,
}

impl Coverage {
    /// Drops what cannot be true of a report (the guest is untrusted): arms past the total,
    /// more lines than the total.
    pub fn checked(mut self) -> Option<Self> {
        self.arms.retain(|&arm| arm < self.arms_total);
        (self.lines.len() <= self.lines_total as usize).then_some(self)
    }
}

impl CaseOutcome {
    pub fn stopped(status: Status, reason: impl Into<String>) -> Self {
        CaseOutcome {
            status,
            value_repr: None,
            value_json: None,
            error_type: None,
            error: Some(reason.into()),
            stdout: String::new(),
            instructions: 0,
            wall_us: 0,
            coverage: None,
        }
    }

    /// The part that must agree between two runs (not time, not instruction counts).
    pub fn same_result(&self, other: &CaseOutcome) -> bool {
        self.status == other.status
            && self.value_repr == other.value_repr
            && self.error == other.error
            && self.stdout == other.stdout
    }
}

/// One function to run: its standalone source, its name and its inputs (call argument lists).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub source: String,
    pub name: String,
    pub inputs: Vec<String>,
}
