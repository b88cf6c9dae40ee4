//! Each function's AWS calls under exactly the policy `template.yaml` gives it, on a moto server that enforces
//! IAM (`sluice_testkit::iam`). A user is created per test with the function's statements read from the
//! template and resolved against this test's table, secrets, queue, topic, bus and bucket; the adapters the
//! function builds (`DynamoStore`, notifiers, secrets, SQS fallback, S3 sink) run with its keys.
//!
//! Both ways: a call the code makes that the policy lacks fails its scenario, and a grant no scenario uses
//! fails `assert_every_grant_used` (moto logs every (action, resource) it evaluated for the user's key).
//! The gateway's Bedrock actions are the one exception: Bedrock is served by the simulator, not moto.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use chrono::Utc;
use serde_json::{Value, json};
use sluice_aws::DynamoStore;
use sluice_aws::notify::{EventBridgeNotifier, SnsNotifier};
use sluice_aws::{S3ExportSink, SqsUsageFallback, read_secret};
use sluice_core::notify::{NotificationPayload, Notifier, NotifyError};
use sluice_core::spend::export::ExportSink;
use sluice_core::store::{Store, UsageFallback};
use sluice_testkit::contract::{self, builders};
use sluice_testkit::iam::{Evaluation, IamMoto};
use sluice_testkit::template::{Grant, MOTO_ACCOUNT, Stack, Template};
use sluice_testkit::{fixtures, messaging, unique_name};

fn moto() -> &'static IamMoto {
    IamMoto::shared().expect("moto_server with IAM enforcement (install with `make deps`)")
}

/// One stack's worth of resources in moto, made by the set-up user, with the template's names for them.
struct Resources {
    setup: SdkConfig,
    table: String,
    session_secret: String,
    admin_password_secret: String,
    /// What CloudFront adds as the admin function's origin header.
    origin_secret: String,
    queue_url: String,
    queue_arn: String,
    bucket: String,
    topic_arn: String,
    bus_arn: String,
    /// A topic and a bus of the same account that the stack's parameters do not list.
    other_topic_arn: String,
    other_bus_arn: String,
}

impl Resources {
    async fn new() -> Self {
        let setup = moto().setup_config();
        let table = unique_name("sluice-iam");
        let dynamo = aws_sdk_dynamodb::Client::new(&setup);
        DynamoStore::create_table(&dynamo, &table)
            .await
            .expect("create table");
        let secrets = aws_sdk_secretsmanager::Client::new(&setup);
        let mut secret_arns = Vec::new();
        for (name, value) in [
            ("session", "signing-key"),
            ("admin", "admin-password"),
            ("origin", "cloudfront-origin-header"),
        ] {
            let out = secrets
                .create_secret()
                .name(unique_name(name))
                .secret_string(value)
                .send()
                .await
                .expect("create secret");
            secret_arns.push(out.arn().expect("secret ARN").to_owned());
        }
        let queue = messaging::queue(&setup, "usage-fallback").await;
        let bucket = unique_name("exports");
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&setup)
                .force_path_style(true)
                .build(),
        )
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
        let mut topics = Vec::new();
        let mut buses = Vec::new();
        for _ in 0..2 {
            topics.push(messaging::topic(&setup, "alerts").await);
            buses.push(messaging::bus(&setup, "alerts").await.arn);
        }
        let [session_secret, admin_password_secret, origin_secret] =
            <[String; 3]>::try_from(secret_arns).expect("three secrets");
        let [topic_arn, other_topic_arn] = <[String; 2]>::try_from(topics).expect("two topics");
        let [bus_arn, other_bus_arn] = <[String; 2]>::try_from(buses).expect("two buses");
        Self {
            setup,
            table,
            session_secret,
            admin_password_secret,
            origin_secret,
            queue_url: queue.url,
            queue_arn: queue.arn,
            bucket,
            topic_arn,
            bus_arn,
            other_topic_arn,
            other_bus_arn,
        }
    }

    /// The template's resources bound to these, with the notification parameters listing one topic and bus.
    fn stack(&self) -> Stack {
        self.stack_without_destinations()
            .parameter("NotifyTopicArns", json!([self.topic_arn]))
            .parameter("NotifyEventBusArns", json!([self.bus_arn]))
    }

    /// As `stack`, with the notification parameters left at their (empty) defaults.
    fn stack_without_destinations(&self) -> Stack {
        let bucket_arn = format!("arn:aws:s3:::{}", self.bucket);
        Stack::new()
            .table(&self.table)
            .resource("SessionSecret", &self.session_secret, &[])
            .resource("AdminPasswordSecret", &self.admin_password_secret, &[])
            .resource("OriginVerifySecret", &self.origin_secret, &[])
            .resource(
                "UsageFallbackQueue",
                &self.queue_url,
                &[("Arn", &self.queue_arn)],
            )
            .resource("ExportBucket", &self.bucket, &[("Arn", &bucket_arn)])
    }

    /// An unrestricted store on the table, for items a scenario needs to find.
    fn setup_store(&self) -> Arc<dyn Store> {
        Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.setup),
            &self.table,
        ))
    }
}

