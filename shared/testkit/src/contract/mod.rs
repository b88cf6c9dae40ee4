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
//! To add a behaviour: write the `async fn` in `keys.rs`, then add its name, on one line, to the list in
//! `key_store_case_list!` below. That list is the only one: `KEY_STORE_CASES` and the tests
//! `key_store_contract_tests!` generates are both made from it, and `tests/contract_cases.rs` fails for a
//! case written but not listed.
//!
//! The other ports (users, teams, IdPs, sign-in links, settings, CLI sessions, setup tokens, SCIM, counters,
//! usage, spend, events, policies, device sign-in) take the whole `Store` behind an `Arc`, because some cases spawn tasks over clones of
//! it: `pub async fn(Arc<dyn Store>)` in `users.rs`, `teams.rs`, `idps.rs`, `links.rs`, `settings.rs`,
//! `cli_sessions.rs`, `setup_tokens.rs`, `scim.rs`, `counters.rs`, `usage.rs`, `spend.rs`, `events.rs`, `policies.rs`, `device_sign_in.rs`. To add
//! one, add its name on one line under its module in `store_case_list!`, which makes `STORE_CASES` and
//! `store_contract_tests!`'s tests the same way (`store_contract(store)` runs them all in sequence). A new port
//! module is a new `module { ... }` block there. Their values come from `builders`. `counters::assert_exact` is
//! also public, for backends to run across several handles.
pub mod builders;
pub mod cli_sessions;
pub mod counters;
pub mod device_sign_in;
pub mod events;
pub mod idps;
pub mod keys;
pub mod links;
pub mod policies;
pub mod scim;
pub mod settings;
pub mod setup_tokens;
pub mod spend;
pub mod teams;
pub mod usage;
pub mod users;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sluice_core::store::{KeyStore, Store};

/// One behaviour of the `KeyStore` contract, as a plain function pointer so runners can take it by value.
pub type KeyStoreCase =
    for<'a> fn(&'a dyn KeyStore) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The `KeyStore` cases, each named once: the one list `KEY_STORE_CASES` and `key_store_contract_tests!` are
/// made from. Hands `$then! { $($args)*; case, case, ... }`; `$then` is one of this crate's exported macros.
#[doc(hidden)]
#[macro_export]
macro_rules! key_store_case_list {
    ($then:ident $($args:tt)*) => {
        $crate::$then! { $($args)*;
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
            update_changes_only_given_fields_and_clears_with_none,
            update_keeps_the_revocation,
            update_of_unknown_id_is_none,
            delete_removes_the_key_by_id_and_by_hash,
            delete_of_unknown_id_is_false,
        }
    };
}

/// `key_store_case_list!`'s cases as `KEY_STORE_CASES`' table.
#[doc(hidden)]
#[macro_export]
macro_rules! key_store_case_table {
    (; $($case:ident),+ $(,)?) => {
        &[$((
            stringify!($case),
            |store| ::std::boxed::Box::pin($crate::contract::keys::$case(store)),
        )),+]
    };
}

/// Every `KeyStore` behaviour, by name.
pub const KEY_STORE_CASES: &[(&str, KeyStoreCase)] =
    crate::key_store_case_list!(key_store_case_table);

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
        $crate::key_store_case_list!(key_store_contract_tests @cases $runner);
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

