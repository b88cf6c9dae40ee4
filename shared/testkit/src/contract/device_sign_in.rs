//! `DeviceSignInStore` behaviours: device authorizations found by id and by user code, decided once, polled no
//! faster than the interval, redeemed once; token families revoked once; refresh tokens used once, every later
//! use a replay. Every id and user code is fresh, so the cases share a store.

use std::sync::Arc;

use sluice_core::store::{
    DeviceAuthorization, DeviceState, RefreshToken, RefreshUse, Store, StoreError, TokenFamily,
};
use uuid::Uuid;

use crate::fixtures::now_ms;

/// How many callers race in the concurrent cases.
const CALLERS: usize = 8;
/// Long enough that nothing a case stores expires while it runs.
const LIFETIME_MS: i64 = 600_000;

/// A SHA-256-sized hex id, fresh per call.
fn hash_id() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// `XXXX-XXXX`, fresh per call.
fn user_code() -> String {
    let letters = Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    format!("{}-{}", &letters[..4], &letters[4..8])
}

fn new_device() -> DeviceAuthorization {
    let now = now_ms();
    DeviceAuthorization {
        id: hash_id(),
        user_code: user_code(),
        created_at_ms: now,
        expires_at_ms: now + LIFETIME_MS,
        state: DeviceState::Pending,
        user_id: None,
        last_poll_ms: None,
    }
}

fn new_family(user_id: &str) -> TokenFamily {
    let now = now_ms();
    TokenFamily {
        id: format!("fam_{}", Uuid::new_v4().simple()),
        user_id: user_id.to_owned(),
        created_at_ms: now,
        expires_at_ms: now + LIFETIME_MS,
        revoked_at_ms: None,
    }
}

fn new_refresh(family: &TokenFamily, expires_at_ms: i64) -> RefreshToken {
    RefreshToken {
        id: hash_id(),
        family_id: family.id.clone(),
        user_id: family.user_id.clone(),
        created_at_ms: now_ms(),
        expires_at_ms,
        used_at_ms: None,
    }
}

fn new_user_id() -> String {
    format!("user_{}", Uuid::new_v4().simple())
}

async fn create_device(store: &dyn Store) -> DeviceAuthorization {
    let device = new_device();
    store
        .create_device(&device)
        .await
        .unwrap_or_else(|e| panic!("create_device({}) failed: {e}", device.id));
    device
}

async fn device(store: &dyn Store, id: &str) -> DeviceAuthorization {
    store
        .device(id)
        .await
        .expect("device")
        .unwrap_or_else(|| panic!("device {id} is stored"))
}

async fn create_family(store: &dyn Store) -> TokenFamily {
    let family = new_family(&new_user_id());
    store
        .create_family(&family)
        .await
        .unwrap_or_else(|e| panic!("create_family({}) failed: {e}", family.id));
    family
}

async fn family(store: &dyn Store, id: &str) -> TokenFamily {
    store
        .family(id)
        .await
        .expect("family")
        .unwrap_or_else(|| panic!("family {id} is stored"))
}

async fn put_refresh(store: &dyn Store, token: &RefreshToken) {
    store
        .put_refresh(token)
        .await
        .unwrap_or_else(|e| panic!("put_refresh({}) failed: {e}", token.id));
}

pub async fn device_is_found_by_id_and_by_user_code(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;

    assert_eq!(device(&*store, &created.id).await, created);
    assert_eq!(
        store
            .device_by_user_code(&created.user_code)
            .await
            .expect("device_by_user_code"),
        Some(created)
    );
    assert_eq!(store.device(&hash_id()).await.expect("device"), None);
    assert_eq!(
        store
            .device_by_user_code(&user_code())
            .await
            .expect("device_by_user_code"),
        None
    );
}