/// The function's user: its template policy as resolved for `stack`, optionally edited.
async fn function_user(
    function: &str,
    stack: &Stack,
    edit: impl FnOnce(&mut Value),
) -> (Credentials, SdkConfig) {
    let mut policy = Template::workspace()
        .expect("template.yaml")
        .policy(function, stack)
        .unwrap_or_else(|e| panic!("{function}'s policy: {e:#}"));
    edit(&mut policy);
    let credentials = moto()
        .user_with_policy(&function.to_ascii_lowercase(), &policy)
        .await
        .unwrap_or_else(|e| panic!("{function}'s user: {e:#}"));
    let config = moto().config_for(&credentials);
    (credentials, config)
}

fn store(config: &SdkConfig, resources: &Resources) -> Arc<dyn Store> {
    Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(config),
        &resources.table,
    ))
}

/// Every action of each grant was allowed at least once on one of the grant's resources, and every resource of
/// each grant was used by one of its actions: a grant, action or resource nothing used is more than the function
/// needs. `exempt` lists action prefixes moto cannot see. Nothing in the scenario may have been denied.
fn assert_every_grant_used(
    function: &str,
    stack: &Stack,
    credentials: &Credentials,
    exempt: &[&str],
) {
    let grants = Template::workspace()
        .expect("template.yaml")
        .grants(function, stack)
        .expect("grants");
    let evaluations = moto()
        .evaluations(credentials.access_key_id())
        .expect("moto's evaluation log");
    let used = |action: &str, resource: &str| {
        evaluations
            .iter()
            .any(|e| e.allowed && e.action == action && matches(resource, &e.resource))
    };
    let mut unused = Vec::new();
    for Grant {
        sid,
        actions,
        resources,
    } in &grants
    {
        let actions: Vec<&String> = actions
            .iter()
            .filter(|a| !exempt.iter().any(|prefix| a.starts_with(prefix)))
            .collect();
        if actions.is_empty() {
            continue;
        }
        for action in &actions {
            if !resources.iter().any(|r| used(action, r)) {
                unused.push(format!("{sid}: action {action}"));
            }
        }
        for resource in resources {
            if !actions.iter().any(|a| used(a, resource)) {
                unused.push(format!("{sid}: resource {resource}"));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "{function}'s policy grants what its calls never use:\n  {}\nused: {evaluations:#?}",
        unused.join("\n  ")
    );
    let denied: Vec<&Evaluation> = evaluations.iter().filter(|e| !e.allowed).collect();
    assert!(
        denied.is_empty(),
        "{function}: denied in its scenario: {denied:#?}"
    );
}

/// IAM's resource match: `*` is any run of characters.
fn matches(pattern: &str, resource: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut remaining) = resource.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return remaining.ends_with(part);
        }
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.is_empty()
}

fn payload() -> NotificationPayload {
    NotificationPayload::synthetic(Utc::now())
}

