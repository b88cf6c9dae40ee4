//! count_tokens support: a high-biased estimate for models Bedrock cannot count, and a small answer cache.
//!
//! Claude Code fires bursts of identical count_tokens calls at start-up, so answers are cached by body hash. When
//! Bedrock cannot count, the estimate must never be below the real count — an under-count makes the client overfill
//! the context and hit "prompt is too long" — so it is deliberately generous.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Fixed overhead per request and per message (role markers and framing the tokenizer adds).
const REQUEST_OVERHEAD: u64 = 16;
const MESSAGE_OVERHEAD: u64 = 8;

/// Estimates input tokens of an Anthropic request body (`system`, `messages`, `tools`).
///
/// Claude's byte-level tokenizer never produces more tokens than bytes, and English text or code averages well
/// over three bytes per token. So ASCII bytes count as one token per three bytes and every non-ASCII byte as a
/// whole token (scripts such as CJK approach one token per character). Structural JSON is included for tools and
/// block types, which only adds margin.
#[must_use]
pub fn estimate_tokens(body: &serde_json::Map<String, Value>) -> u64 {
    let mut ascii = 0u64;
    let mut other = 0u64;
    let mut tally = |s: &str| {
        for b in s.bytes() {
            if b.is_ascii() {
                ascii += 1;
            } else {
                other += 1;
            }
        }
    };
    let mut messages = 0u64;
    if let Some(system) = body.get("system") {
        visit_text(system, &mut tally);
    }
    if let Some(Value::Array(list)) = body.get("messages") {
        messages = list.len() as u64;
        for m in list {
            if let Some(c) = m.get("content") {
                visit_text(c, &mut tally);
            }
        }
    }
    if let Some(tools) = body.get("tools") {
        tally(&tools.to_string());
    }
    REQUEST_OVERHEAD + messages * MESSAGE_OVERHEAD + ascii.div_ceil(3) + other
}

/// Visits every string in a content value (text, tool inputs and results, thinking), keys excluded.
fn visit_text(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| visit_text(i, f)),
        Value::Object(obj) => {
            for (k, child) in obj {
                if k == "signature" || k == "cache_control" {
                    continue;
                }
                if k == "input" {
                    f(&child.to_string());
                } else {
                    visit_text(child, f);
                }
            }
        }
        _ => {}
    }
}

/// Whether an answer came from Bedrock or from the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    Bedrock,
    Estimate,
}

/// Bounded, expiring cache of count answers keyed by the SHA-256 of (model, body).
#[derive(Debug)]
pub struct CountCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], (Instant, u64, CountSource)>>,
}

impl CountCache {
    #[must_use]
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    #[must_use]
    pub fn key(model: &str, body: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(model.as_bytes());
        h.update([0]);
        h.update(body);
        h.finalize().into()
    }

    #[must_use]
    pub fn get(&self, key: &[u8; 32], now: Instant) -> Option<(u64, CountSource)> {
        let map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key)
            .filter(|(at, ..)| now.duration_since(*at) < self.ttl)
            .map(|(_, n, s)| (*n, *s))
    }

    pub fn put(&self, key: [u8; 32], value: u64, source: CountSource, now: Instant) {
        let mut map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity {
            let ttl = self.ttl;
            map.retain(|_, (at, ..)| now.duration_since(*at) < ttl);
            if map.len() >= self.capacity
                && let Some(oldest) = map.iter().min_by_key(|(_, (at, ..))| *at).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(key, (now, value, source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn estimate_is_at_least_a_third_of_ascii_bytes_and_one_per_non_ascii_byte() {
        let text = "fn main() { println!(\"hello\"); }".repeat(30);
        let body = obj(json!({"messages":[{"role":"user","content":text}]}));
        assert!(estimate_tokens(&body) >= (text.len() as u64).div_ceil(3));
        let cjk = "日本語のテキスト".repeat(10);
        let body =
            obj(json!({"messages":[{"role":"user","content":[{"type":"text","text":cjk}]}]}));
        assert!(estimate_tokens(&body) >= cjk.len() as u64);
    }

    #[test]
    fn estimate_counts_system_tools_and_tool_inputs() {
        let base = obj(json!({"messages":[{"role":"user","content":"hi"}]}));
        let fuller = obj(json!({
            "system":[{"type":"text","text":"You are terse."}],
            "tools":[{"name":"Bash","description":"Run a command","input_schema":{"type":"object"}}],
            "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls -la"}}]}]
        }));
        assert!(estimate_tokens(&fuller) > estimate_tokens(&base) + 20);
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "test: a starting instant; the cache takes every instant as a parameter"
    )]
    fn cache_answers_until_expiry_and_stays_bounded() {
        let cache = CountCache::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let k1 = CountCache::key("m", b"a");
        cache.put(k1, 10, CountSource::Bedrock, t0);
        assert_eq!(
            cache.get(&k1, t0 + Duration::from_secs(59)),
            Some((10, CountSource::Bedrock))
        );
        assert_eq!(cache.get(&k1, t0 + Duration::from_secs(61)), None);
        cache.put(CountCache::key("m", b"b"), 1, CountSource::Estimate, t0);
        cache.put(
            CountCache::key("m", b"c"),
            2,
            CountSource::Estimate,
            t0 + Duration::from_secs(1),
        );
        assert_eq!(cache.entries.lock().expect("lock").len(), 2);
        assert_ne!(CountCache::key("m", b"a"), CountCache::key("n", b"a"));
    }
}
