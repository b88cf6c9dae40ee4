//! Snippets as plain text: HTML tags dropped and entities decoded (through `html5gum`, a WHATWG tokenizer), white
//! space collapsed. Text that holds no known tag and no entity is left as it is, so `Vec<T>` in a plain snippet
//! keeps its `<T>`.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Tags that mean a snippet is HTML (what providers put in snippets: highlighting, paragraphs, links).
const KNOWN_TAGS: [&str; 22] = [
    "a", "b", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "i", "li", "mark", "ol", "p",
    "pre", "small", "span", "strong", "sub", "sup", "ul",
];

/// Tags that separate words.
const BREAKING_TAGS: [&str; 13] = [
    "br", "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "pre", "tr", "td",
];

/// `input` as plain text on one line.
pub(crate) fn plain_text(input: &str) -> String {
    if !looks_like_html(input) {
        return collapse_whitespace(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut emitter = DefaultEmitter::default();
    // `<script>` and `<style>` content is raw text to the tokenizer too, so it is skipped below, not read as tags.
    emitter.naively_switch_states(true);
    let mut skipping: Option<Vec<u8>> = None;
    for token in Tokenizer::new_with_emitter(input, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                if skipping.is_none() && matches!(name.as_slice(), b"script" | b"style") {
                    skipping = Some(name);
                } else if BREAKING_TAGS
                    .iter()
                    .any(|t| t.as_bytes() == name.as_slice())
                {
                    out.push(' ');
                }
            }
            Token::EndTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                if skipping.as_deref() == Some(name.as_slice()) {
                    skipping = None;
                } else if BREAKING_TAGS
                    .iter()
                    .any(|t| t.as_bytes() == name.as_slice())
                {
                    out.push(' ');
                }
            }
            Token::String(text) if skipping.is_none() => {
                out.push_str(&String::from_utf8_lossy(&text));
            }
            _ => {}
        }
    }
    collapse_whitespace(&out)
}

/// Whether `input` holds a known tag (`<b>`, `</strong>`, `<br/>`, `<a href=...>`) or an entity (`&amp;`,
/// `&#39;`, `&#x27;`).
fn looks_like_html(input: &str) -> bool {
    let bytes = input.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'<' => {
            let rest = &bytes[i + 1..];
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            let name_len = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            let name = String::from_utf8_lossy(&rest[..name_len]).to_ascii_lowercase();
            KNOWN_TAGS.contains(&name.as_str())
                && matches!(rest.get(name_len), Some(b'>' | b'/' | b' ' | b'\t' | b'\n'))
        }
        b'&' => {
            let rest = &bytes[i + 1..];
            let body_len = rest
                .iter()
                .take(10)
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'#')
                .count();
            body_len > 0 && rest.get(body_len) == Some(&b';')
        }
        _ => false,
    })
}

/// `input` on one line, runs of white space as one space.
pub(crate) fn collapse_whitespace(input: &str) -> String {
    input.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `input` cut to at most `max` characters.
pub(crate) fn truncate_chars(input: &str, max: usize) -> String {
    match input.char_indices().nth(max) {
        Some((end, _)) => input[..end].to_owned(),
        None => input.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_dropped_and_entities_decoded() {
        assert_eq!(
            plain_text("<strong>Rust</strong> is &amp; was <em>fast</em>&nbsp;&#39;ok&#x27;"),
            "Rust is & was fast 'ok'"
        );
        assert_eq!(plain_text("one<br>two<p>three</p>"), "one two three");
        assert_eq!(
            plain_text("<b>x</b><script>var a = '<b>no</b>';</script><style>p{}</style>y"),
            "xy"
        );
    }

    #[test]
    fn plain_text_keeps_its_angle_brackets() {
        assert_eq!(
            plain_text("Vec<T> and a < b,\n  AT&T"),
            "Vec<T> and a < b, AT&T"
        );
        assert!(!looks_like_html("Option<String> & Result<T, E>"));
        assert!(looks_like_html("x <B class=\"k\">y</B>"));
        assert!(looks_like_html("fish &amp; chips"));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hé", 5), "hé");
    }
}
