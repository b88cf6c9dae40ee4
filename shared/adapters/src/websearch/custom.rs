//! A company's own search endpoint, under the contract in the module's documentation (`websearch`): a JSON POST
//! of the query and its options, an answer of `results[]` with `title`, `url`, `content` (or `snippet`) and an
//! optional `page_age`.

use serde::Deserialize;
use serde_json::json as body;
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "Custom search endpoint";

pub(super) struct Custom {
    pub(super) key: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    title: String,
    url: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    snippet: Option<String>,
    #[serde(default)]
    page_age: Option<String>,
}

impl Provider for Custom {
    const FILTERS_DOMAINS: bool = true;

    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder {
        let request = http.client.post(http.endpoint.url()).json(&body!({
            "query": query.query,
            "max_results": count,
            "allowed_domains": query.allowed_domains,
            "blocked_domains": query.blocked_domains,
            "user_location": query.user_location,
        }));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let answer: Answer = json(NAME, body)?;
        Ok(answer
            .results
            .into_iter()
            .map(|item| SearchResult {
                url: item.url,
                title: item.title,
                page_age: item.page_age,
                content: item
                    .content
                    .filter(|c| !c.trim().is_empty())
                    .or(item.snippet)
                    .unwrap_or_default(),
            })
            .collect())
    }
}