/// One behaviour of the identity, settings, session, counter and usage ports, on a whole store.
pub type StoreCase = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// The `Store` cases beyond keys, by port module, each named once: the one list `STORE_CASES` and
/// `store_contract_tests!` are made from. Hands `$then! { $($args)*; module { case, ... } ... }`.
#[doc(hidden)]
#[macro_export]
macro_rules! store_case_list {
    ($then:ident $($args:tt)*) => {
        $crate::$then! { $($args)*;
            users {
                create_then_find_by_id_and_email,
                duplicate_email_is_already_exists,
                duplicate_id_is_already_exists,
                update_replaces_role_team_and_active,
                groups_round_trip_through_create_and_update,
                update_of_unknown_id_is_false,
                list_is_oldest_first,
                delete_removes_the_user_and_frees_the_email,
                delete_of_unknown_id_is_false,
            }
            teams {
                create_then_find_and_list_oldest_first,
                duplicate_name_is_already_exists,
                duplicate_id_is_already_exists,
                delete_removes_the_team_and_frees_the_name,
                delete_of_unknown_id_is_false,
            }
            idps {
                create_list_and_delete,
                duplicate_issuer_is_already_exists,
                duplicate_id_is_already_exists,
                delete_of_unknown_id_is_false,
                update_replaces_the_provider_and_moves_its_issuer,
                groups_claim_round_trips_through_create_and_update,
            }
            links {
                create_find_list_and_delete,
                a_sign_in_is_bound_once,
            }
            settings {
                absent_setting_is_none,
                put_then_get_and_overwrite,
                put_if_absent_keeps_the_first_value,
                put_if_absent_gives_concurrent_callers_one_answer,
            }
            cli_sessions {
                create_get_complete_and_delete,
                duplicate_id_is_already_exists,
                complete_of_unknown_id_is_false,
                expired_session_reads_as_none,
            }
            setup_tokens {
                put_then_take_once,
                expired_token_is_not_given,
                concurrent_takes_give_it_once,
                duplicate_id_is_already_exists,
                take_of_unknown_id_is_none,
            }
            scim {
                put_get_replace_list_and_delete,
                kinds_and_providers_are_apart,
            }
            counters {
                increment_counts_up,
                refuses_at_the_bound_without_counting,
                windows_are_independent,
                scopes_are_independent,
                absent_window_counts_zero,
                bound_zero_refuses,
                concurrent_increments_admit_exactly_the_bound,
            }
            usage {
                put_then_get_by_request_id,
                second_put_of_a_request_id_is_false_and_keeps_the_first,
                between_is_from_inclusive_to_exclusive_oldest_first_across_two_days,
                records_with_every_optional_field_and_with_none_round_trip,
                sanitized_record_with_former_nuls_and_unicode_round_trips,
            }
            spend {
                applied_once_then_a_replay_changes_nothing,
                different_records_add_up_and_fields_with_dots_round_trip,
                concurrent_applications_count_each_record_exactly_once,
                budget_inputs_returns_present_settings_and_counters_only,
                counters_in_lists_one_family_in_key_order,
            }
            events {
                an_event_is_stored_once_and_found_by_id,
                recent_events_are_newest_first_and_limited,
                deliveries_are_logged_newest_first_and_limited,
            }
            policies {
                replace_from_the_current_version_is_read_as_the_document_and_the_setting,
                replace_from_a_stale_or_future_version_is_false_and_changes_nothing,
                concurrent_replaces_from_one_version_give_exactly_one_true,
                changes_are_listed_newest_first_with_every_field_and_limited,
            }
            device_sign_in {
                device_is_found_by_id_and_by_user_code,
                duplicate_device_id_or_user_code_is_already_exists,
                approve_decides_a_pending_authorization_once,
                deny_refuses_a_pending_authorization_for_good,
                concurrent_decides_give_exactly_one_true,
                poll_is_refused_within_the_interval,
                redeem_gives_an_approved_authorization_once,
                concurrent_redeems_give_it_once,
                family_is_created_read_and_unique,
                revoke_keeps_the_first_time,
                refresh_token_is_stored_read_and_unique,
                use_refresh_is_first_once_then_replayed,
                concurrent_uses_give_exactly_one_first,
                put_refresh_moves_the_family_expiry_later_never_earlier,
            }
        }
    };
}

/// `store_case_list!`'s cases as `STORE_CASES`' table.
#[doc(hidden)]
#[macro_export]
macro_rules! store_case_table {
    (; $($module:ident { $($case:ident),+ $(,)? })+) => {
        &[$($((
            concat!(stringify!($module), "::", stringify!($case)),
            |store| ::std::boxed::Box::pin($crate::contract::$module::$case(store)),
        )),+),+]
    };
}

/// Every `Store` behaviour beyond keys, by `module::case` name.
pub const STORE_CASES: &[(&str, StoreCase)] = crate::store_case_list!(store_case_table);

/// Runs every `STORE_CASES` case in sequence against one store; panics at the first broken behaviour.
pub async fn store_contract(store: Arc<dyn Store>) {
    for (name, case) in STORE_CASES {
        tracing::info!(case = name, "store contract");
        case(Arc::clone(&store)).await;
    }
}

/// Generates one `#[tokio::test]` per `STORE_CASES` case, in one submodule per port (`users::…`). The argument
/// is the name of an `async fn(StoreCase)` in the calling module that builds a fresh store, runs
/// `case(Arc::new(store)).await`, and cleans up. Needs `tokio` (`macros`, `rt-multi-thread`) like
/// `key_store_contract_tests!`.
#[macro_export]
macro_rules! store_contract_tests {
    ($runner:ident) => {
        $crate::store_case_list!(store_contract_tests @ports $runner);
    };
    (@ports $runner:ident; $($module:ident { $($case:ident),+ $(,)? })+) => {
        $(
            mod $module {
                $(
                    // Two workers, so backends that hand work to other threads really run concurrently.
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        super::$runner(|store| {
                            ::std::boxed::Box::pin($crate::contract::$module::$case(store))
                        })
                        .await;
                    }
                )+
            }
        )+

        #[test]
        fn every_store_case_has_a_test() {
            let generated: &[&str] =
                &[$($(concat!(stringify!($module), "::", stringify!($case))),+),+];
            let listed: ::std::vec::Vec<&str> =
                $crate::contract::STORE_CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(generated, listed.as_slice());
        }
    };
}
