//! Exa: `POST https://api.exa.ai/search` with the key in `x-api-key` and a JSON body `{query, numResults,
//! includeDomains, excludeDomains, contents: {text: {maxCharacters}}}`; results are `results[]` with `title`
//! (may be `null`), `url`, `publishedDate` (may be absent) and `text` (Exa's API reference and SDK cheat sheet).
//! Exa has refused requests naming both domain lists, so only the allowed list is sent when there are both (the
//! blocked one is applied by Sluice's filter either way).

use serde::Deserialize;
use serde_json::{Map, Value, json as body};
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "Exa";
pub(super) const BASE: &str = "https://api.exa.ai";
pub(super) const PATH: &str = "/search";
/// The page text asked per result.
const TEXT_CHARS: u32 = 1500;

pub(super) struct Exa {
    pub(super) key: String,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default, rename = "publishedDate")]
    published_date: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl Provider for Exa {
    const FILTERS_DOMAINS: bool = true;

    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder {
        let mut request = Map::new();
        request.insert("query".to_owned(), Value::from(query.query.as_str()));
        request.insert("numResults".to_owned(), Value::from(count));
        if !query.allowed_domains.is_empty() {
            request.insert("includeDomains".to_owned(), body!(query.allowed_domains));
        } else if !query.blocked_domains.is_empty() {
            request.insert("excludeDomains".to_owned(), body!(query.blocked_domains));
        }
        request.insert(
            "contents".to_owned(),
            body!({"text": {"maxCharacters": TEXT_CHARS}}),
        );
        http.client
            .post(http.endpoint.url())
            .header("x-api-key", &self.key)
            .json(&request)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let answer: Answer = json(NAME, body)?;
        Ok(answer
            .results
            .into_iter()
            .map(|item| SearchResult {
                url: item.url,
                title: item.title.unwrap_or_default(),
                page_age: item.published_date,
                content: item.text.unwrap_or_default(),
            })
            .collect())
    }
}
