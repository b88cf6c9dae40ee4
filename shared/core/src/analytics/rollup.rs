//! Rollup counters as analytics reads them: parsed keys, field sums, names for ids, and the filters.
//!
//! A rollup is grouped by one dimension only (key, user, team or model), so a filter can narrow only the
//! rollups that carry what it names: a model filter narrows model rollups; a user filter narrows user
//! rollups; a team filter narrows team rollups and user rollups (through each person's current team, as
//! CCAG joins spend to teams). Every answer lists the filters a view could not apply in `unapplied_filters`.

use std::collections::{BTreeMap, HashMap};

use crate::identity::{Team, User};
use crate::spend::ledger::{
    CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, COST, Counter, DURATION_SUM, Dimension, INPUT_TOKENS,
    OUTPUT_TOKENS, REQUESTS, STREAMED, THINKING, TOOL_PREFIX, UNPRICED_REQUESTS,
};
use crate::spend::money::MICROS_PER_USD;

use super::window::bucket_start_ms;

/// The team filter value and series name for spend without a team.
pub const NO_TEAM: &str = "__none__";

/// One rollup counter, its key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    pub dimension: Dimension,
    /// The key, user, team or model id.
    pub id: String,
    /// Start of its hour or day (Unix ms).
    pub start_ms: i64,
    pub values: BTreeMap<String, u64>,
}

impl Rollup {
    /// Reads `rollup#<h|d>#<dimension>#<id>#<bucket>`; `None` for any other counter.
    #[must_use]
    pub fn parse(counter: Counter) -> Option<Self> {
        let rest = counter.key.strip_prefix("rollup#")?;
        let (_granularity, rest) = rest.split_once('#')?;
        let (dimension, rest) = rest.split_once('#')?;
        let (id, bucket) = rest.rsplit_once('#')?;
        let dimension = match dimension {
            "key" => Dimension::Key,
            "user" => Dimension::User,
            "team" => Dimension::Team,
            "model" => Dimension::Model,
            "person_model" => Dimension::PersonModel,
            _ => return None,
        };
        Some(Self {
            dimension,
            id: id.to_owned(),
            start_ms: bucket_start_ms(bucket)?,
            values: counter.values,
        })
    }

    #[must_use]
    pub fn get(&self, field: &str) -> u64 {
        self.values.get(field).copied().unwrap_or(0)
    }

    /// The person and the model of a person × model rollup.
    #[must_use]
    pub fn person_model(&self) -> Option<(&str, &str)> {
        (self.dimension == Dimension::PersonModel)
            .then(|| self.id.split_once('#'))
            .flatten()
    }
}

/// Field sums over any number of rollups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums(pub BTreeMap<String, u64>);

impl Sums {
    pub fn add(&mut self, values: &BTreeMap<String, u64>) {
        for (field, value) in values {
            let slot = self.0.entry(field.clone()).or_insert(0);
            *slot = slot.saturating_add(*value);
        }
    }

    #[must_use]
    pub fn of<'a>(rollups: impl IntoIterator<Item = &'a Rollup>) -> Self {
        let mut sums = Self::default();
        for r in rollups {
            sums.add(&r.values);
        }
        sums
    }

    #[must_use]
    pub fn get(&self, field: &str) -> u64 {
        self.0.get(field).copied().unwrap_or(0)
    }

    #[must_use]
    pub fn requests(&self) -> u64 {
        self.get(REQUESTS)
    }

    #[must_use]
    pub fn cost_usd(&self) -> f64 {
        usd(self.get(COST))
    }

    #[must_use]
    pub fn unpriced(&self) -> u64 {
        self.get(UNPRICED_REQUESTS)
    }

    #[must_use]
    pub fn tokens(&self) -> u64 {
        [
            INPUT_TOKENS,
            OUTPUT_TOKENS,
            CACHE_READ_TOKENS,
            CACHE_WRITE_TOKENS,
        ]
        .iter()
        .map(|f| self.get(f))
        .sum()
    }

    /// Mean request duration, 0 without requests.
    #[must_use]
    pub fn avg_duration_ms(&self) -> f64 {
        ratio(self.get(DURATION_SUM), self.requests())
    }

    #[must_use]
    pub fn streamed(&self) -> u64 {
        self.get(STREAMED)
    }

    #[must_use]
    pub fn thinking(&self) -> u64 {
        self.get(THINKING)
    }

    /// Tool name → calls.
    #[must_use]
    pub fn tools(&self) -> BTreeMap<&str, u64> {
        self.0
            .iter()
            .filter_map(|(field, n)| Some((field.strip_prefix(TOOL_PREFIX)?, *n)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    #[must_use]
    pub fn tool_calls(&self) -> u64 {
        self.tools().values().sum()
    }
}

/// Micro-dollars as a USD number for JSON.
#[must_use]
#[expect(
    clippy::cast_precision_loss,
    reason = "display only; exact amounts stay in micros"
)]
pub fn usd(micros: u64) -> f64 {
    micros as f64 / MICROS_PER_USD as f64
}

