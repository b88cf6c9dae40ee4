//! The metric formulas, each over summed rollup fields: cache hit rate, latency percentiles from the fixed
//! histogram, the least-squares forecast, new versus returning people, the hour × weekday heatmap, MCP names
//! and cache savings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde::Serialize;

use crate::spend::PriceTable;
use crate::spend::ledger::{CACHE_READ_TOKENS, INPUT_TOKENS, LATENCY_BOUNDS_MS, REQUESTS};

use super::rollup::{Rollup, Sums, round1};
use super::window::Window;

/// Cache hit rate in percent, CCAG's formula: cache reads / (input + cache reads) × 100 (cache writes are not
/// in the denominator), one decimal; 0 without input.
#[must_use]
pub fn cache_hit_rate(sums: &Sums) -> f64 {
    let read = sums.get(CACHE_READ_TOKENS);
    let denominator = sums.get(INPUT_TOKENS) + read;
    if denominator == 0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "a percentage for display")]
    let rate = read as f64 * 100.0 / denominator as f64;
    round1(rate)
}

/// The `q`-quantile (0 < q ≤ 1) of request durations, from the rollups' latency histogram.
///
/// Method: the rank is `ceil(q × n)` over the `n` requests in the histogram; walking the buckets in order,
/// the answer is the upper bound of the bucket where the cumulative count first reaches the rank. It never
/// understates the true percentile and overstates it by less than that bucket's width. `None` when there are
/// no requests, or when the rank falls in the overflow bucket (over the last bound, 300 000 ms), which has no
/// upper bound to report.
#[must_use]
pub fn latency_percentile(sums: &Sums, q: f64) -> Option<u64> {
    let counts: Vec<(u64, u64)> = LATENCY_BOUNDS_MS
        .iter()
        .map(|bound| (*bound, sums.get(&format!("lat_le_{bound}"))))
        .collect();
    let overflow = sums.get(&format!(
        "lat_gt_{}",
        LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]
    ));
    let n: u64 = counts.iter().map(|(_, c)| c).sum::<u64>() + overflow;
    if n == 0 {
        return None;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "request counts are far below 2^52; the rank is a small positive integer"
    )]
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut cumulative = 0;
    for (bound, count) in counts {
        cumulative += count;
        if cumulative >= rank {
            return Some(bound);
        }
    }
    None
}

/// One point of the spend forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastPoint {
    pub day: String,
    pub cost_usd: f64,
    pub is_forecast: bool,
}

/// The daily costs as they were, then `min(7, days)` projected days: ordinary least squares over
/// (day index 0.., cost), projected values clamped at 0. With fewer than 2 days of data, no projection.
#[must_use]
pub fn forecast(daily: &[(NaiveDate, f64)], days: u32) -> Vec<ForecastPoint> {
    let mut out: Vec<ForecastPoint> = daily
        .iter()
        .map(|(day, cost)| ForecastPoint {
            day: day.format("%Y-%m-%d").to_string(),
            cost_usd: *cost,
            is_forecast: false,
        })
        .collect();
    let Some((last_day, _)) = daily.last() else {
        return out;
    };
    if daily.len() < 2 {
        return out;
    }
    #[expect(clippy::cast_precision_loss, reason = "a few hundred points at most")]
    let n = daily.len() as f64;
    #[expect(clippy::cast_precision_loss, reason = "small indices")]
    let xs: Vec<f64> = (0..daily.len()).map(|i| i as f64).collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = daily.iter().map(|(_, c)| c).sum::<f64>() / n;
    let sxy: f64 = xs
        .iter()
        .zip(daily)
        .map(|(x, (_, y))| (x - mean_x) * (y - mean_y))
        .sum();
    let sxx: f64 = xs.iter().map(|x| (x - mean_x) * (x - mean_x)).sum();
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    let intercept = mean_y - slope * mean_x;
    for step in 1..=days.min(7) {
        #[expect(clippy::cast_precision_loss, reason = "small indices")]
        let x = (daily.len() - 1) as f64 + f64::from(step);
        let value = (intercept + slope * x).max(0.0);
        out.push(ForecastPoint {
            day: (*last_day + Duration::days(i64::from(step)))
                .format("%Y-%m-%d")
                .to_string(),
            cost_usd: (value * 1e6).round() / 1e6,
            is_forecast: true,
        });
    }
    out
}

/// New and returning people of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveUsers {
    pub bucket: String,
    pub new_users: u64,
    pub returning_users: u64,
}

/// Each person's first day with a request, from user day rollups (the window plus its look-back).
#[must_use]
pub fn first_days(user_days: &[Rollup]) -> HashMap<String, NaiveDate> {
    let mut first: HashMap<String, NaiveDate> = HashMap::new();
    for r in user_days.iter().filter(|r| r.get(REQUESTS) > 0) {
        let Some(day) = Utc.timestamp_millis_opt(r.start_ms).single() else {
            continue;
        };
        let day = day.date_naive();
        first
            .entry(r.id.clone())
            .and_modify(|d| *d = (*d).min(day))
            .or_insert(day);
    }
    first
}

