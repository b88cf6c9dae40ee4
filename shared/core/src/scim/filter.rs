//! The SCIM filter subset identity providers send when they look a resource up before creating it (RFC 7644
//! §3.4.2.2): `attr op value` clauses joined by `and`, with `eq`, `co` (contains) and `sw` (starts with); values
//! are quoted strings (with `\"` escapes), `true`, `false` or `null`. Attribute names are case-insensitive;
//! `emails[type eq "work"].value` and `emails.value` both name the person's email.

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Contains,
    StartsWith,
}

/// A clause's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Null,
}

/// `attr op value`, the attribute lower-cased (`username`, `externalid`, `name.givenname`, `emails.value`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub attr: String,
    pub op: Op,
    pub value: Value,
}

/// All clauses must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter(pub Vec<Clause>);

/// Why a filter is outside the subset (answered 400 `invalidFilter`, the message as its detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("a filter ends inside an escape")]
    EscapeAtEnd,
    #[error("a filter has an unclosed quote")]
    UnclosedQuote,
    #[error("unsupported filter {0:?}: expected attr eq \"value\"")]
    NotAClause(String),
    #[error("unsupported filter operator {0:?} (eq, co, sw)")]
    Operator(String),
    #[error("unsupported filter value {0}: quote strings")]
    UnquotedValue(String),
    #[error("unsupported filter {0:?}: only `and` joins clauses")]
    Join(String),
}

/// An attribute path as Sluice names it: lower case, and any `emails[…].value` form as `emails.value`.
fn normalise(attr: &str) -> String {
    let lower = attr.to_ascii_lowercase();
    let lower = lower
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
        .or_else(|| lower.strip_prefix("urn:ietf:params:scim:schemas:core:2.0:group:"))
        .map_or(lower.clone(), str::to_owned);
    if lower.starts_with("emails") {
        return "emails.value".into();
    }
    lower
}

/// Splits `raw` into words and quoted strings; brackets stay inside words (`emails[type eq "work"].value`).
fn tokens(raw: &str) -> Result<Vec<(String, bool)>, FilterError> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(escaped) => text.push(escaped),
                        None => return Err(FilterError::EscapeAtEnd),
                    },
                    Some('"') => break,
                    Some(other) => text.push(other),
                    None => return Err(FilterError::UnclosedQuote),
                }
            }
            out.push((text, true));
        } else {
            let mut word = String::new();
            let mut depth = 0_u32;
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() && depth == 0 {
                    break;
                }
                match c {
                    '[' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                word.push(c);
                chars.next();
            }
            out.push((word, false));
        }
    }
    Ok(out)
}

/// Parses a filter; `Err` with a reason for anything outside the subset (answer 400 `invalidFilter`).
///
/// # Errors
/// Anything but `attr op value [and attr op value]…`.
pub fn parse(raw: &str) -> Result<Filter, FilterError> {
    let words = tokens(raw)?;
    let mut clauses = Vec::new();
    let mut rest = words.as_slice();
    loop {
        let [(attr, false), (op, false), (value, quoted), tail @ ..] = rest else {
            return Err(FilterError::NotAClause(raw.to_owned()));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "co" => Op::Contains,
            "sw" => Op::StartsWith,
            other => {
                return Err(FilterError::Operator(other.to_owned()));
            }
        };
        let value = if *quoted {
            Value::Text(value.clone())
        } else {
            match value.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => return Err(FilterError::UnquotedValue(value.clone())),
            }
        };
        clauses.push(Clause {
            attr: normalise(attr),
            op,
            value,
        });
        match tail {
            [] => return Ok(Filter(clauses)),
            [(and, false), more @ ..] if and.eq_ignore_ascii_case("and") => rest = more,
            _ => {
                return Err(FilterError::Join(raw.to_owned()));
            }
        }
    }
}

impl Clause {
    /// Whether `found` (the attribute's value on a resource; `None` when unset) satisfies the clause. Text is
    /// compared case-insensitively: the attributes Sluice filters on (userName, emails, displayName,
    /// externalId) are matched as identity providers expect.
    #[must_use]
    pub fn holds_text(&self, found: Option<&str>) -> bool {
        match (&self.value, found) {
            (Value::Null, found) => found.is_none() && self.op == Op::Eq,
            (Value::Text(want), Some(have)) => {
                let (want, have) = (want.to_lowercase(), have.to_lowercase());
                match self.op {
                    Op::Eq => have == want,
                    Op::Contains => have.contains(&want),
                    Op::StartsWith => have.starts_with(&want),
                }
            }
            _ => false,
        }
    }

    #[must_use]
    pub fn holds_bool(&self, found: bool) -> bool {
        self.op == Op::Eq && self.value == Value::Bool(found)
    }
}

impl Filter {
    /// Whether every clause holds, `lookup` giving a text attribute's value and `flag` a boolean one (`None`:
    /// the resource has no such attribute, so the clause fails).
    pub fn matches(
        &self,
        lookup: impl Fn(&str) -> Option<Option<String>>,
        flag: impl Fn(&str) -> Option<bool>,
    ) -> bool {
        self.0.iter().all(|c| match &c.value {
            Value::Bool(_) => flag(&c.attr).is_some_and(|b| c.holds_bool(b)),
            _ => lookup(&c.attr).is_some_and(|v| c.holds_text(v.as_deref())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_entra_okta_and_others_send() {
        assert_eq!(
            parse(r#"userName eq "Ann@Example.com""#).expect("ok"),
            Filter(vec![Clause {
                attr: "username".into(),
                op: Op::Eq,
                value: Value::Text("Ann@Example.com".into())
            }])
        );
        let f =
            parse(r#"emails[type eq "work"].value eq "a@x.io" and active eq True"#).expect("ok");
        assert_eq!(f.0.len(), 2);
        assert_eq!(f.0[0].attr, "emails.value");
        assert_eq!(f.0[1].value, Value::Bool(true));
        let f = parse(r#"displayName sw "Eng \"core\"""#).expect("ok");
        assert_eq!(f.0[0].value, Value::Text("Eng \"core\"".into()));
        assert_eq!(
            parse("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"")
                .expect("ok")
                .0[0]
                .attr,
            "username"
        );
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        for bad in [
            "",
            "userName",
            r#"userName gt "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"userName eq "a"#,
            "userName eq bare",
            r#"(userName eq "a")"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clauses_compare_text_without_case_and_flags_exactly() {
        let f = parse(r#"userName eq "ANN@example.com" and active eq false"#).expect("ok");
        let text = |attr: &str| (attr == "username").then(|| Some("ann@example.com".to_owned()));
        assert!(f.matches(text, |a| (a == "active").then_some(false)));
        assert!(!f.matches(text, |a| (a == "active").then_some(true)));
        let co = parse(r#"displayName co "ops""#).expect("ok");
        assert!(co.matches(|_| Some(Some("Night Ops".into())), |_| None));
        assert!(!co.matches(|_| Some(None), |_| None));
        assert!(
            !parse(r#"externalId eq "x""#)
                .expect("ok")
                .matches(|_| None, |_| None)
        );
    }
}
