//! `template.yaml` as the tests read it: each function's inline policy statements, with the intrinsic
//! functions (`!Ref`, `!GetAtt`, `!Sub`, `!If`, `!Join`, conditions) resolved against the resources a test
//! made, so a test can give an IAM user exactly what the template gives the function.
//!
//! Both spellings of an intrinsic are read: the short tags (`!GetAtt Table.Arn`, which serde_yaml keeps as a
//! tagged value) and the long form (`{"Fn::GetAtt": [...]}`). A reference the test did not bind is an error
//! naming it, so a new statement cannot be resolved to something the test never made.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::{Value as Json, json};
use serde_yaml::Value as Yaml;

/// The account moto puts every resource in.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// The template, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    root: Yaml,
}

/// One `Allow` statement of a function's policy, resolved: its actions and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

impl Template {
    /// The workspace's `template.yaml`.
    ///
    /// # Errors
    /// If it cannot be read or is not YAML.
    pub fn workspace() -> anyhow::Result<Self> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text)
    }

    /// # Errors
    /// If `text` is not YAML.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let root = serde_yaml::from_str(text).context("template is not YAML")?;
        Ok(Self { root })
    }

    /// The logical ids of every `AWS::Serverless::Function`, in template order.
    #[must_use]
    pub fn function_names(&self) -> Vec<String> {
        self.resources()
            .map(|resources| {
                resources
                    .iter()
                    .filter(|(_, r)| {
                        r.get("Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function")
                    })
                    .filter_map(|(name, _)| name.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn resources(&self) -> Option<&serde_yaml::Mapping> {
        self.root.get("Resources").and_then(Yaml::as_mapping)
    }

    /// The function's `Policies` as one IAM policy document: every statement of its inline policies, resolved
    /// against `stack`, in order. Statements an `!If` removes (`AWS::NoValue`) are left out.
    ///
    /// # Errors
    /// If the function does not exist, has a policy that is not an inline document (a SAM policy template or a
    /// managed policy name), or refers to something `stack` does not bind.
    pub fn policy(&self, function: &str, stack: &Stack) -> anyhow::Result<Json> {
        let resource = self
            .resources()
            .and_then(|r| r.get(function))
            .ok_or_else(|| anyhow!("template.yaml has no resource {function}"))?;
        let policies = resource
            .get("Properties")
            .and_then(|p| p.get("Policies"))
            .and_then(Yaml::as_sequence)
            .ok_or_else(|| anyhow!("{function} has no Policies list"))?;
        let resolver = Resolver {
            template: self,
            stack,
        };
        let mut statements = Vec::new();
        for policy in policies {
            let document = resolver
                .resolve(policy)
                .with_context(|| format!("{function}: a policy"))?;
            let Some(document) = document else { continue };
            let list = document
                .get("Statement")
                .and_then(Json::as_array)
                .ok_or_else(|| {
                    anyhow!(
                        "{function}: only inline policy documents are supported, found {document}"
                    )
                })?;
            statements.extend(list.iter().cloned());
        }
        Ok(json!({"Version": "2012-10-17", "Statement": statements}))
    }

    /// The function's resolved `Allow` statements as grants (each `Action` and `Resource` as a list).
    ///
    /// # Errors
    /// As `policy`, or if a statement is not an `Allow` with `Action` and `Resource`.
    pub fn grants(&self, function: &str, stack: &Stack) -> anyhow::Result<Vec<Grant>> {
        let policy = self.policy(function, stack)?;
        let mut grants = Vec::new();
        for statement in policy["Statement"].as_array().into_iter().flatten() {
            ensure!(
                statement["Effect"] == "Allow",
                "{function}: only Allow statements are expected: {statement}"
            );
            grants.push(Grant {
                sid: statement["Sid"].as_str().unwrap_or_default().to_owned(),
                actions: strings(&statement["Action"])
                    .with_context(|| format!("{function}: Action of {statement}"))?,
                resources: strings(&statement["Resource"])
                    .with_context(|| format!("{function}: Resource of {statement}"))?,
            });
        }
        Ok(grants)
    }

    fn parameter(&self, name: &str) -> Option<&Yaml> {
        self.root.get("Parameters").and_then(|p| p.get(name))
    }

    fn condition(&self, name: &str) -> Option<&Yaml> {
        self.root.get("Conditions").and_then(|c| c.get(name))
    }
}

fn strings(value: &Json) -> anyhow::Result<Vec<String>> {
    match value {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("not a string: {i}"))
            })
            .collect(),
        other => bail!("neither a string nor a list: {other}"),
    }
}