pub async fn duplicate_device_id_or_user_code_is_already_exists(store: Arc<dyn Store>) {
    let first = create_device(&*store).await;

    // A fresh user code (`new_device` makes one) under the taken id.
    let same_id = DeviceAuthorization {
        id: first.id.clone(),
        ..new_device()
    };
    let err = store
        .create_device(&same_id)
        .await
        .expect_err("the id is taken");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        store
            .device_by_user_code(&same_id.user_code)
            .await
            .expect("device_by_user_code"),
        None,
        "the refused create kept nothing, not even its user code"
    );

    let same_code = DeviceAuthorization {
        user_code: first.user_code.clone(),
        ..new_device()
    };
    let err = store
        .create_device(&same_code)
        .await
        .expect_err("the user code is taken");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(store.device(&same_code.id).await.expect("device"), None);
    assert_eq!(
        store
            .device_by_user_code(&first.user_code)
            .await
            .expect("device_by_user_code"),
        Some(first.clone())
    );
    assert_eq!(device(&*store, &first.id).await, first, "unchanged");
}

pub async fn approve_decides_a_pending_authorization_once(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;
    let user_id = new_user_id();

    assert!(
        store
            .decide_device(&created.id, Some(&user_id))
            .await
            .expect("decide_device")
    );
    let approved = DeviceAuthorization {
        state: DeviceState::Approved,
        user_id: Some(user_id.clone()),
        ..created.clone()
    };
    assert_eq!(device(&*store, &created.id).await, approved);

    for again in [Some("user_other"), None] {
        assert!(
            !store
                .decide_device(&created.id, again)
                .await
                .expect("decide_device"),
            "a decided authorization is decided again by {again:?}"
        );
    }
    assert_eq!(device(&*store, &created.id).await, approved, "unchanged");
    assert!(
        !store
            .decide_device(&hash_id(), Some(&user_id))
            .await
            .expect("decide_device"),
        "an unknown id"
    );
}

pub async fn deny_refuses_a_pending_authorization_for_good(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;

    assert!(
        store
            .decide_device(&created.id, None)
            .await
            .expect("decide_device")
    );
    let denied = DeviceAuthorization {
        state: DeviceState::Denied,
        ..created.clone()
    };
    assert_eq!(device(&*store, &created.id).await, denied);
    assert!(
        !store
            .decide_device(&created.id, Some("user_late"))
            .await
            .expect("decide_device"),
        "a denied authorization cannot be approved"
    );
    assert_eq!(
        store.redeem_device(&created.id).await.expect("redeem"),
        None
    );
    assert_eq!(device(&*store, &created.id).await, denied, "unchanged");
}

