//! The CLI as an admin client of a running Sluice (deployed or `sluice serve`): `sluice login` signs in and keeps
//! the address and session token; commands given `--url` (or `SLUICE_URL`) then go through the admin API instead
//! of opening a store.
//!
//! The credentials file is `$SLUICE_CONFIG_DIR/credentials.json` (default `$XDG_CONFIG_HOME/sluice`, else
//! `~/.config/sluice`), written with mode 0600. `SLUICE_TOKEN` overrides the saved token (an OIDC ID token or a
//! session token from elsewhere).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Credentials {
    url: String,
    token: String,
}

#[expect(
    clippy::disallowed_methods,
    reason = "the saved sign-in lives where the user's tools keep theirs: SLUICE_CONFIG_DIR, XDG_CONFIG_HOME, HOME"
)]
fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("sluice"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set SLUICE_CONFIG_DIR")?;
    Ok(PathBuf::from(home).join(".config").join("sluice"))
}

fn credentials_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn save(credentials: &Credentials) -> anyhow::Result<PathBuf> {
    let path = credentials_path()?;
    let dir = path.parent().context("credentials path has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(credentials)?.as_bytes())?;
    Ok(path)
}

fn load() -> anyhow::Result<Option<Credentials>> {
    let path = credentials_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a Sluice credentials file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Signs in with the bootstrap admin's (or any password user's) name and password and saves the token.
pub async fn login(url: &str, username: &str, password: &str) -> anyhow::Result<()> {
    let url = normalize(url);
    let http = client()?;
    let response = http
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .with_context(|| format!("cannot reach Sluice at {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("sign-in refused ({status}): {}", message(&body));
    }
    let token = body["token"]
        .as_str()
        .context("the sign-in answer has no token")?
        .to_owned();
    let path = save(&Credentials {
        url: url.clone(),
        token,
    })?;
    writeln!(
        std::io::stdout().lock(),
        "Signed in to {url} as {username} (role {}). Token saved in {}.",
        body["role"].as_str().unwrap_or("?"),
        path.display()
    )?;
    Ok(())
}

/// One line of standard input, without its line end (the password when none was given).
pub fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password: pass --password, set SLUICE_PASSWORD or pipe it to standard input");
    }
    Ok(password)
}

fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .context("cannot build an HTTP client")
}

/// The message of an error answer (admin or Anthropic envelope), else the body itself.
fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .or_else(|| body["error"].as_str())
        .or_else(|| body["message"].as_str())
        .map_or_else(|| body.to_string(), str::to_owned)
}

/// A signed-in admin API client.
pub struct Remote {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    /// The client for `url`: the token from `SLUICE_TOKEN`, else the one `sluice login` saved for that address.
    #[expect(
        clippy::disallowed_methods,
        reason = "SLUICE_TOKEN overrides the saved sign-in, for scripts and CI"
    )]
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let url = normalize(url);
        let token = match std::env::var("SLUICE_TOKEN").ok().filter(|t| !t.is_empty()) {
            Some(token) => token,
            None => match load()? {
                Some(saved) if saved.url == url => saved.token,
                Some(saved) => bail!(
                    "the saved sign-in is for {}, not {url}: run `sluice login --url {url}`",
                    saved.url
                ),
                None => {
                    bail!("not signed in: run `sluice login --url {url}` (or set SLUICE_TOKEN)")
                }
            },
        };
        Ok(Self {
            url,
            token,
            http: client()?,
        })
    }

    /// Sends a request and returns the JSON answer; an error answer becomes an error naming status and message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let text = self.send(method, path, body).await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A `GET` whose answer is not JSON (a CSV download), whole.
    pub async fn download(&self, path: &str) -> anyhow::Result<String> {
        self.send(Method::GET, path, None).await
    }

    /// The answer's body of a successful request; an error answer becomes an error naming status and message.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach Sluice at {}", self.url))?;
        let status = response.status();
        // A body cut short (the server failed mid-stream) is an error, never a shorter answer.
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: the answer was cut short"))?;
        if status.is_success() {
            return Ok(text);
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status == StatusCode::UNAUTHORIZED {
            bail!(
                "{method} {path}: not signed in or the session expired ({}); run `sluice login --url {}`",
                message(&body),
                self.url
            );
        }
        bail!(
            "{method} {path}: Sluice answered {status}: {}",
            message(&body)
        )
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// The id of the user with this email (the admin API addresses users by id).
    pub async fn user_id(&self, email: &str) -> anyhow::Result<String> {
        let email = email.trim().to_lowercase();
        let users = self.get("/admin/users").await?;
        users["users"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["email"].as_str() == Some(email.as_str()))
            .and_then(|u| u["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no user with email {email}"))
    }

    /// The id of a team given by id or name.
    pub async fn team_id(&self, team: &str) -> anyhow::Result<String> {
        let teams = self.get("/admin/teams").await?;
        teams["teams"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["id"].as_str() == Some(team) || t["name"].as_str() == Some(team))
            .and_then(|t| t["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no team with id or name {team}"))
    }
}