/// What the template's references resolve to in a test: pseudo parameters, parameter values, and each
/// resource's `Ref` and attributes. Region `us-east-1`, account `123456789012` and partition `aws`, as in moto.
#[derive(Debug, Clone)]
pub struct Stack {
    refs: HashMap<String, Json>,
    attributes: HashMap<String, String>,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

impl Stack {
    #[must_use]
    pub fn new() -> Self {
        let refs = [
            ("AWS::Partition", "aws"),
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", MOTO_ACCOUNT),
            ("AWS::StackName", "sluice-test"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Json::String(v.to_owned())))
        .collect();
        Self {
            refs,
            attributes: HashMap::new(),
        }
    }

    /// A resource: what `!Ref logical_id` gives, and its attributes (`("Arn", …)` for `!GetAtt logical_id.Arn`).
    #[must_use]
    pub fn resource(
        mut self,
        logical_id: &str,
        reference: impl Into<String>,
        attributes: &[(&str, &str)],
    ) -> Self {
        self.refs
            .insert(logical_id.to_owned(), Json::String(reference.into()));
        for (attribute, value) in attributes {
            self.attributes
                .insert(format!("{logical_id}.{attribute}"), (*value).to_owned());
        }
        self
    }

    /// A parameter's value as `!Ref` gives it: a string, or for a `CommaDelimitedList` the list. Parameters not
    /// set here take the template's `Default`.
    #[must_use]
    pub fn parameter(mut self, name: &str, value: Json) -> Self {
        self.refs.insert(name.to_owned(), value);
        self
    }

    /// The table's resource as the template names it (`Table`), with moto's ARN for `name`.
    #[must_use]
    pub fn table(self, name: &str) -> Self {
        let arn = format!("arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/{name}");
        let stream = format!("{arn}/stream/1970-01-01T00:00:00.000");
        self.resource("Table", name, &[("Arn", &arn), ("StreamArn", &stream)])
    }
}

struct Resolver<'a> {
    template: &'a Template,
    stack: &'a Stack,
}