/// Per bucket of the window, the people active in it: "new" in the first bucket they are active in when
/// their first-ever day (from [`first_days`]) is not before that bucket's first day, else "returning".
#[must_use]
pub fn active_users(
    window: &Window,
    users: &[&Rollup],
    first_day: &HashMap<String, NaiveDate>,
) -> Vec<ActiveUsers> {
    let mut by_bucket: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for r in users.iter().filter(|r| r.get(REQUESTS) > 0) {
        by_bucket
            .entry(window.label(r.start_ms))
            .or_default()
            .insert(&r.id);
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    window
        .labels()
        .into_iter()
        .map(|label| {
            let mut point = ActiveUsers {
                bucket: label.clone(),
                new_users: 0,
                returning_users: 0,
            };
            let bucket_day = window.label_first_day(&label);
            for id in by_bucket.get(&label).into_iter().flatten() {
                let first_here = seen.insert(id);
                let new = first_here
                    && match (first_day.get(*id), bucket_day) {
                        (Some(first), Some(day)) => *first >= day,
                        _ => true,
                    };
                if new {
                    point.new_users += 1;
                } else {
                    point.returning_users += 1;
                }
            }
            point
        })
        .collect()
}

/// One heatmap cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeatCell {
    pub hour: u32,
    /// 0 = Monday.
    pub day_of_week: u32,
    pub request_count: u64,
}

/// Requests by (UTC hour, weekday) from hour rollups; cells without requests are left out, as CCAG's GROUP BY.
#[must_use]
pub fn heatmap(hours: &[&Rollup]) -> Vec<HeatCell> {
    let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for r in hours {
        let Some(t) = Utc.timestamp_millis_opt(r.start_ms).single() else {
            continue;
        };
        let n = r.get(REQUESTS);
        if n > 0 {
            *cells
                .entry((t.weekday().num_days_from_monday(), t.hour()))
                .or_insert(0) += n;
        }
    }
    cells
        .into_iter()
        .map(|((day_of_week, hour), request_count)| HeatCell {
            hour,
            day_of_week,
            request_count,
        })
        .collect()
}

/// The server of an MCP tool name `mcp__<server>__<tool>` (CCAG's `split_part(name, '__', 2)`).
#[must_use]
pub fn mcp_server(tool: &str) -> Option<&str> {
    let rest = tool.strip_prefix("mcp__")?;
    Some(rest.split_once("__").map_or(rest, |(server, _)| server))
}

