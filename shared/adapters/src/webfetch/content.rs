//! What a fetched body becomes: the media types read as text, HTML turned into text (`html2text`) with its
//! `<title>` (`html5gum`), and the text cut to the request's length with a note saying where.

use html5gum::{DefaultEmitter, Token, Tokenizer};
use sluice_core::websearch::{FetchError, FetchErrorCode};

/// The width HTML text is laid out to; long enough that paragraphs are not broken into short lines.
const HTML_TEXT_WIDTH: usize = 120;
/// The longest title kept.
const MAX_TITLE_CHARS: usize = 500;

/// How a body is read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Html,
    Text,
}

/// The kind of a `Content-Type` header value, or `unsupported_content_type` (PDF, images, binaries, none given).
pub(super) fn kind(content_type: Option<&str>) -> Result<Kind, FetchError> {
    let essence = content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => Ok(Kind::Html),
        "text/plain" | "text/markdown" | "text/x-markdown" | "application/json" | "text/csv" => {
            Ok(Kind::Text)
        }
        "" => Err(FetchError::new(
            FetchErrorCode::UnsupportedContentType,
            "the page has no Content-Type; only HTML and text are read",
        )),
        other => Err(FetchError::new(
            FetchErrorCode::UnsupportedContentType,
            format!("the page is {other}; only HTML and text are read"),
        )),
    }
}

/// The body as text and, for HTML, its title.
pub(super) fn read(kind: Kind, body: &[u8]) -> Result<(String, Option<String>), FetchError> {
    match kind {
        Kind::Text => Ok((String::from_utf8_lossy(body).into_owned(), None)),
        Kind::Html => {
            let text = html2text::config::plain()
                .allow_width_overflow()
                .string_from_read(body, HTML_TEXT_WIDTH)
                .map_err(|e| {
                    FetchError::new(
                        FetchErrorCode::Unavailable,
                        format!("the page's HTML could not be turned into text: {e}"),
                    )
                })?;
            Ok((text, title(&String::from_utf8_lossy(body))))
        }
    }
}

/// The first `<title>`'s text on one line, when it has any.
fn title(html: &str) -> Option<String> {
    let mut emitter = DefaultEmitter::default();
    // `<title>` holds text only (RCDATA): without the switch its content could be read as tags.
    emitter.naively_switch_states(true);
    let mut inside = false;
    let mut found = String::new();
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) if tag.name.eq_ignore_ascii_case(b"title") => inside = true,
            Token::EndTag(tag) if inside && tag.name.eq_ignore_ascii_case(b"title") => break,
            // `<svg><title>` is a tooltip, not the page's title; the page's comes first in `<head>`.
            Token::StartTag(tag) if !inside && tag.name.eq_ignore_ascii_case(b"body") => break,
            Token::String(text) if inside => found.push_str(&String::from_utf8_lossy(&text)),
            _ => {}
        }
    }
    let found = found.split_whitespace().collect::<Vec<_>>().join(" ");
    (!found.is_empty()).then(|| cut(&found, MAX_TITLE_CHARS).0)
}

/// `text` cut to at most `max` characters (on a character boundary), and whether it was cut.
pub(super) fn cut(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (text[..end].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

/// `text` trimmed and cut to `max` characters, with `[… cut at N characters]` after it when it was.
pub(super) fn cut_with_note(text: &str, max: usize) -> String {
    let (mut kept, was_cut) = cut(text.trim(), max);
    if was_cut {
        kept.push_str(&format!("\n\n[… cut at {max} characters]"));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_read_by_their_essence() {
        assert_eq!(
            kind(Some("text/HTML; charset=utf-8")).ok(),
            Some(Kind::Html)
        );
        assert_eq!(kind(Some("application/json")).ok(), Some(Kind::Text));
        assert_eq!(kind(Some("text/csv;header=present")).ok(), Some(Kind::Text));
        for refused in [Some("application/pdf"), Some("image/png"), None] {
            assert_eq!(
                kind(refused).err().map(|e| e.code),
                Some(FetchErrorCode::UnsupportedContentType),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn the_title_is_the_heads_and_svg_titles_are_not_taken() {
        assert_eq!(
            title("<html><head><title>\n  A &amp; B\n</title></head><body>x</body></html>")
                .as_deref(),
            Some("A & B")
        );
        assert_eq!(
            title("<html><body><svg><title>icon</title></svg></body></html>"),
            None
        );
        assert_eq!(title("<title>  </title>"), None);
    }

    #[test]
    fn cutting_counts_characters_and_says_where() {
        assert_eq!(
            cut_with_note("héllo wörld", 4),
            "héll\n\n[… cut at 4 characters]"
        );
        assert_eq!(cut_with_note("héllo", 5), "héllo");
        assert_eq!(cut("日本語", 2), ("日本".to_owned(), true));
    }
}