pub async fn concurrent_decides_give_exactly_one_true(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;
    let calls: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), created.id.clone());
            // Half approve (each as someone else), half deny.
            let approver = (i % 2 == 0).then(|| format!("user_racer_{i}"));
            tokio::spawn(async move {
                let won = store
                    .decide_device(&id, approver.as_deref())
                    .await
                    .expect("decide_device");
                (won, approver)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for call in calls {
        let (won, approver) = call.await.expect("task ran");
        if won {
            winners.push(approver);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = winners.remove(0);
    let stored = device(&*store, &created.id).await;
    let state = if winner.is_some() {
        DeviceState::Approved
    } else {
        DeviceState::Denied
    };
    assert_eq!((stored.state, stored.user_id), (state, winner));
}

pub async fn poll_is_refused_within_the_interval(store: Arc<dyn Store>) {
    const INTERVAL_MS: i64 = 5_000;
    let created = create_device(&*store).await;
    let first = created.created_at_ms + 1_000;

    assert!(
        store
            .poll_device(&created.id, first, INTERVAL_MS)
            .await
            .expect("poll_device"),
        "the first poll"
    );
    assert_eq!(device(&*store, &created.id).await.last_poll_ms, Some(first));

    assert!(
        !store
            .poll_device(&created.id, first + INTERVAL_MS - 1, INTERVAL_MS)
            .await
            .expect("poll_device"),
        "a poll within the interval is too soon"
    );
    assert_eq!(
        device(&*store, &created.id).await.last_poll_ms,
        Some(first),
        "a refused poll is not recorded"
    );

    let second = first + INTERVAL_MS;
    assert!(
        store
            .poll_device(&created.id, second, INTERVAL_MS)
            .await
            .expect("poll_device"),
        "a poll one interval later"
    );
    let stored = device(&*store, &created.id).await;
    assert_eq!(stored.last_poll_ms, Some(second));
    assert_eq!(
        stored.state,
        DeviceState::Pending,
        "polling decides nothing"
    );
    assert!(
        !store
            .poll_device(&hash_id(), second, INTERVAL_MS)
            .await
            .expect("poll_device"),
        "an unknown id"
    );
}

pub async fn redeem_gives_an_approved_authorization_once(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;
    let user_id = new_user_id();
    assert_eq!(
        store.redeem_device(&created.id).await.expect("redeem"),
        None,
        "a pending authorization is not redeemed"
    );

    assert!(
        store
            .decide_device(&created.id, Some(&user_id))
            .await
            .expect("decide_device")
    );
    let approved = DeviceAuthorization {
        state: DeviceState::Approved,
        user_id: Some(user_id),
        ..created.clone()
    };
    assert_eq!(
        store.redeem_device(&created.id).await.expect("redeem"),
        Some(approved.clone()),
        "the record as approved"
    );
    assert_eq!(
        device(&*store, &created.id).await,
        DeviceAuthorization {
            state: DeviceState::Redeemed,
            ..approved
        }
    );
    assert_eq!(
        store.redeem_device(&created.id).await.expect("redeem"),
        None,
        "a second redeem"
    );
    assert_eq!(
        store.redeem_device(&hash_id()).await.expect("redeem"),
        None,
        "an unknown id"
    );
}

pub async fn concurrent_redeems_give_it_once(store: Arc<dyn Store>) {
    let created = create_device(&*store).await;
    assert!(
        store
            .decide_device(&created.id, Some("user_redeemer"))
            .await
            .expect("decide_device")
    );
    let calls: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, id) = (Arc::clone(&store), created.id.clone());
            tokio::spawn(async move { store.redeem_device(&id).await.expect("redeem") })
        })
        .collect();
    let mut redeemed = Vec::new();
    for call in calls {
        if let Some(device) = call.await.expect("task ran") {
            redeemed.push(device);
        }
    }
    assert_eq!(redeemed.len(), 1, "redeemed: {redeemed:?}");
    assert_eq!(redeemed[0].state, DeviceState::Approved);
    assert_eq!(redeemed[0].user_id.as_deref(), Some("user_redeemer"));
    assert_eq!(
        device(&*store, &created.id).await.state,
        DeviceState::Redeemed
    );
}

pub async fn family_is_created_read_and_unique(store: Arc<dyn Store>) {
    let created = create_family(&*store).await;

    assert_eq!(family(&*store, &created.id).await, created);
    let err = store
        .create_family(&TokenFamily {
            user_id: new_user_id(),
            ..created.clone()
        })
        .await
        .expect_err("the id is taken");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(family(&*store, &created.id).await, created, "unchanged");
    assert_eq!(
        store.family("fam_unknown_contract").await.expect("family"),
        None
    );
}

pub async fn revoke_keeps_the_first_time(store: Arc<dyn Store>) {
    let created = create_family(&*store).await;
    let at = now_ms();

    assert!(
        store
            .revoke_family(&created.id, at)
            .await
            .expect("revoke_family")
    );
    assert_eq!(family(&*store, &created.id).await.revoked_at_ms, Some(at));
    assert!(
        store
            .revoke_family(&created.id, at + 1_000)
            .await
            .expect("revoke_family"),
        "a second revocation finds the family"
    );
    assert_eq!(
        family(&*store, &created.id).await,
        TokenFamily {
            revoked_at_ms: Some(at),
            ..created
        },
        "the first revocation time is kept"
    );
    assert!(
        !store
            .revoke_family(&format!("fam_{}", Uuid::new_v4().simple()), at)
            .await
            .expect("revoke_family"),
        "an unknown family"
    );
}

