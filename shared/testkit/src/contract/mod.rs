//! The store contract: behaviours every backend of a `sluice-core` store port must show, written once and
//! run on SQLite and on DynamoDB (through moto).
//!
//! Each behaviour is a `pub async fn(&dyn Port)` in the port's module (`keys`). Cases use fresh ids and
//! hashes and only look at their own items, so they pass on an empty store and on one shared with other
//! cases. Run them either
//! - one `#[tokio::test]` per case: `sluice_testkit::key_store_contract_tests!(runner);` where
//!   `async fn runner(case: KeyStoreCase)` builds a store and calls `case(&store).await`; or
//! - all in sequence on one store: `key_store_contract(&store).await`.
//!
//! To add a behaviour: write the `async fn` in `keys.rs`, then add its name to `KEY_STORE_CASES` and to
//! the list in `key_store_contract_tests!` (a generated test fails if the two lists differ).
pub mod keys;

use std::future::Future;
use std::pin::Pin;

use sluice_core::store::KeyStore;

/// One behaviour of the `KeyStore` contract, as a plain function pointer so runners can take it by value.
pub type KeyStoreCase =
    for<'a> fn(&'a dyn KeyStore) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! cases {
    ($($case:ident),+ $(,)?) => {
        &[$((stringify!($case), |store| Box::pin(keys::$case(store)))),+]
    };
}

/// Every `KeyStore` behaviour, by name.
pub const KEY_STORE_CASES: &[(&str, KeyStoreCase)] = cases![
    create_then_find_by_hash_and_by_id,
    unknown_hash_and_id_are_none,
    duplicate_id_is_already_exists,
    duplicate_hash_is_already_exists,
    list_is_newest_first,
    revoke_sets_the_revocation_time,
    second_revoke_keeps_the_first_time,
    revoke_of_unknown_id_is_none,
    revoked_key_is_found_by_hash_but_inactive,
    owner_and_rate_limit_fields_round_trip,
    concurrent_creates_are_all_listed,
];

/// Runs every `KeyStore` case in sequence against one store; panics at the first broken behaviour.
pub async fn key_store_contract(store: &dyn KeyStore) {
    for (name, case) in KEY_STORE_CASES {
        tracing::info!(case = name, "key store contract");
        case(store).await;
    }
}

/// Generates one `#[tokio::test]` per `KeyStore` case in the calling module. The argument is the path of
/// an `async fn(KeyStoreCase)` that builds a fresh store, runs the case on it, and cleans up. The calling
/// crate needs `tokio` (with `macros` and `rt-multi-thread`) among its dependencies.
#[macro_export]
macro_rules! key_store_contract_tests {
    ($runner:path) => {
        $crate::key_store_contract_tests!(@cases $runner;
            create_then_find_by_hash_and_by_id,
            unknown_hash_and_id_are_none,
            duplicate_id_is_already_exists,
            duplicate_hash_is_already_exists,
            list_is_newest_first,
            revoke_sets_the_revocation_time,
            second_revoke_keeps_the_first_time,
            revoke_of_unknown_id_is_none,
            revoked_key_is_found_by_hash_but_inactive,
            owner_and_rate_limit_fields_round_trip,
            concurrent_creates_are_all_listed,
        );
    };
    (@cases $runner:path; $($case:ident),+ $(,)?) => {
        $(
            // Two workers, so backends that hand work to other threads really run concurrently.
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $runner(|store| ::std::boxed::Box::pin($crate::contract::keys::$case(store))).await;
            }
        )+

        #[test]
        fn every_key_store_case_has_a_test() {
            let generated: &[&str] = &[$(stringify!($case)),+];
            let listed: ::std::vec::Vec<&str> =
                $crate::contract::KEY_STORE_CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(generated, listed.as_slice());
        }
    };
}