impl Resolver<'_> {
    /// `None` is `AWS::NoValue`: the caller drops the key or list item.
    fn resolve(&self, value: &Yaml) -> anyhow::Result<Option<Json>> {
        Ok(Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).context("number")?,
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.resolve(item)? {
                        out.push(v);
                    }
                }
                Json::Array(out)
            }
            Yaml::Mapping(map) => {
                if map.len() == 1
                    && let Some((Yaml::String(key), argument)) = map.iter().next()
                    && (key == "Ref" || key.starts_with("Fn::") || key == "Condition")
                {
                    let name = key.strip_prefix("Fn::").unwrap_or(key);
                    return self.intrinsic(name, argument);
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = k
                        .as_str()
                        .ok_or_else(|| anyhow!("a key that is not a string: {k:?}"))?;
                    if let Some(v) = self.resolve(v)? {
                        out.insert(key.to_owned(), v);
                    }
                }
                Json::Object(out)
            }
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let name = tag.trim_start_matches('!');
                return self.intrinsic(name, &tagged.value);
            }
        }))
    }

    fn intrinsic(&self, name: &str, argument: &Yaml) -> anyhow::Result<Option<Json>> {
        let value = match name {
            "Ref" => {
                let target = argument
                    .as_str()
                    .ok_or_else(|| anyhow!("!Ref of a non-string: {argument:?}"))?;
                return self.reference(target);
            }
            "GetAtt" => {
                let path = match argument {
                    Yaml::String(s) => s.clone(),
                    Yaml::Sequence(parts) => parts
                        .iter()
                        .map(|p| p.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("."),
                    other => bail!("!GetAtt of {other:?}"),
                };
                Json::String(self.attribute(&path)?)
            }
            "Sub" => Json::String(self.sub(argument)?),
            "If" => {
                let [condition, then, otherwise] = self.args::<3>("If", argument)?;
                let condition = condition
                    .as_str()
                    .ok_or_else(|| anyhow!("!If names its condition: {condition:?}"))?;
                let branch = if self.named_condition(condition)? {
                    then
                } else {
                    otherwise
                };
                return self.resolve(branch);
            }
            "Join" => {
                let [delimiter, list] = self.args::<2>("Join", argument)?;
                let delimiter = delimiter.as_str().unwrap_or_default();
                let list = self
                    .resolve(list)?
                    .ok_or_else(|| anyhow!("!Join of AWS::NoValue"))?;
                let parts = strings(&list).context("!Join")?;
                Json::String(parts.join(delimiter))
            }
            "Equals" => {
                let [a, b] = self.args::<2>("Equals", argument)?;
                Json::Bool(self.resolve(a)? == self.resolve(b)?)
            }
            "Not" => {
                let [a] = self.args::<1>("Not", argument)?;
                Json::Bool(!self.boolean(a)?)
            }
            "And" | "Or" => {
                let items = argument
                    .as_sequence()
                    .ok_or_else(|| anyhow!("!{name} takes a list"))?;
                let mut values = Vec::new();
                for item in items {
                    values.push(self.boolean(item)?);
                }
                Json::Bool(if name == "And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            "Condition" => {
                let condition = argument
                    .as_str()
                    .ok_or_else(|| anyhow!("Condition names a condition: {argument:?}"))?;
                Json::Bool(self.named_condition(condition)?)
            }
            other => bail!("intrinsic function {other} is not supported by the test resolver"),
        };
        Ok(Some(value))
    }

    fn args<'y, const N: usize>(
        &self,
        name: &str,
        argument: &'y Yaml,
    ) -> anyhow::Result<[&'y Yaml; N]> {
        let items = argument
            .as_sequence()
            .ok_or_else(|| anyhow!("!{name} takes a list"))?;
        let refs: Vec<&Yaml> = items.iter().collect();
        refs.try_into()
            .map_err(|_| anyhow!("!{name} takes {N} arguments, got {}", items.len()))
    }

    fn boolean(&self, value: &Yaml) -> anyhow::Result<bool> {
        match self.resolve(value)? {
            Some(Json::Bool(b)) => Ok(b),
            other => bail!("not a condition: {other:?}"),
        }
    }

    fn named_condition(&self, name: &str) -> anyhow::Result<bool> {
        let expression = self
            .template
            .condition(name)
            .ok_or_else(|| anyhow!("template.yaml has no condition {name}"))?;
        self.boolean(expression)
            .with_context(|| format!("condition {name}"))
    }

    fn reference(&self, target: &str) -> anyhow::Result<Option<Json>> {
        if target == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.stack.refs.get(target) {
            return Ok(Some(value.clone()));
        }
        if let Some(parameter) = self.template.parameter(target) {
            let default = parameter.get("Default").map_or(String::new(), |d| match d {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                Yaml::Bool(b) => b.to_string(),
                _ => String::new(),
            });
            let kind = parameter
                .get("Type")
                .and_then(Yaml::as_str)
                .unwrap_or("String");
            return Ok(Some(
                if kind.starts_with("CommaDelimitedList") || kind.starts_with("List<") {
                    Json::Array(
                        default
                            .split(',')
                            .map(|s| Json::String(s.trim().to_owned()))
                            .collect(),
                    )
                } else {
                    Json::String(default)
                },
            ));
        }
        bail!("!Ref {target}: the test did not bind it (Stack::resource or Stack::parameter)")
    }

    fn attribute(&self, path: &str) -> anyhow::Result<String> {
        self.stack
            .attributes
            .get(path)
            .cloned()
            .ok_or_else(|| anyhow!("!GetAtt {path}: the test did not bind it (Stack::resource)"))
    }

    /// `!Sub "text"` or `!Sub ["text", {Var: value}]`: `${Name}` is a `Ref` (or a variable), `${Name.Attr}` a
    /// `GetAtt`, `${!Literal}` the text `${Literal}`.
    fn sub(&self, argument: &Yaml) -> anyhow::Result<String> {
        let (text, variables) = match argument {
            Yaml::String(s) => (s.as_str(), HashMap::new()),
            Yaml::Sequence(parts) if parts.len() == 2 => {
                let text = parts[0]
                    .as_str()
                    .ok_or_else(|| anyhow!("!Sub text is not a string"))?;
                let mut variables = HashMap::new();
                for (k, v) in parts[1]
                    .as_mapping()
                    .ok_or_else(|| anyhow!("!Sub variables are not a map"))?
                {
                    let value = self
                        .resolve(v)?
                        .ok_or_else(|| anyhow!("!Sub of AWS::NoValue"))?;
                    let value = value
                        .as_str()
                        .ok_or_else(|| anyhow!("!Sub variable is not a string: {value}"))?
                        .to_owned();
                    variables.insert(k.as_str().unwrap_or_default().to_owned(), value);
                }
                (text, variables)
            }
            other => bail!("!Sub of {other:?}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("!Sub {text}: unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(value);
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&self.attribute(name)?);
            } else {
                let value = self
                    .reference(name)?
                    .ok_or_else(|| anyhow!("!Sub ${{{name}}} is AWS::NoValue"))?;
                out.push_str(
                    value
                        .as_str()
                        .ok_or_else(|| anyhow!("!Sub ${{{name}}} is not a string: {value}"))?,
                );
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Topics:
    Type: CommaDelimitedList
    Default: ""
Conditions:
  HasTopics: !Not [!Equals [!Join ["", !Ref Topics], ""]]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: Table
              Effect: Allow
              Action: [dynamodb:GetItem]
              Resource:
                - !GetAtt Table.Arn
                - !Sub ${Table.Arn}/index/*
                - !Sub arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${!Literal}
                - {"Fn::GetAtt": [Table, Arn]}
            - !If
              - HasTopics
              - Sid: Topics
                Effect: Allow
                Action: sns:Publish
                Resource: !Ref Topics
              - !Ref AWS::NoValue
"#;

    #[test]
    fn resolves_short_and_long_intrinsics_and_drops_no_value() {
        let template = Template::parse(TEMPLATE).expect("yaml");
        assert_eq!(template.function_names(), ["Fn"]);
        let stack = Stack::new().table("t1");

        let grants = template.grants("Fn", &stack).expect("grants");

        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t1";
        assert_eq!(
            grants,
            [Grant {
                sid: "Table".to_owned(),
                actions: vec!["dynamodb:GetItem".to_owned()],
                resources: vec![
                    arn.to_owned(),
                    format!("{arn}/index/*"),
                    "arn:aws:x:us-east-1:123456789012:${Literal}".to_owned(),
                    arn.to_owned(),
                ],
            }]
        );
    }

    #[test]
    fn a_configured_list_parameter_turns_the_condition_on() {
        let template = Template::parse(TEMPLATE).expect("yaml");
        let stack = Stack::new()
            .table("t1")
            .parameter("Topics", json!(["arn:aws:sns:us-east-1:123456789012:a"]));

        let grants = template.grants("Fn", &stack).expect("grants");

        assert_eq!(grants[1].actions, ["sns:Publish"]);
        assert_eq!(
            grants[1].resources,
            ["arn:aws:sns:us-east-1:123456789012:a"]
        );
    }

    #[test]
    fn an_unbound_reference_is_an_error_naming_it() {
        let template = Template::parse(TEMPLATE).expect("yaml");

        let err = template
            .policy("Fn", &Stack::new())
            .expect_err("Table unbound");

        assert!(format!("{err:#}").contains("Table.Arn"), "{err:#}");
    }
}
