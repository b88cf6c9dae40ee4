//! The usage ledger as CSV: the one writer behind every export of raw usage (the daily S3 files of
//! `functions/export`, `sluice export`, and the admin API's CSV downloads), so finance sees one format.
//!
//! Format: a header row ([`COLUMNS`]), then one row per usage record; RFC 4180 quoting (by the `csv` crate:
//! a field is quoted only when it holds a comma, a quote or a line break); times in UTC RFC 3339 with
//! milliseconds (`2026-11-03T10:15:00.123Z`); cost in USD with 6 decimals from the exact micro-dollars (an
//! unpriced model leaves it empty, which is not the same as free); people by email and teams by name, falling
//! back to the stored id when the person or team no longer exists, so no row loses its attribution.
//!
//! Every text cell (ids, emails, team names, models, region) goes through [`neutralise`] (the OWASP CSV
//! injection rule): a name such as `=HYPERLINK("http://x","y")` is shown by a spreadsheet, never run. The numbers
//! Sluice formats itself (times, tokens, cost, durations, counts) are written as they are.
//!
//! The day helpers ([`day_bounds`], [`object_key`]) fix the partition layout `spend/dt=YYYY-MM-DD/spend.csv`
//! the Glue table in `template.yaml` reads.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;

use chrono::{DateTime, NaiveDate, SecondsFormat};

use super::money::MICROS_PER_USD;
use super::usage::{Outcome, UsageRecord};
use crate::identity::{Team, User};

/// The header row, in column order. The Glue table in `template.yaml` declares the same columns.
pub const COLUMNS: [&str; 16] = [
    "request_id",
    "time",
    "user",
    "team",
    "key_id",
    "requested_model",
    "bedrock_model_id",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "duration_ms",
    "outcome",
    "tool_count",
    "region",
];

const MS_PER_DAY: i64 = 86_400_000;

/// Names for the ids a usage record carries: user id → email, team id → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    emails: HashMap<String, String>,
    teams: HashMap<String, String>,
}

impl Directory {
    #[must_use]
    pub fn new(users: &[User], teams: &[Team]) -> Self {
        Self {
            emails: users
                .iter()
                .map(|u| (u.id.clone(), u.email.clone()))
                .collect(),
            teams: teams
                .iter()
                .map(|t| (t.id.clone(), t.name.clone()))
                .collect(),
        }
    }

    /// The person's email, else the id itself (a person removed since), else empty.
    #[must_use]
    pub fn user<'a>(&'a self, user_id: Option<&'a str>) -> &'a str {
        user_id.map_or("", |id| self.emails.get(id).map_or(id, String::as_str))
    }

    /// The team's name, else the id itself, else empty.
    #[must_use]
    pub fn team<'a>(&'a self, team_id: Option<&'a str>) -> &'a str {
        team_id.map_or("", |id| self.teams.get(id).map_or(id, String::as_str))
    }
}

/// The characters a spreadsheet reads as the start of a formula (or strips before looking for one), per OWASP.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell that a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@`, tab or carriage return gets
/// a leading `'` (OWASP's CSV injection rule; Excel and LibreOffice hide the quote and show the rest), any other
/// is unchanged.
///
/// For cells that carry text someone typed or sent (team names, emails, key names, model names): a team named
/// `=HYPERLINK("http://x","y")` would otherwise be a live link in finance's spreadsheet. Not for the numbers
/// Sluice formats itself: a negative amount stays `-1.50`, a number, because no one else chose its first
/// character. Applying it twice changes nothing more (the first character is then `'`).
#[must_use]
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn text_cell(text: &str) -> String {
    neutralise(text).into_owned()
}

/// One record as the fields of a row, in [`COLUMNS`] order; the text cells [`neutralise`]d.
#[must_use]
pub fn row(record: &UsageRecord, names: &Directory) -> [String; 16] {
    [
        text_cell(&record.request_id),
        format_time(record.time_ms),
        text_cell(names.user(record.user_id.as_deref())),
        text_cell(names.team(record.team_id.as_deref())),
        text_cell(&record.key_id),
        text_cell(&record.requested_model),
        text_cell(&record.bedrock_model_id),
        record.input_tokens.to_string(),
        record.output_tokens.to_string(),
        record.cache_read_tokens.to_string(),
        record.cache_write_tokens.to_string(),
        record.cost_micros.map(format_cost).unwrap_or_default(),
        record.duration_ms.to_string(),
        outcome_name(record.outcome).to_owned(),
        record.tool_names.len().to_string(),
        text_cell(record.region.as_deref().unwrap_or_default()),
    ]
}

