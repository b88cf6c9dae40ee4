//! A moto server that enforces IAM, for running a function's AWS calls under the policy `template.yaml` gives
//! that function (`crate::template`).
//!
//! moto checks IAM once `INITIAL_NO_AUTH_ACTION_COUNT` requests have been served. This server allows exactly
//! three: creating a set-up user with every permission and its access key. Everything after is signed with
//! real moto keys and checked: tests make their tables, queues and topics as the set-up user
//! (`IamMoto::setup_config`), then create a user with a function's statements (`IamMoto::user_with_policy`)
//! and build the function's clients with its keys (`IamMoto::config_for`).
//!
//! Plain moto evaluates most services' actions against the resource `*`, which no resource-scoped statement
//! matches; `moto_iam.py` gives each request the resources AWS evaluates (table, index, topic, bus, secret)
//! and the actions a transaction stands for, and logs every evaluation, read back with
//! `IamMoto::evaluations`. Like `MotoServer::shared_serial` it serves one request at a time. A separate server from `MotoServer::shared`, so other tests stay unauthenticated.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::moto::{MotoServer, MotoStartError};

/// The patches and logging around moto's app (see the file's header).
const MOTO_IAM: &str = include_str!("moto_iam.py");

/// The set-up user's `CreateUser`, `PutUserPolicy` and `CreateAccessKey`, unauthenticated.
const UNAUTHENTICATED_SETUP_CALLS: &str = "3";

/// One evaluation moto made for a key: `dynamodb:GetItem` on a table ARN, allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evaluation {
    pub action: String,
    pub resource: String,
    pub allowed: bool,
}

/// The IAM-enforcing moto server of this test binary.
#[derive(Debug)]
pub struct IamMoto {
    server: MotoServer,
    log_path: PathBuf,
    setup: Credentials,
}

impl IamMoto {
    /// Starts the server and creates the set-up user, once per test binary. Blocks (a few seconds).
    ///
    /// # Errors
    /// If moto cannot start (see `MotoServer::start`) or the set-up user cannot be created; every caller gets
    /// the same error.
    pub fn shared() -> anyhow::Result<&'static Self> {
        static SHARED: OnceLock<Result<IamMoto, MotoStartError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(|e| MotoStartError::of(&e)))
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    fn start() -> anyhow::Result<Self> {
        let log_path = std::env::temp_dir().join(format!(
            "sluice-moto-iam-{}-{}.log",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let log = log_path.to_string_lossy().into_owned();
        let server = MotoServer::start_script(
            MOTO_IAM,
            &[
                ("INITIAL_NO_AUTH_ACTION_COUNT", UNAUTHENTICATED_SETUP_CALLS),
                ("SLUICE_MOTO_IAM_LOG", &log),
            ],
        )?;
        let endpoint = server.endpoint_url().to_owned();
        // The caller may be inside a test's runtime, where no other runtime can block: a thread of its own.
        let setup = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a runtime")?
                .block_on(create_setup_user(&endpoint))
        })
        .join()
        .map_err(|_| anyhow!("the set-up thread panicked"))??;
        Ok(Self {
            server,
            log_path,
            setup,
        })
    }

    #[must_use]
    pub fn endpoint_url(&self) -> &str {
        self.server.endpoint_url()
    }

    /// A configuration with the set-up user's keys (allowed everything): for making the test's resources.
    #[must_use]
    pub fn setup_config(&self) -> SdkConfig {
        self.config_for(&self.setup)
    }

    /// Static `credentials`, region `us-east-1`, every service at this server.
    #[must_use]
    pub fn config_for(&self, credentials: &Credentials) -> SdkConfig {
        config(self.endpoint_url(), credentials.clone())
    }

    /// A new user (`<prefix>-<unique>`) whose only permission is the inline `policy`, and its access key.
    ///
    /// # Errors
    /// If IAM refuses the user, the policy or the key.
    pub async fn user_with_policy(
        &self,
        prefix: &str,
        policy: &serde_json::Value,
    ) -> anyhow::Result<Credentials> {
        create_user(
            &aws_sdk_iam::Client::new(&self.setup_config()),
            &crate::unique_name(prefix),
            &policy.to_string(),
        )
        .await
    }

    /// Every evaluation moto made for requests signed with `access_key_id`, in order.
    ///
    /// # Errors
    /// If the server's log cannot be read.
    pub fn evaluations(&self, access_key_id: &str) -> anyhow::Result<Vec<Evaluation>> {
        let text = std::fs::read_to_string(&self.log_path)
            .with_context(|| format!("cannot read {}", self.log_path.display()))?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let key = fields.next()?;
                let action = fields.next()?;
                let resource = fields.next()?;
                let outcome = fields.next()?;
                (key == access_key_id).then(|| Evaluation {
                    action: action.to_owned(),
                    resource: resource.to_owned(),
                    allowed: outcome == "allowed",
                })
            })
            .collect())
    }
}

impl Drop for IamMoto {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// Patient like `crate::aws_sdk_config_patient`: the server takes one request at a time, so under concurrent
/// clients a connection waits in its accept queue, which is neither a dead server nor a stalled stream.
fn config(endpoint: &str, credentials: Credentials) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(120))
                .build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build()
}

async fn create_setup_user(endpoint: &str) -> anyhow::Result<Credentials> {
    let anonymous = Credentials::new("testing", "testing", None, None, "sluice-testkit");
    let iam = aws_sdk_iam::Client::new(&config(endpoint, anonymous));
    let everything = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    });
    create_user(&iam, "sluice-test-setup", &everything.to_string())
        .await
        .context("creating the set-up user")
}

async fn create_user(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: &str,
) -> anyhow::Result<Credentials> {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .with_context(|| format!("CreateUser {name}"))?;
    iam.put_user_policy()
        .user_name(name)
        .policy_name("template")
        .policy_document(policy)
        .send()
        .await
        .with_context(|| format!("PutUserPolicy {name}: {policy}"))?;
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .with_context(|| format!("CreateAccessKey {name}"))?;
    let key = key
        .access_key()
        .ok_or_else(|| anyhow!("CreateAccessKey {name}: no key"))?;
    Ok(Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "sluice-testkit-iam",
    ))
}