pub async fn refresh_token_is_stored_read_and_unique(store: Arc<dyn Store>) {
    let family = create_family(&*store).await;
    let token = new_refresh(&family, family.expires_at_ms);
    put_refresh(&*store, &token).await;

    assert_eq!(
        store.refresh_token(&token.id).await.expect("refresh_token"),
        Some(token.clone())
    );
    let err = store
        .put_refresh(&RefreshToken {
            user_id: new_user_id(),
            ..token.clone()
        })
        .await
        .expect_err("the id is taken");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        store.refresh_token(&token.id).await.expect("refresh_token"),
        Some(token),
        "unchanged"
    );
    assert_eq!(
        store
            .refresh_token(&hash_id())
            .await
            .expect("refresh_token"),
        None
    );
}

pub async fn use_refresh_is_first_once_then_replayed(store: Arc<dyn Store>) {
    let family = create_family(&*store).await;
    let token = new_refresh(&family, family.expires_at_ms);
    put_refresh(&*store, &token).await;
    let at = now_ms();

    let used = RefreshToken {
        used_at_ms: Some(at),
        ..token.clone()
    };
    assert_eq!(
        store.use_refresh(&token.id, at).await.expect("use_refresh"),
        Some(RefreshUse::First(used.clone()))
    );
    for later in [at + 1, at + 60_000] {
        assert_eq!(
            store
                .use_refresh(&token.id, later)
                .await
                .expect("use_refresh"),
            Some(RefreshUse::Replayed(used.clone())),
            "a replay carries the first use time"
        );
    }
    assert_eq!(
        store.refresh_token(&token.id).await.expect("refresh_token"),
        Some(used)
    );
    assert_eq!(
        store
            .use_refresh(&hash_id(), at)
            .await
            .expect("use_refresh"),
        None
    );
}

pub async fn concurrent_uses_give_exactly_one_first(store: Arc<dyn Store>) {
    let family = create_family(&*store).await;
    let token = new_refresh(&family, family.expires_at_ms);
    put_refresh(&*store, &token).await;
    let at = now_ms();

    let calls: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), token.id.clone());
            let at = at + i64::try_from(i).expect("small");
            tokio::spawn(async move { store.use_refresh(&id, at).await.expect("use_refresh") })
        })
        .collect();
    let mut firsts = Vec::new();
    let mut replays = Vec::new();
    for call in calls {
        match call.await.expect("task ran") {
            Some(RefreshUse::First(used)) => firsts.push(used),
            Some(RefreshUse::Replayed(used)) => replays.push(used),
            None => panic!("the token is stored"),
        }
    }
    assert_eq!(firsts.len(), 1, "firsts: {firsts:?}");
    let first = firsts.remove(0);
    assert!(first.used_at_ms.is_some());
    for replay in &replays {
        assert_eq!(replay, &first, "every replay sees the one first use");
    }
}

pub async fn put_refresh_moves_the_family_expiry_later_never_earlier(store: Arc<dyn Store>) {
    let created = create_family(&*store).await;

    let later = new_refresh(&created, created.expires_at_ms + 60_000);
    put_refresh(&*store, &later).await;
    assert_eq!(
        family(&*store, &created.id).await,
        TokenFamily {
            expires_at_ms: later.expires_at_ms,
            ..created.clone()
        },
        "moved to the later token's expiry, nothing else changed"
    );

    let earlier = new_refresh(&created, created.expires_at_ms - 60_000);
    put_refresh(&*store, &earlier).await;
    assert_eq!(
        family(&*store, &created.id).await.expires_at_ms,
        later.expires_at_ms,
        "an earlier token does not move it back"
    );
    assert_eq!(
        store
            .refresh_token(&earlier.id)
            .await
            .expect("refresh_token"),
        Some(earlier),
        "the earlier token is stored all the same"
    );
}