// --- admin ---------------------------------------------------------------------------------------------

/// The admin API's store calls (keys, users, teams, IdPs, settings, CLI sessions, setup tokens, SCIM, counters,
/// usage, spend and budget reads, events, deliveries, device sign-in: the whole store contract), both sign-in secrets, CloudFront's
/// origin header secret and the notification test step, under AdminFunction's policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_pass_under_its_template_policy_and_use_every_grant() {
    let resources = Resources::new().await;
    let stack = resources.stack();
    let (credentials, config) = function_user("AdminFunction", &stack, |_| {}).await;
    let store = store(&config, &resources);

    contract::store_contract(Arc::clone(&store)).await;
    let key_store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), &resources.table);
    contract::key_store_contract(&key_store).await;
    for secret in [
        &resources.session_secret,
        &resources.admin_password_secret,
        &resources.origin_secret,
    ] {
        read_secret(&config, secret).await.expect("sign-in secret");
    }
    SnsNotifier::new(&config, &resources.topic_arn)
        .deliver(&payload())
        .await
        .expect("test step to the configured topic");
    EventBridgeNotifier::new(&config, &resources.bus_arn)
        .deliver(&payload())
        .await
        .expect("test step to the configured bus");

    assert_every_grant_used("AdminFunction", &stack, &credentials, &[]);
}

/// The role the template gave the admin function before BatchGetItem was added: budget status and analytics
/// (`budget_inputs`) are refused, with DynamoDB's access-denied error. Also proves moto enforces the policy.
#[tokio::test]
async fn admin_without_batch_get_item_cannot_read_budget_inputs() {
    let resources = Resources::new().await;
    let (_, config) = function_user("AdminFunction", &resources.stack(), |policy| {
        for statement in policy["Statement"].as_array_mut().expect("statements") {
            if let Some(actions) = statement["Action"].as_array_mut() {
                actions.retain(|a| a != "dynamodb:BatchGetItem");
            }
        }
    })
    .await;
    let store = store(&config, &resources);

    let err = store
        .budget_inputs(
            &["budget#user#u1".to_owned()],
            &["m2026-11#user#u1".to_owned()],
        )
        .await
        .expect_err("BatchGetItem is not granted");

    let message = err.to_string();
    assert!(message.contains("AccessDenied"), "{message}");
    assert!(message.contains("dynamodb:BatchGetItem"), "{message}");
    store
        .get_setting("budget#user#u1")
        .await
        .expect("GetItem is still granted");
}

// --- gateway -------------------------------------------------------------------------------------------

/// The admission path and the usage ledger: key lookup, sign-in state, users, rate-limit counters, the budget
/// read, the usage put, events, the session secret and the SQS fallback; and Claude Code's device sign-in
/// (device authorization, polls, redeem, token families, refresh token rotation and replay, revocation).
#[tokio::test]
async fn gateway_calls_pass_under_its_template_policy_and_use_every_grant() {
    let resources = Resources::new().await;
    let stack = resources.stack();
    let key = fixtures::new_key("gateway");
    resources.setup_store().create_key(&key).await.expect("key");
    let (credentials, config) = function_user("GatewayFunction", &stack, |_| {}).await;
    let store = store(&config, &resources);

    assert!(
        store
            .key_by_hash(&key.key_hash)
            .await
            .expect("key lookup")
            .is_some()
    );
    store
        .get_setting("session_ttl_hours")
        .await
        .expect("setting");
    store.list_idps().await.expect("IdPs");
    let user = builders::new_user("gateway");
    store
        .create_user(&user)
        .await
        .expect("first sign-in creates the user");
    store.user_by_id(&user.id).await.expect("user by id");
    store
        .user_by_email(&user.email)
        .await
        .expect("user by email");
    let scope = builders::new_scope("gateway");
    store
        .increment_below(&scope, 60, 10, 4_000_000_000)
        .await
        .expect("rate-limit increment");
    store
        .window_count(&scope, 0)
        .await
        .expect("previous window");
    store
        .budget_inputs(
            &["budget#user#u1".to_owned()],
            &["m2026-11#user#u1".to_owned()],
        )
        .await
        .expect("budget read");
    let usage = builders::new_usage(fixtures::now_ms());
    assert!(store.put_usage(&usage).await.expect("usage put"));
    contract::events::an_event_is_stored_once_and_found_by_id(Arc::clone(&store)).await;
    contract::device_sign_in::device_is_found_by_id_and_by_user_code(Arc::clone(&store)).await;
    contract::device_sign_in::poll_is_refused_within_the_interval(Arc::clone(&store)).await;
    contract::device_sign_in::redeem_gives_an_approved_authorization_once(Arc::clone(&store)).await;
    contract::device_sign_in::use_refresh_is_first_once_then_replayed(Arc::clone(&store)).await;
    contract::device_sign_in::put_refresh_moves_the_family_expiry_later_never_earlier(Arc::clone(
        &store,
    ))
    .await;
    contract::device_sign_in::revoke_keeps_the_first_time(Arc::clone(&store)).await;
    read_secret(&config, &resources.session_secret)
        .await
        .expect("session secret");
    SqsUsageFallback::new(&config, &resources.queue_url)
        .stash(&usage)
        .await
        .expect("usage fallback");

    assert_every_grant_used("GatewayFunction", &stack, &credentials, &["bedrock:"]);
}