/// UTC RFC 3339 with milliseconds; a time outside chrono's range (never written by the gateway) as the raw number.
#[must_use]
pub fn format_time(time_ms: i64) -> String {
    DateTime::from_timestamp_millis(time_ms).map_or_else(
        || time_ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// Micro-dollars as USD with exactly 6 decimals (`0.012345`), no rounding.
#[must_use]
pub fn format_cost(micros: u64) -> String {
    format!("{}.{:06}", micros / MICROS_PER_USD, micros % MICROS_PER_USD)
}

/// The outcome as stored (`complete`, `client_disconnected`, `upstream_error`, `error_before_stream`).
#[must_use]
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::ClientDisconnected => "client_disconnected",
        Outcome::UpstreamError => "upstream_error",
        Outcome::ErrorBeforeStream => "error_before_stream",
        Outcome::PolicyRefused => "policy_refused",
    }
}

/// Writes ledger rows as CSV to any `io::Write`, counting them.
///
/// To stream one export in chunks (an HTTP body), write a chunk into a `Vec<u8>` with [`LedgerCsv::new`], take
/// it with [`LedgerCsv::finish`], and continue with [`LedgerCsv::without_header`] on a fresh buffer.
pub struct LedgerCsv<W: io::Write> {
    inner: csv::Writer<W>,
    rows: u64,
}

impl<W: io::Write> LedgerCsv<W> {
    /// A writer that has written the header row.
    ///
    /// # Errors
    /// The sink's write error.
    pub fn new(sink: W) -> io::Result<Self> {
        let mut writer = Self::without_header(sink);
        writer.inner.write_record(COLUMNS)?;
        Ok(writer)
    }

    /// A writer continuing an export whose header is already out.
    pub fn without_header(sink: W) -> Self {
        Self {
            inner: csv::WriterBuilder::new()
                // `\n`, not the crate's default `\r\n`: what Athena, spreadsheets and `wc -l` all read alike.
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(sink),
            rows: 0,
        }
    }

    /// Appends one record.
    ///
    /// # Errors
    /// The sink's write error.
    pub fn write(&mut self, record: &UsageRecord, names: &Directory) -> io::Result<()> {
        self.inner.write_record(row(record, names))?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far (the header not counted).
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and hands the sink back.
    ///
    /// # Errors
    /// The sink's write or flush error.
    pub fn finish(self) -> io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| io::Error::other(e.error().to_string()))
    }
}

/// The UTC day as `[from_ms, to_ms)`, the range `UsageStore::usage_between` takes.
#[must_use]
pub fn day_bounds(day: NaiveDate) -> (i64, i64) {
    let start = day
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    (start, start + MS_PER_DAY)
}

