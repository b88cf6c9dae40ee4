//! What only DynamoDB has for device sign-in: the calls each operation makes, the raw items with their TTL,
//! and a user code freed by its authorization's expiry before TTL deleted the marker.

use aws_sdk_dynamodb::types::AttributeValue;
use sluice_core::store::{
    DeviceAuthorization, DeviceSignInStore, DeviceState, RefreshToken, StoreError, TokenFamily,
};
use sluice_testkit::fixtures::now_ms;
use sluice_testkit::unique_name;

use crate::support::{CallRecorder, fresh_store, moto_client, n, raw_item, s};

/// The TTL attribute for `expires_at_ms`: whole seconds, rounded up.
fn ttl(expires_at_ms: i64) -> AttributeValue {
    n(expires_at_ms.div_euclid(1000) + i64::from(expires_at_ms.rem_euclid(1000) > 0))
}

fn device(expires_at_ms: i64) -> DeviceAuthorization {
    let code = unique_name("c")[2..].to_ascii_uppercase();
    DeviceAuthorization {
        id: unique_name("device"),
        user_code: format!("{}-{}", &code[..4], &code[4..8]),
        created_at_ms: now_ms(),
        expires_at_ms,
        state: DeviceState::Pending,
        user_id: None,
        last_poll_ms: None,
    }
}

fn family(expires_at_ms: i64) -> TokenFamily {
    TokenFamily {
        id: unique_name("fam"),
        user_id: "user_device".into(),
        created_at_ms: now_ms(),
        expires_at_ms,
        revoked_at_ms: None,
    }
}

fn refresh(family: &TokenFamily, expires_at_ms: i64) -> RefreshToken {
    RefreshToken {
        id: unique_name("refresh"),
        family_id: family.id.clone(),
        user_id: family.user_id.clone(),
        created_at_ms: now_ms(),
        expires_at_ms,
        used_at_ms: None,
    }
}

#[tokio::test]
async fn device_sign_in_operations_make_the_documented_calls() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let now = now_ms();
    let device = device(now + 600_000);
    recorder.take();

    store.create_device(&device).await.expect("create_device");
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);
    store.device(&device.id).await.expect("device");
    assert_eq!(recorder.take_operations(), ["GetItem"]);
    store
        .device_by_user_code(&device.user_code)
        .await
        .expect("device_by_user_code");
    assert_eq!(recorder.take_operations(), ["GetItem", "GetItem"]);
    store
        .poll_device(&device.id, now, 5_000)
        .await
        .expect("poll_device");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);
    store
        .decide_device(&device.id, Some("user_device"))
        .await
        .expect("decide_device");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);
    store
        .redeem_device(&device.id)
        .await
        .expect("redeem_device");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);

    let family = family(now + 600_000);
    store.create_family(&family).await.expect("create_family");
    assert_eq!(recorder.take_operations(), ["PutItem"]);
    let token = refresh(&family, now + 900_000);
    store.put_refresh(&token).await.expect("put_refresh");
    assert_eq!(recorder.take_operations(), ["UpdateItem", "PutItem"]);
    store.use_refresh(&token.id, now).await.expect("first use");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);
    store.use_refresh(&token.id, now).await.expect("replay");
    assert_eq!(recorder.take_operations(), ["UpdateItem", "GetItem"]);
    store
        .revoke_family(&family.id, now)
        .await
        .expect("revoke_family");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);
}

#[tokio::test]
async fn every_item_carries_its_ttl_and_put_refresh_moves_the_familys() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let device = device(now_ms() + 600_001);
    store.create_device(&device).await.expect("create_device");
    let device_ttl = ttl(device.expires_at_ms);

    let item = raw_item(
        &client,
        store.table(),
        format!("DEVICE#{}", device.id),
        "DEVICE",
    )
    .await
    .expect("device item");
    assert_eq!(item.get("expires_at"), Some(&device_ttl));
    assert_eq!(item.get("item_type"), Some(&s("device")));
    assert_eq!(item.get("state"), Some(&s("pending")));
    let marker = raw_item(
        &client,
        store.table(),
        format!("DEVICEUSER#{}", device.user_code),
        "DEVICEUSER",
    )
    .await
    .expect("user code marker");
    assert_eq!(marker.get("id"), Some(&s(&device.id)));
    assert_eq!(marker.get("expires_at"), Some(&device_ttl));

    let family = family(now_ms() + 60_000);
    store.create_family(&family).await.expect("create_family");
    let token = refresh(&family, family.expires_at_ms + 3_600_000);
    store.put_refresh(&token).await.expect("put_refresh");
    let token_ttl = ttl(token.expires_at_ms);
    let family_item = raw_item(
        &client,
        store.table(),
        format!("TOKENFAMILY#{}", family.id),
        "TOKENFAMILY",
    )
    .await
    .expect("family item");
    assert_eq!(
        family_item.get("expires_at_ms"),
        Some(&n(token.expires_at_ms))
    );
    assert_eq!(
        family_item.get("expires_at"),
        Some(&token_ttl),
        "TTL moved too"
    );
    let token_item = raw_item(
        &client,
        store.table(),
        format!("REFRESH#{}", token.id),
        "REFRESH",
    )
    .await
    .expect("refresh item");
    assert_eq!(token_item.get("expires_at"), Some(&token_ttl));
    assert!(!token_item.contains_key("used_at_ms"), "{token_item:?}");
}

#[tokio::test]
async fn an_expired_authorizations_user_code_can_be_taken_again() {
    let store = fresh_store(moto_client(None)).await;
    let expired = device(now_ms() - 1);
    store.create_device(&expired).await.expect("create expired");
    // TTL has not deleted the marker yet; a live authorization's code stays taken.
    let live = DeviceAuthorization {
        user_code: expired.user_code.clone(),
        ..device(now_ms() + 600_000)
    };

    store
        .create_device(&live)
        .await
        .expect("the expired authorization's user code is free");

    assert_eq!(
        store
            .device_by_user_code(&live.user_code)
            .await
            .expect("device_by_user_code"),
        Some(live.clone())
    );
    let again = DeviceAuthorization {
        user_code: live.user_code.clone(),
        ..device(now_ms() + 600_000)
    };
    let err = store
        .create_device(&again)
        .await
        .expect_err("taken while live");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
}