// --- spend ---------------------------------------------------------------------------------------------

/// The spend consumer: prices and names (settings, users), the spend transaction, the budget read, events.
#[tokio::test]
async fn spend_calls_pass_under_its_template_policy_and_use_every_grant() {
    let resources = Resources::new().await;
    let stack = resources.stack();
    let (credentials, config) = function_user("SpendFunction", &stack, |_| {}).await;
    let store = store(&config, &resources);

    store.get_setting("prices").await.expect("prices in force");
    store.user_by_id("u1").await.expect("name lookup");
    contract::spend::applied_once_then_a_replay_changes_nothing(Arc::clone(&store)).await;
    contract::spend::budget_inputs_returns_present_settings_and_counters_only(Arc::clone(&store))
        .await;
    contract::events::an_event_is_stored_once_and_found_by_id(Arc::clone(&store)).await;

    assert_every_grant_used("SpendFunction", &stack, &credentials, &[]);
}

// --- notify --------------------------------------------------------------------------------------------

/// The notify consumer: the destination setting, events, the delivery log and its listing, and delivery to the
/// configured topic and bus.
#[tokio::test]
async fn notify_calls_pass_under_its_template_policy_and_use_every_grant() {
    let resources = Resources::new().await;
    let stack = resources.stack();
    let (credentials, config) = function_user("NotifyFunction", &stack, |_| {}).await;
    let store = store(&config, &resources);

    store
        .get_setting("notify_destination")
        .await
        .expect("destination");
    store.event_by_id("e1").await.expect("event");
    contract::events::deliveries_are_logged_newest_first_and_limited(Arc::clone(&store)).await;
    SnsNotifier::new(&config, &resources.topic_arn)
        .deliver(&payload())
        .await
        .expect("configured topic");
    EventBridgeNotifier::new(&config, &resources.bus_arn)
        .deliver(&payload())
        .await
        .expect("configured bus");

    assert_every_grant_used("NotifyFunction", &stack, &credentials, &[]);
}

/// A topic or bus the parameters do not list is refused, for the notify function and for the admin API's test
/// step, and the delivery error says it was denied (a permanent error: retrying cannot help).
#[tokio::test]
async fn publishing_outside_the_configured_destinations_is_denied() {
    let resources = Resources::new().await;
    for function in ["NotifyFunction", "AdminFunction"] {
        let (_, config) = function_user(function, &resources.stack(), |_| {}).await;

        let sns = SnsNotifier::new(&config, &resources.other_topic_arn)
            .deliver(&payload())
            .await
            .expect_err("topic not listed");
        let bus = EventBridgeNotifier::new(&config, &resources.other_bus_arn)
            .deliver(&payload())
            .await
            .expect_err("bus not listed");

        assert_denied(function, &sns, "NotifyTopicArns");
        assert_denied(function, &bus, "NotifyEventBusArns");
    }
}