/// `num / den` rounded to one decimal, 0 when `den` is 0.
#[must_use]
#[expect(clippy::cast_precision_loss, reason = "averages for display")]
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        return 0.0;
    }
    round1(num as f64 / den as f64)
}

#[must_use]
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Names for ids: people by email (and their current team), teams by name.
#[derive(Debug, Clone, Default)]
pub struct People {
    users: HashMap<String, (String, Option<String>)>,
    teams: HashMap<String, String>,
}

impl People {
    #[must_use]
    pub fn new(users: &[User], teams: &[Team]) -> Self {
        Self {
            users: users
                .iter()
                .map(|u| (u.id.clone(), (u.email.clone(), u.team_id.clone())))
                .collect(),
            teams: teams
                .iter()
                .map(|t| (t.id.clone(), t.name.clone()))
                .collect(),
        }
    }

    /// The person's email, else the id (a person removed since).
    #[must_use]
    pub fn email<'a>(&'a self, user_id: &'a str) -> &'a str {
        self.users.get(user_id).map_or(user_id, |(e, _)| e.as_str())
    }

    /// The person's current team id.
    #[must_use]
    pub fn team_of(&self, user_id: &str) -> Option<&str> {
        self.users.get(user_id).and_then(|(_, t)| t.as_deref())
    }

    /// The team's name, else the id.
    #[must_use]
    pub fn team_name<'a>(&'a self, team_id: &'a str) -> &'a str {
        self.teams.get(team_id).map_or(team_id, String::as_str)
    }
}

/// The multi-select filters (comma-separated in the query).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Team names, or [`NO_TEAM`].
    pub teams: Vec<String>,
    /// Emails (or user ids).
    pub users: Vec<String>,
    pub models: Vec<String>,
    /// Endpoint names: Sluice has no endpoint registry, so never applied.
    pub endpoints: Vec<String>,
}

