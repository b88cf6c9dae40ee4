//! DuckDuckGo, no key: the HTML endpoint (`POST https://html.duckduckgo.com/html/`, form field `q`), the page
//! DuckDuckGo serves to browsers without JavaScript. It has no documented API; the shape read here is the page's
//! markup as DuckDuckGo serves it and as the open-source scrapers of it read it (each result a `.result` block;
//! `a.result__a` holds the title and a link wrapped as `//duckduckgo.com/l/?uddg=<target, URL-encoded>`;
//! `.result__snippet` the snippet; ads are `.result--ad` blocks). A page that challenges the client (its
//! `anomaly-modal`, served when DuckDuckGo takes the searches for a bot) is `too_many_requests`.

use html5gum::{DefaultEmitter, Token, Tokenizer};
use sluice_core::websearch::{SearchError, SearchErrorCode, SearchQuery, SearchResult};
use url::Url;

use super::Provider;
use super::http::Http;

pub(super) const NAME: &str = "DuckDuckGo";
pub(super) const BASE: &str = "https://html.duckduckgo.com";
pub(super) const PATH: &str = "/html/";

pub(super) struct DuckDuckGo;

impl Provider for DuckDuckGo {
    const FILTERS_DOMAINS: bool = false;
    /// The tokenizer has decoded the page's text already.
    const MAY_HOLD_HTML: bool = false;

    fn request(&self, http: &Http, query: &SearchQuery, _count: u32) -> reqwest::RequestBuilder {
        // One page of results (about ten); the form takes no count.
        http.client
            .post(http.endpoint.url())
            .form(&[("q", query.query.as_str())])
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let page = String::from_utf8_lossy(body);
        let results = parse_results_page(&page);
        if results.is_empty() && page.contains("anomaly-modal") {
            return Err(SearchError::new(
                SearchErrorCode::TooManyRequests,
                "DuckDuckGo answered with a challenge page instead of results (too many searches)",
            ));
        }
        Ok(results)
    }
}

/// What is being read inside a result block.
enum Capture {
    None,
    /// The title link's text, until its `</a>`.
    Title,
    /// The snippet element's text, until the end of the element named `tag` at `depth` 0.
    Snippet {
        tag: Vec<u8>,
        depth: u32,
    },
}

/// The results on one of DuckDuckGo's HTML result pages, ads and links back to DuckDuckGo left out, each link
/// unwrapped to its target. Text is raw (tags gone, entities decoded; white space is collapsed later).
#[must_use]
pub fn parse_results_page(page: &str) -> Vec<SearchResult> {
    let mut results: Vec<(bool, SearchResult)> = Vec::new();
    let mut in_ad = false;
    let mut capture = Capture::None;
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(page, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                if let Capture::Snippet { tag: open, depth } = &mut capture {
                    if *open == name && !tag.self_closing {
                        *depth += 1;
                    }
                    continue;
                }
                let class = tag
                    .attributes
                    .get(b"class".as_slice())
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                let classes: Vec<&str> = class.split_whitespace().collect();
                if classes.contains(&"result") {
                    in_ad = classes.contains(&"result--ad");
                }
                if name == b"a" && classes.contains(&"result__a") {
                    let href = tag
                        .attributes
                        .get(b"href".as_slice())
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    results.push((
                        in_ad,
                        SearchResult {
                            url: href,
                            title: String::new(),
                            page_age: None,
                            content: String::new(),
                        },
                    ));
                    capture = Capture::Title;
                } else if classes.contains(&"result__snippet")
                    && results.last().is_some_and(|(_, r)| r.content.is_empty())
                {
                    capture = Capture::Snippet {
                        tag: name,
                        depth: 1,
                    };
                }
            }
            Token::EndTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                match &mut capture {
                    Capture::Title if name == b"a" => capture = Capture::None,
                    Capture::Snippet { tag: open, depth } if *open == name => {
                        *depth -= 1;
                        if *depth == 0 {
                            capture = Capture::None;
                        }
                    }
                    _ => {}
                }
            }
            Token::String(text) => {
                let text = String::from_utf8_lossy(&text);
                if let Some((_, last)) = results.last_mut() {
                    match capture {
                        Capture::Title => last.title.push_str(&text),
                        Capture::Snippet { .. } => last.content.push_str(&text),
                        Capture::None => {}
                    }
                }
            }
            _ => {}
        }
    }
    results
        .into_iter()
        .filter(|(ad, _)| !ad)
        .filter_map(|(_, mut result)| {
            result.url = unwrap_link(&result.url)?;
            Some(result)
        })
        .collect()
}

/// A result link's target: `//duckduckgo.com/l/?uddg=<target>&rut=...` gives `<target>` (decoded); a direct
/// `http(s)` link is itself; anything else on DuckDuckGo (ads' `y.js`) or not on the web gives `None`.
fn unwrap_link(href: &str) -> Option<String> {
    let href = href.trim();
    let absolute = if href.starts_with("//") {
        format!("https:{href}")
    } else if href.starts_with('/') {
        format!("https://duckduckgo.com{href}")
    } else {
        href.to_owned()
    };
    let url = Url::parse(&absolute).ok()?;
    let on_duckduckgo = url
        .host_str()
        .is_some_and(|h| h == "duckduckgo.com" || h.ends_with(".duckduckgo.com"));
    let target = if on_duckduckgo {
        if url.path() != "/l/" && url.path() != "/l" {
            return None;
        }
        let (_, target) = url.query_pairs().find(|(k, _)| k == "uddg")?;
        Url::parse(&target).ok()?
    } else {
        url
    };
    matches!(target.scheme(), "http" | "https").then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_links_are_unwrapped_and_ads_dropped() {
        assert_eq!(
            unwrap_link("//duckduckgo.com/l/?uddg=https%3A%2F%2Fdoc.rust-lang.org%2Fbook%2F%3Fa%3D1%26b%3D2&rut=f00").as_deref(),
            Some("https://doc.rust-lang.org/book/?a=1&b=2")
        );
        assert_eq!(
            unwrap_link("https://example.org/direct").as_deref(),
            Some("https://example.org/direct")
        );
        assert_eq!(
            unwrap_link("https://duckduckgo.com/y.js?ad_domain=x.com&u3=https%3A%2F%2Fx.com"),
            None
        );
        assert_eq!(
            unwrap_link("//duckduckgo.com/l/?uddg=javascript%3Aalert(1)"),
            None
        );
    }
}