/// With the parameters left empty the functions may publish nowhere, not even to a topic of their own account.
#[tokio::test]
async fn empty_destination_parameters_grant_no_publishing() {
    let resources = Resources::new().await;
    let stack = resources.stack_without_destinations();
    for function in ["NotifyFunction", "AdminFunction"] {
        let grants = Template::workspace()
            .expect("template")
            .grants(function, &stack)
            .expect("grants");
        assert!(
            grants
                .iter()
                .flat_map(|g| &g.actions)
                .all(|a| !a.starts_with("sns:") && !a.starts_with("events:")),
            "{function}: {grants:?}"
        );
        let (_, config) = function_user(function, &stack, |_| {}).await;

        let sns = SnsNotifier::new(&config, &resources.topic_arn)
            .deliver(&payload())
            .await
            .expect_err("no topic listed");
        let bus = EventBridgeNotifier::new(&config, &resources.bus_arn)
            .deliver(&payload())
            .await
            .expect_err("no bus listed");

        assert_denied(function, &sns, "NotifyTopicArns");
        assert_denied(function, &bus, "NotifyEventBusArns");
    }
}

fn assert_denied(function: &str, err: &NotifyError, parameter: &str) {
    let message = err.to_string();
    assert!(
        matches!(err, NotifyError::Rejected(_)) && !err.is_retryable(),
        "{function}: {err:?}"
    );
    assert!(message.contains("not authorized"), "{function}: {message}");
    assert!(message.contains(parameter), "{function}: {message}");
}

// --- export --------------------------------------------------------------------------------------------

/// The daily export: a day of usage, the users and the teams (gsi1 queries), and the day's file in the bucket.
#[tokio::test]
async fn export_calls_pass_under_its_template_policy_and_use_every_grant() {
    let resources = Resources::new().await;
    let stack = resources.stack();
    let day_start = builders::new_usage_day_start();
    let setup = resources.setup_store();
    setup
        .put_usage(&builders::new_usage(day_start + 1_000))
        .await
        .expect("usage");
    setup
        .create_user(&builders::new_user("export"))
        .await
        .expect("user");
    setup
        .create_team(&builders::new_team("export"))
        .await
        .expect("team");
    let (credentials, config) = function_user("ExportFunction", &stack, |_| {}).await;
    let store = store(&config, &resources);

    let day = store
        .usage_between(day_start, day_start + 86_400_000)
        .await
        .expect("a day of usage");
    assert_eq!(day.len(), 1);
    assert!(!store.list_users().await.expect("users").is_empty());
    assert!(!store.list_teams().await.expect("teams").is_empty());
    S3ExportSink::new(&config, &resources.bucket)
        .put("spend/dt=2026-11-22/spend.csv", b"request_id\n".to_vec())
        .await
        .expect("day file");

    assert_every_grant_used("ExportFunction", &stack, &credentials, &[]);
}

/// Every function in the template is driven above (a new function needs its scenario here).
#[test]
fn every_function_of_the_template_has_a_scenario() {
    let functions = Template::workspace().expect("template").function_names();
    assert_eq!(
        functions,
        [
            "GatewayFunction",
            "AdminFunction",
            "SpendFunction",
            "NotifyFunction",
            "ExportFunction"
        ]
    );
    assert_eq!(MOTO_ACCOUNT, "123456789012");
}

#[test]
fn resource_patterns_match_like_iam() {
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    assert!(matches(table, table));
    assert!(matches(
        &format!("{table}/index/*"),
        &format!("{table}/index/gsi1")
    ));
    assert!(!matches(&format!("{table}/index/*"), table));
    assert!(!matches(table, &format!("{table}/index/gsi1")));
    assert!(matches(
        "arn:aws:s3:::b/spend/*",
        "arn:aws:s3:::b/spend/dt=1/spend.csv"
    ));
}
