//! Serper (Google results): `POST https://google.serper.dev/search` with the key in `X-API-KEY` and a JSON body
//! `{q, num, gl}` (`gl`: the two-letter country, lower case); results are `organic[]` with `title`, `link`,
//! `snippet` and sometimes `date` (Serper's playground and its published OpenAPI description).

use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_core::websearch::{SearchError, SearchQuery, SearchResult};

use super::http::Http;
use super::{Provider, json};

pub(super) const NAME: &str = "Serper";
pub(super) const BASE: &str = "https://google.serper.dev";
pub(super) const PATH: &str = "/search";

pub(super) struct Serper {
    pub(super) key: String,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    organic: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    title: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    date: Option<String>,
}

impl Provider for Serper {
    const FILTERS_DOMAINS: bool = false;

    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder {
        let mut body = Map::new();
        body.insert("q".to_owned(), Value::from(query.query.as_str()));
        body.insert("num".to_owned(), Value::from(count));
        let country = query
            .user_location
            .as_ref()
            .and_then(|l| l.country.as_deref())
            .map(str::trim)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()));
        if let Some(country) = country {
            body.insert("gl".to_owned(), Value::from(country.to_ascii_lowercase()));
        }
        http.client
            .post(http.endpoint.url())
            .header("X-API-KEY", &self.key)
            .json(&body)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError> {
        let answer: Answer = json(NAME, body)?;
        Ok(answer
            .organic
            .into_iter()
            .map(|item| SearchResult {
                url: item.link,
                title: item.title,
                page_age: item.date,
                content: item.snippet,
            })
            .collect())
    }
}
