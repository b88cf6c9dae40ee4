//! SearXNG, usually a company's own instance: `GET <api_url>/search?q=&format=json` (SearXNG's "Search API"
//! documentation). The JSON format must be enabled in the instance's `settings.yml` (`search.formats`); an
//! instance without it answers 403. Results are `results[]` with `url`, `title`, `content` and, from some
//! engines, `publishedDate` (`null` otherwise). SearXNG takes no result count: it answers one page.

use serde::Deserialize;
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "SearXNG";
pub(super) const PATH: &str = "/search";

pub(super) struct Searxng;

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
    content: Option<String>,
    #[serde(default, rename = "publishedDate")]
    published_date: Option<String>,
}

impl Provider for Searxng {
    const FILTERS_DOMAINS: bool = false;

    fn request(&self, http: &Http, query: &SearchQuery, _count: u32) -> reqwest::RequestBuilder {
        let mut url = http.endpoint.url();
        url.query_pairs_mut()
            .append_pair("q", &query.query)
            .append_pair("format", "json");
        // No `language`: Anthropic's user_location names a country, not a language.
        http.client.get(url).header("Accept", "application/json")
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
                content: item.content.unwrap_or_default(),
            })
            .collect())
    }
}
