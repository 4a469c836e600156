//! Node-kind and field ids of the Python grammar, looked up once.
//!
//! Comparing `u16` ids instead of kind strings keeps the tree walks cheap.

use std::sync::OnceLock;

use tree_sitter::Language;

pub fn language() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

macro_rules! ids {
    ($name:ident, $lookup:ident, { $($field:ident = $kind:literal),* $(,)? }) => {
        pub struct $name { $(pub $field: u16),* }
        impl $name {
            fn load(language: &Language) -> Self {
                $name { $($field: $lookup(language, $kind)),* }
            }
        }
    };
}

fn kind(language: &Language, name: &str) -> u16 {
    let id = language.id_for_node_kind(name, true);
    assert!(id != 0, "the Python grammar has no node kind {name:?}");
    id
}

fn field(language: &Language, name: &str) -> u16 {
    language
        .field_id_for_name(name)
        .unwrap_or_else(|| panic!("the Python grammar has no field {name:?}"))
        .get()
}

ids!(Kinds, kind, {
    aliased_import = "aliased_import",
    as_pattern = "as_pattern",
    as_pattern_target = "as_pattern_target",
    assignment = "assignment",
    attribute = "attribute",
    augmented_assignment = "augmented_assignment",
    binary_operator = "binary_operator",
    call = "call",
    case_pattern = "case_pattern",
    class_definition = "class_definition",
    class_pattern = "class_pattern",
    comment = "comment",
    concatenated_string = "concatenated_string",
    decorated_definition = "decorated_definition",
    decorator = "decorator",
    default_parameter = "default_parameter",
    delete_statement = "delete_statement",
    dictionary = "dictionary",
    dictionary_splat_pattern = "dictionary_splat_pattern",
    dotted_name = "dotted_name",
    ellipsis = "ellipsis",
    exec_statement = "exec_statement",
    expression_list = "expression_list",
    expression_statement = "expression_statement",
    false_ = "false",
    float = "float",
    for_in_clause = "for_in_clause",
    for_statement = "for_statement",
    function_definition = "function_definition",
    future_import_statement = "future_import_statement",
    global_statement = "global_statement",
    identifier = "identifier",
    import_from_statement = "import_from_statement",
    import_statement = "import_statement",
    integer = "integer",
    keyword_argument = "keyword_argument",
    keyword_pattern = "keyword_pattern",
    keyword_separator = "keyword_separator",
    lambda = "lambda",
    list = "list",
    list_pattern = "list_pattern",
    list_splat = "list_splat",
    list_splat_pattern = "list_splat_pattern",
    named_expression = "named_expression",
    none = "none",
    nonlocal_statement = "nonlocal_statement",
    pair = "pair",
    parenthesized_expression = "parenthesized_expression",
    pattern_list = "pattern_list",
    positional_separator = "positional_separator",
    print_statement = "print_statement",
    relative_import = "relative_import",
    return_statement = "return_statement",
    set = "set",
    string = "string",
    string_start = "string_start",
    subscript = "subscript",
    list_comprehension = "list_comprehension",
    set_comprehension = "set_comprehension",
    dictionary_comprehension = "dictionary_comprehension",
    generator_expression = "generator_expression",
    true_ = "true",
    tuple = "tuple",
    tuple_pattern = "tuple_pattern",
    type_ = "type",
    typed_default_parameter = "typed_default_parameter",
    typed_parameter = "typed_parameter",
    unary_operator = "unary_operator",
    yield_ = "yield",
});

ids!(Fields, field, {
    alias = "alias",
    attribute = "attribute",
    argument = "argument",
    body = "body",
    definition = "definition",
    function_ = "function",
    key = "key",
    left = "left",
    module_name = "module_name",
    name = "name",
    object = "object",
    operator = "operator",
    parameters = "parameters",
    return_type = "return_type",
    right = "right",
    superclasses = "superclasses",
    type_ = "type",
    type_parameters = "type_parameters",
    value = "value",
});

pub struct Grammar {
    pub kinds: Kinds,
    pub fields: Fields,
}

pub fn grammar() -> &'static Grammar {
    static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        let language = language();
        Grammar {
            kinds: Kinds::load(&language),
            fields: Fields::load(&language),
        }
    })
}