/// Splits `a,b, c` into its non-empty parts.
#[must_use]
pub fn split_list(raw: Option<&str>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl Filters {
    /// Whether people-based filters are set (then totals come from user rollups).
    #[must_use]
    pub fn on_people(&self) -> bool {
        !self.teams.is_empty() || !self.users.is_empty()
    }

    /// The dimension whose rollups answer totals: user rollups when a person or team filter is set (they can
    /// apply both), else model rollups (which every record has, with or without a person).
    #[must_use]
    pub fn primary(&self) -> Dimension {
        if self.on_people() {
            Dimension::User
        } else {
            Dimension::Model
        }
    }

    fn team_matches(&self, team_id: Option<&str>, people: &People) -> bool {
        self.teams.is_empty()
            || self.teams.iter().any(|want| match team_id {
                None => want == NO_TEAM,
                Some(id) => want == people.team_name(id) || want == id,
            })
    }

    /// Whether the person (by email or id) passes the user and team filters.
    fn person_matches(&self, user_id: &str, people: &People) -> bool {
        let user_ok = self.users.is_empty()
            || self
                .users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(people.email(user_id)) || u == user_id);
        user_ok && self.team_matches(people.team_of(user_id), people)
    }

    fn model_matches(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// Whether the filters that can narrow this rollup's dimension keep it.
    #[must_use]
    pub fn keeps(&self, rollup: &Rollup, people: &People) -> bool {
        match rollup.dimension {
            Dimension::Model => self.model_matches(&rollup.id),
            Dimension::User => self.person_matches(&rollup.id, people),
            Dimension::Team => self.team_matches(Some(&rollup.id), people),
            Dimension::PersonModel => rollup.person_model().is_some_and(|(user, model)| {
                self.person_matches(user, people) && self.model_matches(model)
            }),
            Dimension::Key => true,
        }
    }

    /// Whether the "no team" remainder series is kept.
    #[must_use]
    pub fn keeps_no_team(&self) -> bool {
        self.teams.is_empty() || self.teams.iter().any(|t| t == NO_TEAM)
    }

    /// The rollups these filters keep.
    #[must_use]
    pub fn apply<'a>(&self, rollups: &'a [Rollup], people: &People) -> Vec<&'a Rollup> {
        rollups.iter().filter(|r| self.keeps(r, people)).collect()
    }

    /// `"<filter> filter not applied to <view> (<dimension> rollups)"` for each set filter a view's rollups
    /// cannot carry.
    #[must_use]
    pub fn unapplied(&self, views: &[(&str, Dimension)]) -> Vec<String> {
        let mut notes = Vec::new();
        for (view, dimension) in views {
            let set = [
                (
                    "team",
                    !self.teams.is_empty(),
                    matches!(
                        dimension,
                        Dimension::User | Dimension::Team | Dimension::PersonModel
                    ),
                ),
                (
                    "user",
                    !self.users.is_empty(),
                    matches!(dimension, Dimension::User | Dimension::PersonModel),
                ),
                (
                    "model",
                    !self.models.is_empty(),
                    matches!(dimension, Dimension::Model | Dimension::PersonModel),
                ),
                ("endpoint", !self.endpoints.is_empty(), false),
            ];
            for (filter, is_set, applies) in set {
                if is_set && !applies {
                    notes.push(format!(
                        "{filter} filter not applied to {view} ({} rollups)",
                        dimension.as_str()
                    ));
                }
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{PersonGroups, Role};

    fn counter(key: &str, fields: &[(&str, u64)]) -> Counter {
        Counter {
            key: key.to_owned(),
            family: String::new(),
            values: fields.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    fn people() -> People {
        let user = |id: &str, email: &str, team: Option<&str>| User {
            id: id.into(),
            email: email.into(),
            role: Role::Member,
            team_id: team.map(str::to_owned),
            active: true,
            idp: "local".into(),
            created_at_ms: 0,
            groups: PersonGroups::default(),
        };
        let team = Team {
            id: "t1".into(),
            name: "Research".into(),
            created_at_ms: 0,
        };
        People::new(
            &[
                user("u1", "ada@x.io", Some("t1")),
                user("u2", "bo@x.io", None),
            ],
            &[team],
        )
    }

    #[test]
    fn parses_rollup_keys_including_ids_with_separators() {
        let r = Rollup::parse(counter(
            "rollup#h#model#claude-sonnet-4-5#2026-11-22T09",
            &[("requests", 2)],
        ))
        .expect("rollup");
        assert_eq!(r.dimension, Dimension::Model);
        assert_eq!(r.id, "claude-sonnet-4-5");
        assert_eq!(r.start_ms, 1_795_338_000_000);
        assert_eq!(r.get("requests"), 2);
        let d = Rollup::parse(counter("rollup#d#user#a#b#2026-11-22", &[])).expect("rollup");
        assert_eq!(d.id, "a#b");
        assert!(Rollup::parse(counter("spend#user#u1#d2026-11-22", &[])).is_none());
    }

    #[test]
    fn sums_add_fields_and_split_out_tools() {
        let a = Rollup::parse(counter(
            "rollup#d#model#m#2026-11-22",
            &[
                ("requests", 2),
                ("cost_micros", 1_500_000),
                ("duration_ms_sum", 3_001),
                ("tool.Bash", 2),
            ],
        ))
        .expect("a");
        let b = Rollup::parse(counter(
            "rollup#d#model#m#2026-11-23",
            &[
                ("requests", 1),
                ("input_tokens", 7),
                ("tool.Bash", 1),
                ("tool.Read", 1),
            ],
        ))
        .expect("b");
        let sums = Sums::of([&a, &b]);
        assert_eq!(sums.requests(), 3);
        assert!((sums.cost_usd() - 1.5).abs() < 1e-9);
        assert!((sums.avg_duration_ms() - 1000.3).abs() < 1e-9);
        assert_eq!(sums.tokens(), 7);
        assert_eq!(sums.tools().get("Bash"), Some(&3));
        assert_eq!(sums.tool_calls(), 4);
    }

    #[test]
    fn filters_narrow_only_the_dimensions_they_name() {
        let people = people();
        let user = |id: &str| {
            Rollup::parse(counter(&format!("rollup#d#user#{id}#2026-11-22"), &[])).expect("u")
        };
        let team = Rollup::parse(counter("rollup#d#team#t1#2026-11-22", &[])).expect("t");
        let model = Rollup::parse(counter("rollup#d#model#m1#2026-11-22", &[])).expect("m");
        let by_team = Filters {
            teams: vec!["Research".into()],
            ..Filters::default()
        };
        assert!(by_team.keeps(&user("u1"), &people));
        assert!(!by_team.keeps(&user("u2"), &people));
        assert!(by_team.keeps(&team, &people));
        assert!(
            by_team.keeps(&model, &people),
            "model rollups carry no team"
        );
        assert!(!by_team.keeps_no_team());
        let none = Filters {
            teams: vec![NO_TEAM.into()],
            ..Filters::default()
        };
        assert!(none.keeps(&user("u2"), &people));
        assert!(!none.keeps(&team, &people));
        let by_user = Filters {
            users: vec!["ADA@x.io".into()],
            models: vec!["m2".into()],
            ..Filters::default()
        };
        assert!(by_user.keeps(&user("u1"), &people));
        assert!(!by_user.keeps(&model, &people));
        assert_eq!(by_user.primary(), Dimension::User);
        assert_eq!(
            by_user.unapplied(&[("by_model", Dimension::Model), ("by_user", Dimension::User)]),
            vec![
                "user filter not applied to by_model (model rollups)".to_owned(),
                "model filter not applied to by_user (user rollups)".to_owned(),
            ]
        );
        assert_eq!(split_list(Some("a, b,,c ")), vec!["a", "b", "c"]);
    }
}