/// What cache reads saved against paying the input rate for the same tokens, per model rollups:
/// Σ cache_read × (input rate − cache-read rate). Unpriced models save nothing measurable.
#[must_use]
pub fn cache_savings_micros(by_model: &BTreeMap<String, Sums>, prices: &PriceTable) -> u64 {
    by_model
        .iter()
        .filter_map(|(model, sums)| {
            let price = prices.lookup(model)?.price;
            let per_mtok = price.input.saturating_sub(price.cache_read);
            let scaled = u128::from(sums.get(CACHE_READ_TOKENS)) * u128::from(per_mtok);
            u64::try_from((scaled + 500_000) / 1_000_000).ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::window::{Audience, WindowQuery, bucket_start_ms};
    use crate::spend::ledger::Dimension;

    fn sums(fields: &[(&str, u64)]) -> Sums {
        Sums(fields.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
    }

    #[test]
    fn cache_hit_rate_leaves_cache_writes_out() {
        let s = sums(&[
            ("input_tokens", 300),
            ("cache_read_tokens", 100),
            ("cache_write_tokens", 5_000),
        ]);
        assert!((cache_hit_rate(&s) - 25.0).abs() < 1e-9);
        assert!(
            (cache_hit_rate(&sums(&[("input_tokens", 2), ("cache_read_tokens", 1)])) - 33.3).abs()
                < 1e-9
        );
        assert!(cache_hit_rate(&Sums::default()).abs() < 1e-9);
    }

    #[test]
    fn percentiles_are_the_upper_bound_of_the_bucket_reaching_the_rank() {
        // 10 requests: 5 ≤ 250 ms, 3 in (1 s, 2 s], 1 in (5 s, 10 s], 1 over 300 s.
        let s = sums(&[
            ("lat_le_250", 5),
            ("lat_le_2000", 3),
            ("lat_le_10000", 1),
            ("lat_gt_300000", 1),
        ]);
        // p50: rank 5 → reached in the first bucket.
        assert_eq!(latency_percentile(&s, 0.5), Some(250));
        // p80: rank 8 → 5 + 3 reached at 2 000.
        assert_eq!(latency_percentile(&s, 0.8), Some(2_000));
        // p90: rank 9 → 10 000.
        assert_eq!(latency_percentile(&s, 0.9), Some(10_000));
        // p95: rank ceil(9.5) = 10 → the overflow bucket, no upper bound.
        assert_eq!(latency_percentile(&s, 0.95), None);
        assert_eq!(latency_percentile(&Sums::default(), 0.5), None);
        assert_eq!(
            latency_percentile(&sums(&[("lat_le_500", 1)]), 0.99),
            Some(500)
        );
    }

    #[test]
    fn forecast_fits_a_line_and_projects_up_to_seven_days_clamped_at_zero() {
        let d = |n: u32| NaiveDate::from_ymd_opt(2026, 11, n).expect("day");
        // y = 10 - 4x: 10, 6, 2 → projected -2, -6 clamped to 0.
        let points = forecast(&[(d(1), 10.0), (d(2), 6.0), (d(3), 2.0)], 2);
        assert_eq!(points.len(), 5);
        assert!(!points[2].is_forecast);
        assert_eq!(points[3].day, "2026-11-04");
        assert!(points[3].is_forecast);
        assert!(points[3].cost_usd.abs() < 1e-9);
        // y = 1 + 2x over 4 days, 30-day window → 7 projected, the first 1 + 2×4 = 9.
        let rising: Vec<_> = (0..4)
            .map(|i| (d(1 + i), 1.0 + 2.0 * f64::from(i)))
            .collect();
        let points = forecast(&rising, 30);
        assert_eq!(points.len(), 11);
        assert!((points[4].cost_usd - 9.0).abs() < 1e-9);
        assert!((points[10].cost_usd - 21.0).abs() < 1e-9);
        assert_eq!(forecast(&[(d(1), 5.0)], 30).len(), 1);
    }

    fn user_rollup(id: &str, bucket: &str, requests: u64) -> Rollup {
        Rollup {
            dimension: Dimension::User,
            id: id.to_owned(),
            start_ms: bucket_start_ms(bucket).expect("bucket"),
            values: [("requests".to_owned(), requests)].into_iter().collect(),
        }
    }

    #[test]
    fn people_are_new_in_the_bucket_of_their_first_day_and_returning_after() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
            .single()
            .expect("now");
        let query = WindowQuery {
            days: Some(3),
            granularity: Some("day".into()),
            ..WindowQuery::default()
        };
        let window = Window::resolve(&query, Audience::Org, now).expect("window");
        // Ann first came on the 1st (look-back), Bo on the 21st, Cy on the 22nd.
        let history = vec![
            user_rollup("ann", "2026-11-01", 1),
            user_rollup("ann", "2026-11-20", 2),
            user_rollup("ann", "2026-11-21", 1),
            user_rollup("bo", "2026-11-21", 3),
            user_rollup("bo", "2026-11-22", 1),
            user_rollup("cy", "2026-11-22", 1),
        ];
        let first = first_days(&history);
        let in_window: Vec<&Rollup> = history[1..].iter().collect();
        let points = active_users(&window, &in_window, &first);
        let as_tuples: Vec<_> = points
            .iter()
            .map(|p| (p.bucket.as_str(), p.new_users, p.returning_users))
            .collect();
        assert_eq!(
            as_tuples,
            vec![
                ("2026-11-20", 0, 1),
                ("2026-11-21", 1, 1),
                ("2026-11-22", 1, 1)
            ]
        );
    }

    #[test]
    fn heatmap_counts_requests_by_utc_hour_and_weekday_from_monday() {
        let mut a = user_rollup("m", "2026-11-22T09", 3); // Sunday
        a.dimension = Dimension::Model;
        let b = user_rollup("m", "2026-11-16T09", 2); // Monday
        let c = user_rollup("n", "2026-11-22T09", 1);
        let cells = heatmap(&[&a, &b, &c]);
        assert_eq!(
            cells,
            vec![
                HeatCell {
                    hour: 9,
                    day_of_week: 0,
                    request_count: 2
                },
                HeatCell {
                    hour: 9,
                    day_of_week: 6,
                    request_count: 4
                },
            ]
        );
    }

    #[test]
    fn mcp_server_is_the_second_double_underscore_part() {
        assert_eq!(mcp_server("mcp__github__create_issue"), Some("github"));
        assert_eq!(mcp_server("mcp__solo"), Some("solo"));
        assert_eq!(mcp_server("Bash"), None);
    }

    #[test]
    fn cache_savings_price_reads_at_input_minus_cache_read_rate() {
        let mut by_model = BTreeMap::new();
        // Sonnet 4.5: $3 input, $0.30 cache read → $2.70 per MTok read from cache.
        by_model.insert(
            "claude-sonnet-4-5".to_owned(),
            sums(&[("cache_read_tokens", 1_000_000)]),
        );
        by_model.insert(
            "mystery-model".to_owned(),
            sums(&[("cache_read_tokens", 1_000_000)]),
        );
        assert_eq!(
            cache_savings_micros(&by_model, &PriceTable::seeded()),
            2_700_000
        );
    }
}
