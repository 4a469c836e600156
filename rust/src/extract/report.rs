//! What extraction hands back: kept functions, rejections with reason codes, and
//! per-source outcomes.

/// Why a whole source (file or row) was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    TooLarge,
    NulBytes,
    Undecodable,
    SyntaxError,
    Unreadable,
    BadNotebook,
    NotPython,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::TooLarge => "too_large",
            SkipReason::NulBytes => "nul_bytes",
            SkipReason::Undecodable => "undecodable",
            SkipReason::SyntaxError => "syntax_error",
            SkipReason::Unreadable => "unreadable",
            SkipReason::BadNotebook => "bad_notebook",
            SkipReason::NotPython => "not_python",
        }
    }
}

/// Why a function was not kept; one per rule of `docs/extraction-rules.md`, in check order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    Async,
    Decorator,
    NoParams,
    Generator,
    NoReturn,
    Size,
    GlobalStatement,
    DeniedBuiltin,
    NonStdlibImport,
    DeniedModule,
    UnresolvedName,
    SourceTooLarge,
    LiteralTooLarge,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::Async => "async",
            RejectReason::Decorator => "decorator",
            RejectReason::NoParams => "no_params",
            RejectReason::Generator => "generator",
            RejectReason::NoReturn => "no_return",
            RejectReason::Size => "size",
            RejectReason::GlobalStatement => "global_statement",
            RejectReason::DeniedBuiltin => "denied_builtin",
            RejectReason::NonStdlibImport => "non_stdlib_import",
            RejectReason::DeniedModule => "denied_module",
            RejectReason::UnresolvedName => "unresolved_name",
            RejectReason::SourceTooLarge => "source_too_large",
            RejectReason::LiteralTooLarge => "literal_too_large",
        }
    }
}

/// A failed rule with a short explanation naming what failed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub reason: RejectReason,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    PositionalOnly,
    PositionalOrKeyword,
    VarPositional,
    KeywordOnly,
    VarKeyword,
}

impl ParamKind {
    pub fn code(&self) -> &'static str {
        match self {
            ParamKind::PositionalOnly => "positional_only",
            ParamKind::PositionalOrKeyword => "positional_or_keyword",
            ParamKind::VarPositional => "var_positional",
            ParamKind::KeywordOnly => "keyword_only",
            ParamKind::VarKeyword => "var_keyword",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub annotation: Option<String>,
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedFunction {
    pub function_id: String,
    pub name: String,
    /// Imports, constants and helpers it needs, then the function itself.
    pub source: String,
    pub signature: String,
    pub params: Vec<Param>,
    pub returns: Option<String>,
    pub docstring: Option<String>,
    /// 1-based line of the `def`.
    pub line: usize,
    pub n_lines: usize,
    pub helpers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub name: String,
    pub line: usize,
    pub reason: RejectReason,
    pub detail: String,
}

/// Everything found in one source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceReport {
    pub bytes: usize,
    pub skipped: Option<SkipReason>,
    pub functions: Vec<ExtractedFunction>,
    pub rejections: Vec<Rejection>,
}

impl SourceReport {
    pub fn skipped(bytes: usize, reason: SkipReason) -> Self {
        SourceReport {
            bytes,
            skipped: Some(reason),
            ..SourceReport::default()
        }
    }
}
