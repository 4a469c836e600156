//! What dedup sees of a source, as text: for tests, and for comparing with other MinHash
//! implementations (benches/bench_dedup.py).

use super::{lexer, tokens};

/// The token texts of `source`: from the dedup lexer, or (`tree_sitter`) from its tree-sitter
/// oracle, which gives None when the source does not parse.
pub fn token_texts(source: &str, structural: bool, tree_sitter: bool) -> Option<Vec<String>> {
    if tree_sitter {
        return tokens::token_texts(source, structural);
    }
    Some(
        lexer::normalized(source, structural)
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

/// The distinct shingles of `source` (its lexer tokens, `ngram` at a time, joined by spaces),
/// sorted: what the Deduper's MinHash hashes, in the code view (string literals in their
/// canonical form) or the raw-text view (comments and docstrings kept, literals as written).
pub fn shingle_texts(source: &str, ngram: usize, structural: bool, raw_text: bool) -> Vec<String> {
    let mut tokens = Vec::new();
    lexer::tokens_into(source, &mut tokens, raw_text);
    let mut normalized = Vec::new();
    lexer::Normalizer::default().run(&tokens, structural, |t| normalized.push(t));
    let mut literal = String::new();
    let tokens: Vec<String> = normalized
        .iter()
        .map(|token| match token {
            lexer::Normal::Literal(text) if !raw_text => {
                lexer::canonical_string(text, &mut literal);
                literal.clone()
            }
            _ => lexer::shingle_text(token).to_owned(),
        })
        .collect();
    let width = ngram.min(tokens.len()).max(1);
    let mut shingles: Vec<String> = tokens.windows(width).map(|w| w.join(" ")).collect();
    shingles.sort_unstable();
    shingles.dedup();
    shingles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shingles_are_distinct_token_windows() {
        let shingles = shingle_texts("x = x = x", 2, false, false);
        assert_eq!(shingles, ["= x", "x ="]);
        // Shorter than one shingle: the whole source is one.
        assert_eq!(shingle_texts("x = 1", 5, false, false), ["x = 1"]);
    }

    #[test]
    fn the_code_view_sees_string_values_the_raw_view_sees_text() {
        let a = "def f():\n    '''Doc.'''\n    return 'it\\'s'  # note\n";
        let b = "def f():\n    return \"it's\"\n";
        assert_eq!(
            shingle_texts(a, 5, false, false),
            shingle_texts(b, 5, false, false)
        );
        assert_ne!(
            shingle_texts(a, 5, false, true),
            shingle_texts(b, 5, false, true)
        );
        let raw = shingle_texts(a, 100, false, true).join(" ");
        assert!(
            raw.contains("'''Doc.'''") && raw.contains("# note"),
            "{raw}"
        );
    }

    #[test]
    fn the_lexer_and_its_oracle_agree_on_plain_code() {
        let source = "def f(a):\n    return a + 1\n";
        assert_eq!(
            token_texts(source, true, false),
            token_texts(source, true, true)
        );
    }
}