/// Where a day's export lives, under the export root (bucket or folder): `spend/dt=YYYY-MM-DD/spend.csv`.
#[must_use]
pub fn object_key(day: NaiveDate) -> String {
    format!("spend/dt={}/spend.csv", day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{PersonGroups, Role};

    fn record() -> UsageRecord {
        UsageRecord {
            request_id: "req_01".to_owned(),
            time_ms: 1_793_700_900_123,
            key_id: "key_a".to_owned(),
            user_id: Some("usr_ada".to_owned()),
            team_id: Some("team_x".to_owned()),
            requested_model: "claude-sonnet-4-5-20250929".to_owned(),
            bedrock_model_id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".to_owned(),
            stream: true,
            input_tokens: 1000,
            output_tokens: 500,
            cache_read_tokens: 2000,
            cache_write_tokens: 500,
            cache_write_5m_tokens: None,
            cache_write_1h_tokens: None,
            stop_reason: Some("end_turn".to_owned()),
            duration_ms: 1200,
            ttfb_ms: Some(300),
            invocation_metrics: None,
            tool_names: vec!["Read".to_owned(), "Bash".to_owned()],
            thinking: false,
            session_id: None,
            endpoint: None,
            region: Some("us-east-1".to_owned()),
            outcome: Outcome::Complete,
            cost_micros: Some(12_345_678),
            policy_refusal: None,
        }
    }

    fn names() -> Directory {
        let user = User {
            id: "usr_ada".to_owned(),
            email: "ada@example.com".to_owned(),
            role: Role::Member,
            team_id: Some("team_x".to_owned()),
            active: true,
            idp: "local".to_owned(),
            created_at_ms: 0,
            groups: PersonGroups::default(),
        };
        let team = Team {
            id: "team_x".to_owned(),
            name: "Research, \"Core\"".to_owned(),
            created_at_ms: 0,
        };
        Directory::new(&[user], &[team])
    }

    fn csv_of(records: &[UsageRecord]) -> String {
        let mut writer = LedgerCsv::new(Vec::new()).expect("header");
        for r in records {
            writer.write(r, &names()).expect("row");
        }
        String::from_utf8(writer.finish().expect("finish")).expect("utf8")
    }

    #[test]
    fn writes_header_and_one_row_with_names_utc_time_and_six_decimal_cost() {
        let text = csv_of(&[record()]);
        assert_eq!(
            text,
            "request_id,time,user,team,key_id,requested_model,bedrock_model_id,input_tokens,output_tokens,\
             cache_read_tokens,cache_write_tokens,cost_usd,duration_ms,outcome,tool_count,region\n\
             req_01,2026-11-03T10:15:00.123Z,ada@example.com,\"Research, \"\"Core\"\"\",key_a,\
             claude-sonnet-4-5-20250929,us.anthropic.claude-sonnet-4-5-20250929-v1:0,1000,500,2000,500,\
             12.345678,1200,complete,2,us-east-1\n"
        );
    }

    #[test]
    fn unpriced_cost_and_missing_people_are_empty_and_unknown_ids_are_kept() {
        let mut r = record();
        r.cost_micros = None;
        r.user_id = None;
        r.team_id = Some("team_gone".to_owned());
        r.region = None;
        r.outcome = Outcome::ClientDisconnected;
        let fields = row(&r, &names());
        assert_eq!(fields[2], "");
        assert_eq!(fields[3], "team_gone");
        assert_eq!(fields[11], "", "unpriced is empty, not 0");
        assert_eq!(fields[13], "client_disconnected");
        assert_eq!(fields[15], "");
    }

    #[test]
    fn cost_keeps_every_micro_dollar() {
        assert_eq!(format_cost(0), "0.000000");
        assert_eq!(format_cost(1), "0.000001");
        assert_eq!(format_cost(1_000_000), "1.000000");
        assert_eq!(format_cost(u64::MAX), "18446744073709.551615");
    }

    #[test]
    fn output_parses_back_with_a_csv_reader() {
        let mut tricky = record();
        tricky.request_id = "req_02".to_owned();
        tricky.requested_model = "model,with \"quotes\"".to_owned();
        let text = csv_of(&[record(), tricky]);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().expect("header").iter().collect::<Vec<_>>(),
            COLUMNS
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[1][5], "model,with \"quotes\"");
        assert_eq!(&rows[0][3], "Research, \"Core\"");
    }

    /// The names an attacker would give a team, person, key or model to run a formula in finance's spreadsheet.
    const HOSTILE: [&str; 6] = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\tX",
        "\rX",
    ];

    #[test]
    fn cells_that_start_a_formula_get_a_leading_quote_and_others_stay() {
        for text in HOSTILE {
            assert_eq!(neutralise(text), format!("'{text}"), "{text:?}");
        }
        for text in [
            "",
            "ada@example.com",
            "Research",
            "claude-opus-4-8",
            "a=b",
            "1-2",
            "'=x",
        ] {
            assert!(
                matches!(neutralise(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
        assert_eq!(neutralise(&neutralise("=1+1")), "'=1+1", "idempotent");
    }

    #[test]
    fn hostile_names_in_every_text_column_come_out_neutralised_and_numbers_do_not() {
        for hostile in HOSTILE {
            let mut r = record();
            r.request_id = hostile.to_owned();
            r.key_id = hostile.to_owned();
            r.requested_model = hostile.to_owned();
            r.bedrock_model_id = hostile.to_owned();
            r.region = Some(hostile.to_owned());
            r.team_id = Some("team_x".to_owned());
            let team = Team {
                id: "team_x".to_owned(),
                name: hostile.to_owned(),
                created_at_ms: 0,
            };
            let user = User {
                id: "usr_ada".to_owned(),
                email: hostile.to_owned(),
                role: Role::Member,
                team_id: None,
                active: true,
                idp: "local".to_owned(),
                created_at_ms: 0,
                groups: PersonGroups::default(),
            };
            let names = Directory::new(&[user], &[team]);
            let mut writer = LedgerCsv::new(Vec::new()).expect("header");
            writer.write(&r, &names).expect("row");
            let text = String::from_utf8(writer.finish().expect("finish")).expect("utf8");
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
            let expected = format!("'{hostile}");
            for column in [0, 2, 3, 4, 5, 6, 15] {
                assert_eq!(
                    &rows[0][column], expected,
                    "{} of {hostile:?}",
                    COLUMNS[column]
                );
            }
            assert_eq!(&rows[0][11], "12.345678");
            assert_eq!(&rows[0][7], "1000");
        }
    }

    #[test]
    fn an_empty_export_is_the_header_alone() {
        let text = csv_of(&[]);
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("request_id,time,"));
    }

    #[test]
    fn day_bounds_and_key_follow_the_utc_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 3).expect("date");
        let (from, to) = day_bounds(day);
        assert_eq!(format_time(from), "2026-11-03T00:00:00.000Z");
        assert_eq!(to - from, 86_400_000);
        assert_eq!(object_key(day), "spend/dt=2026-11-03/spend.csv");
    }
}
