//! What a fetched body becomes: the media types read as text, HTML turned into text (`html2text`) with its
//! `<title>` (`html5gum`), and the text cut to the request's length with a note saying where.

use html5gum::{DefaultEmitter, Token, Tokenizer};
use sluice_core::websearch::{FetchError, FetchErrorCode};

/// The width HTML text is laid out to; long enough that paragraphs are not broken into short lines.
const HTML_TEXT_WIDTH: usize = 120;
/// The longest title kept.
const MAX_TITLE_CHARS: usize = 500;
/// The deepest nesting of elements `html2text` is given. Its layout takes time growing with the square of the
/// depth (20,000 nested `<div>`s: seconds), so a deeper page, hostile or broken, is read by [`flat_text`]
/// instead, in one pass. Real pages nest a few dozen levels.
const MAX_HTML_DEPTH: usize = 512;

/// Elements that hold no content (no end tag) or whose end tag is often left out: they do not count as depth.
const NOT_NESTING: [&str; 26] = [
    "area", "base", "br", "col", "dd", "dt", "embed", "hr", "img", "input", "li", "link", "meta",
    "option", "p", "param", "rp", "rt", "source", "tbody", "td", "tfoot", "th", "thead", "tr",
    "wbr",
];
/// Elements whose start or end begins a new line in [`flat_text`].
const BLOCKS: [&str; 24] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "p",
    "pre",
    "section",
    "tr",
];

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

/// `body` decoded by the `charset` of its `Content-Type` (a byte order mark wins; UTF-8 when none is named or the
/// name is unknown), bytes that do not decode replaced.
pub(super) fn decode(content_type: Option<&str>, body: &[u8]) -> String {
    let encoding = content_type
        .into_iter()
        .flat_map(|v| v.split(';').skip(1))
        .filter_map(|param| param.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .and_then(|(_, label)| {
            encoding_rs::Encoding::for_label(label.trim().trim_matches('"').as_bytes())
        })
        .unwrap_or(encoding_rs::UTF_8);
    encoding.decode(body).0.into_owned()
}

/// The (decoded) body as text and, for HTML, its title.
pub(super) fn read(kind: Kind, body: &str) -> Result<(String, Option<String>), FetchError> {
    match kind {
        Kind::Text => Ok((body.to_owned(), None)),
        Kind::Html => {
            let html = body;
            if depth_over(html, MAX_HTML_DEPTH) {
                return Ok((flat_text(html), title(html)));
            }
            let text = html2text::config::plain()
                .allow_width_overflow()
                .string_from_read(html.as_bytes(), HTML_TEXT_WIDTH)
                .map_err(|e| {
                    FetchError::new(
                        FetchErrorCode::Unavailable,
                        format!("the page's HTML could not be turned into text: {e}"),
                    )
                })?;
            Ok((text, title(html)))
        }
    }
}

fn tokens(html: &str) -> impl Iterator<Item = Token> + '_ {
    let mut emitter = DefaultEmitter::default();
    // `<script>`, `<style>` and `<title>` hold text only: without the switch their content could be read as tags.
    emitter.naively_switch_states(true);
    Tokenizer::new_with_emitter(html, emitter).flatten()
}

fn is_one_of(name: &[u8], names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether elements nest deeper than `max` anywhere in `html` (counted from its tags, one pass).
fn depth_over(html: &str, max: usize) -> bool {
    let mut depth = 0_usize;
    for token in tokens(html) {
        match token {
            Token::StartTag(tag) if !tag.self_closing && !is_one_of(&tag.name, &NOT_NESTING) => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            Token::EndTag(tag) if !is_one_of(&tag.name, &NOT_NESTING) => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    false
}

/// `html`'s text in one pass, for pages too deep for `html2text`: tags dropped, `<head>`, `<script>` and
/// `<style>` skipped, a new line at each block, runs of spaces as one.
fn flat_text(html: &str) -> String {
    let mut out = String::new();
    let mut skipping: Option<Vec<u8>> = None;
    for token in tokens(html) {
        match token {
            Token::StartTag(tag) if skipping.is_none() => {
                if is_one_of(&tag.name, &["script", "style", "head", "template"])
                    && !tag.self_closing
                {
                    skipping = Some(tag.name.to_ascii_lowercase());
                } else if is_one_of(&tag.name, &BLOCKS) {
                    out.push('\n');
                }
            }
            Token::EndTag(tag) => {
                if skipping.as_deref() == Some(tag.name.to_ascii_lowercase().as_slice()) {
                    skipping = None;
                } else if skipping.is_none() && is_one_of(&tag.name, &BLOCKS) {
                    out.push('\n');
                }
            }
            Token::String(text) if skipping.is_none() => {
                // The source's line breaks are spaces; only blocks begin lines.
                out.extend(
                    String::from_utf8_lossy(&text)
                        .chars()
                        .map(|c| if c.is_whitespace() { ' ' } else { c }),
                );
            }
            _ => {}
        }
    }
    out.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first `<title>`'s text on one line, when it has any.
fn title(html: &str) -> Option<String> {
    let mut inside = false;
    let mut found = String::new();
    for token in tokens(html) {
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
    fn deeply_nested_html_is_read_in_one_pass() {
        let depth = 200_000;
        let html = format!(
            "<head><title>deep</title><style>p {{}}</style></head>{}x<script>no()</script> &amp; y{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let started = std::time::Instant::now();
        let (text, title) = read(Kind::Html, &html).expect("read");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(title.as_deref(), Some("deep"));
        assert_eq!(text, "x & y");
    }

    #[test]
    fn nesting_is_counted_without_the_elements_that_need_no_end_tag() {
        let shallow = format!("<ul>{}</ul>", "<li><p>item".repeat(5_000));
        assert!(!depth_over(&shallow, MAX_HTML_DEPTH));
        assert!(depth_over(
            &"<div>".repeat(MAX_HTML_DEPTH + 1),
            MAX_HTML_DEPTH
        ));
        assert!(!depth_over(&"<div></div>".repeat(10_000), MAX_HTML_DEPTH));
    }

    #[test]
    fn flat_text_breaks_lines_at_blocks() {
        assert_eq!(
            flat_text("<h1>Title</h1><p>one <b>bold</b>\n  word</p><ul><li>a<li>b</ul>"),
            "Title\none bold word\na\nb"
        );
    }

    #[test]
    fn bodies_are_decoded_by_their_charset() {
        assert_eq!(
            decode(Some("text/html; charset=ISO-8859-1"), b"caf\xe9"),
            "café"
        );
        assert_eq!(
            decode(Some("text/plain; Charset=\"windows-1252\""), b"\x93q\x94"),
            "\u{201c}q\u{201d}"
        );
        assert_eq!(decode(Some("text/plain"), "café".as_bytes()), "café");
        assert_eq!(
            decode(Some("text/plain; charset=nonsense"), b"caf\xe9"),
            "caf\u{fffd}"
        );
        assert_eq!(decode(None, b"\xef\xbb\xbfok"), "ok");
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
