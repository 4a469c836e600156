//! What extraction keeps: switchable rules, size bounds and the name lists.
//!
//! The lists are data files (`data/*.txt`, one name per line, `#` comments) so the
//! Python reference implementation in `benches/` reads exactly the same ones.

use std::fmt;

use rustc_hash::FxHashSet;

pub const STDLIB_MODULES: &str = include_str!("data/stdlib_modules.txt");
pub const BUILTINS: &str = include_str!("data/builtins.txt");
pub const DENIED_BUILTINS: &str = include_str!("data/denied_builtins.txt");
pub const DENIED_MODULES: &str = include_str!("data/denied_modules.txt");
pub const DENIED_ATTRIBUTES: &str = include_str!("data/denied_attributes.txt");
pub const ALLOWED_DECORATORS: &str = include_str!("data/allowed_decorators.txt");

/// The lists users can replace, by name, each with its data file.
pub const LISTS: [(&str, &str); 6] = [
    ("stdlib_modules", STDLIB_MODULES),
    ("builtins", BUILTINS),
    ("denied_builtins", DENIED_BUILTINS),
    ("denied_modules", DENIED_MODULES),
    ("denied_attributes", DENIED_ATTRIBUTES),
    ("allowed_decorators", ALLOWED_DECORATORS),
];

/// Extraction settings refused: a rule or list name that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtractError {
    UnknownRule(String),
    UnknownList(String),
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::UnknownRule(name) => write!(
                f,
                "unknown rule {name:?}; rules are: {}",
                Rules::NAMES.join(", ")
            ),
            ExtractError::UnknownList(name) => {
                let names: Vec<&str> = LISTS.iter().map(|(name, _)| *name).collect();
                write!(f, "unknown list {name:?}; lists are: {}", names.join(", "))
            }
        }
    }
}

impl std::error::Error for ExtractError {}

/// Names of a list file's entries: one per line, blank lines and `#` comments skipped.
pub fn list_entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

fn to_set(entries: &[String]) -> FxHashSet<String> {
    entries.iter().cloned().collect()
}

fn default_list(text: &str) -> Vec<String> {
    list_entries(text).map(str::to_owned).collect()
}

/// Every rule of `docs/extraction-rules.md` §4, each switchable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub not_async: bool,
    pub allowed_decorators: bool,
    pub has_params: bool,
    pub not_generator: bool,
    pub has_return: bool,
    pub size: bool,
    pub no_global: bool,
    pub no_denied_builtins: bool,
    pub stdlib_imports_only: bool,
    pub no_denied_modules: bool,
    pub resolvable_names: bool,
    pub source_bytes: bool,
    pub literal_bytes: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            not_async: true,
            allowed_decorators: true,
            has_params: true,
            not_generator: true,
            has_return: true,
            size: true,
            no_global: true,
            no_denied_builtins: true,
            stdlib_imports_only: true,
            no_denied_modules: true,
            resolvable_names: true,
            source_bytes: true,
            literal_bytes: true,
        }
    }
}

impl Rules {
    pub const NAMES: [&'static str; 13] = [
        "not_async",
        "allowed_decorators",
        "has_params",
        "not_generator",
        "has_return",
        "size",
        "no_global",
        "no_denied_builtins",
        "stdlib_imports_only",
        "no_denied_modules",
        "resolvable_names",
        "source_bytes",
        "literal_bytes",
    ];

    /// Switch a rule by its config name; `Err` names an unknown rule.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), ExtractError> {
        let slot = match name {
            "not_async" => &mut self.not_async,
            "allowed_decorators" => &mut self.allowed_decorators,
            "has_params" => &mut self.has_params,
            "not_generator" => &mut self.not_generator,
            "has_return" => &mut self.has_return,
            "size" => &mut self.size,
            "no_global" => &mut self.no_global,
            "no_denied_builtins" => &mut self.no_denied_builtins,
            "stdlib_imports_only" => &mut self.stdlib_imports_only,
            "no_denied_modules" => &mut self.no_denied_modules,
            "resolvable_names" => &mut self.resolvable_names,
            "source_bytes" => &mut self.source_bytes,
            "literal_bytes" => &mut self.literal_bytes,
            _ => return Err(ExtractError::UnknownRule(name.to_string())),
        };
        *slot = on;
        Ok(())
    }
}

/// The name lists, as given (for reporting) and as sets (for look-ups).
#[derive(Clone, Debug)]
pub struct NameLists {
    pub stdlib_modules: FxHashSet<String>,
    pub builtins: FxHashSet<String>,
    pub denied_builtins: FxHashSet<String>,
    pub denied_modules: FxHashSet<String>,
    pub denied_attributes: Vec<String>,
    pub allowed_decorators: FxHashSet<String>,
}

