//! Brave Search API: `GET https://api.search.brave.com/res/v1/web/search?q=&count=` with the key in
//! `X-Subscription-Token` (Brave's API documentation and its own `brave-search-skills` examples). Results are
//! `web.results[]` with `title`, `url`, `description` (HTML: `<strong>` around matched words), `age` (relative,
//! "3 days ago") and `page_age` (ISO date); `count` is at most 20. `web` is absent when nothing matched.

use serde::Deserialize;
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "Brave";
pub(super) const BASE: &str = "https://api.search.brave.com";
pub(super) const PATH: &str = "/res/v1/web/search";

pub(super) struct Brave {
    pub(super) key: String,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    web: Option<Web>,
}

#[derive(Deserialize)]
struct Web {
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
    description: String,
    #[serde(default)]
    age: Option<String>,
    #[serde(default)]
    page_age: Option<String>,
}

impl Provider for Brave {
    const FILTERS_DOMAINS: bool = false;

    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder {
        let mut url = http.endpoint.url();
        url.query_pairs_mut()
            .append_pair("q", &query.query)
            .append_pair("count", &count.to_string());
        // No `country` from the user's location: Brave answers 422 for a country outside its list.
        http.client
            .get(url)
            .header("Accept", "application/json")
            .header("X-Subscription-Token", &self.key)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let answer: Answer = json(NAME, body)?;
        Ok(answer
            .web
            .map(|w| w.results)
            .unwrap_or_default()
            .into_iter()
            .map(|item| SearchResult {
                url: item.url,
                title: item.title,
                // The relative age reads as Anthropic's `page_age` does ("2 days ago"); the date when there is none.
                page_age: item.age.or(item.page_age),
                content: item.description,
            })
            .collect())
    }
}
