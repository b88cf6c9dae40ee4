//! Tavily: `POST https://api.tavily.com/search` with `Authorization: Bearer <key>` and a JSON body `{query,
//! max_results, include_domains, exclude_domains, search_depth, topic}`; results are `results[]` with `title`,
//! `url`, `content` (plain text), `score` and, for news, `published_date` (Tavily's API reference, "Tavily
//! Search"). `max_results` is at most 20.

use serde::Deserialize;
use serde_json::json as body;
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "Tavily";
pub(super) const BASE: &str = "https://api.tavily.com";
pub(super) const PATH: &str = "/search";

pub(super) struct Tavily {
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
    title: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    published_date: Option<String>,
}

impl Provider for Tavily {
    const FILTERS_DOMAINS: bool = true;

    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder {
        http.client
            .post(http.endpoint.url())
            .bearer_auth(&self.key)
            .json(&body!({
                "query": query.query,
                "max_results": count,
                "include_domains": query.allowed_domains,
                "exclude_domains": query.blocked_domains,
                "search_depth": "basic",
                "topic": "general",
            }))
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let answer: Answer = json(NAME, body)?;
        Ok(answer
            .results
            .into_iter()
            .map(|item| SearchResult {
                url: item.url,
                title: item.title,
                page_age: item.published_date,
                content: item.content,
            })
            .collect())
    }
}