impl Default for NameLists {
    fn default() -> Self {
        NameLists::new(
            &default_list(STDLIB_MODULES),
            &default_list(BUILTINS),
            &default_list(DENIED_BUILTINS),
            &default_list(DENIED_MODULES),
            &default_list(DENIED_ATTRIBUTES),
            &default_list(ALLOWED_DECORATORS),
        )
    }
}

impl NameLists {
    pub fn new(
        stdlib_modules: &[String],
        builtins: &[String],
        denied_builtins: &[String],
        denied_modules: &[String],
        denied_attributes: &[String],
        allowed_decorators: &[String],
    ) -> Self {
        NameLists {
            stdlib_modules: to_set(stdlib_modules),
            builtins: to_set(builtins),
            denied_builtins: to_set(denied_builtins),
            denied_modules: to_set(denied_modules),
            denied_attributes: denied_attributes.to_vec(),
            allowed_decorators: to_set(allowed_decorators),
        }
    }

    /// The default lists with some replaced, by name (see [`LISTS`]); `Err` names an unknown
    /// list.
    pub fn with_replaced(replaced: &[(String, Vec<String>)]) -> Result<Self, ExtractError> {
        if let Some((name, _)) = replaced
            .iter()
            .find(|(name, _)| !LISTS.iter().any(|(known, _)| known == name))
        {
            return Err(ExtractError::UnknownList(name.clone()));
        }
        let [
            stdlib_modules,
            builtins,
            denied_builtins,
            denied_modules,
            denied_attributes,
            allowed,
        ] = LISTS.map(|(name, text)| {
            replaced
                .iter()
                .find(|(given, _)| given == name)
                .map_or_else(|| default_list(text), |(_, entries)| entries.clone())
        });
        Ok(NameLists::new(
            &stdlib_modules,
            &builtins,
            &denied_builtins,
            &denied_modules,
            &denied_attributes,
            &allowed,
        ))
    }

    /// Whether `qualified` is a denied attribute or lies below one (`a.b` denies `a.b.c`).
    pub fn is_denied_attribute(&self, qualified: &str) -> bool {
        self.denied_attributes.iter().any(|denied| {
            qualified == denied
                || (qualified.starts_with(denied.as_str())
                    && qualified.as_bytes()[denied.len()] == b'.')
        })
    }
}

/// Defaults of the byte caps; `docs/extraction-rules.md` §4 says how they were chosen.
pub const DEFAULT_MAX_SOURCE_BYTES: usize = 20_000;
pub const DEFAULT_MAX_LITERAL_BYTES: usize = 1_000;

#[derive(Clone, Debug)]
pub struct ExtractConfig {
    pub rules: Rules,
    pub min_lines: usize,
    pub max_lines: usize,
    pub max_file_bytes: usize,
    /// Longest standalone source kept, in bytes (imports, constants and helpers included).
    pub max_source_bytes: usize,
    /// Longest single literal kept, in bytes of its source text (docstrings not counted).
    pub max_literal_bytes: usize,
    pub lists: NameLists,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            rules: Rules::default(),
            min_lines: 3,
            max_lines: 200,
            max_file_bytes: 32 << 20,
            max_source_bytes: DEFAULT_MAX_SOURCE_BYTES,
            max_literal_bytes: DEFAULT_MAX_LITERAL_BYTES,
            lists: NameLists::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lists_are_loaded_from_data_files() {
        let lists = NameLists::default();
        assert!(lists.stdlib_modules.contains("math"));
        assert!(lists.builtins.contains("len"));
        assert!(lists.denied_builtins.contains("open"));
        assert!(lists.denied_modules.contains("os"));
        assert!(lists.allowed_decorators.contains("functools.lru_cache"));
    }

    #[test]
    fn denied_attributes_match_at_dot_boundaries() {
        let lists = NameLists::default();
        assert!(lists.is_denied_attribute("datetime.datetime.now"));
        assert!(lists.is_denied_attribute("datetime.datetime.now.foo"));
        assert!(!lists.is_denied_attribute("datetime.datetime.nowhere"));
        assert!(!lists.is_denied_attribute("datetime.datetime"));
    }

    #[test]
    fn unknown_rule_names_are_reported() {
        let mut rules = Rules::default();
        assert!(rules.set("size", false).is_ok());
        assert!(!rules.size);
        let err = rules.set("sise", false).unwrap_err();
        assert!(err.to_string().contains("unknown rule \"sise\""));
    }

    #[test]
    fn lists_are_replaced_by_name() {
        let lists =
            NameLists::with_replaced(&[("stdlib_modules".into(), vec!["numpy".into()])]).unwrap();
        assert!(lists.stdlib_modules.contains("numpy"));
        assert!(!lists.stdlib_modules.contains("math"));
        assert!(lists.builtins.contains("len"));
        let err = NameLists::with_replaced(&[("deny".into(), vec![])]).unwrap_err();
        assert_eq!(err, ExtractError::UnknownList("deny".into()));
        assert!(
            err.to_string()
                .starts_with("unknown list \"deny\"; lists are: stdlib_modules")
        );
    }
}
