//! Settings that hold JSON documents (budgets, price overrides, web search providers, notification
//! configurations): read and written the same way by the admin API, the CLI and the consumers. Settings cannot
//! be deleted, so a cleared document is stored as JSON `null` and read back as `None`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{SettingsStore, StoreError};

/// The document under `key`; `null` or absent is `None`. A value that does not parse is logged and read as
/// absent, so the next write replaces it.
///
/// # Errors
/// The store failed.
pub async fn load_lenient<T, S>(store: &S, key: &str) -> Result<Option<T>, StoreError>
where
    T: DeserializeOwned,
    S: SettingsStore + ?Sized,
{
    let Some(text) = store.get_setting(key).await? else {
        return Ok(None);
    };
    match serde_json::from_str::<Option<T>>(&text) {
        Ok(value) => Ok(value),
        Err(e) => {
            tracing::warn!(%key, error = %e, "stored setting does not parse; it will be replaced");
            Ok(None)
        }
    }
}

/// The document under `key`; `null` or absent is `None`.
///
/// # Errors
/// The store failed, or the value is not a `T` (`StoreError::Corrupt`, naming the key).
pub async fn load_strict<T, S>(store: &S, key: &str) -> Result<Option<T>, StoreError>
where
    T: DeserializeOwned,
    S: SettingsStore + ?Sized,
{
    let Some(text) = store.get_setting(key).await? else {
        return Ok(None);
    };
    serde_json::from_str::<Option<T>>(&text).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
}

/// Stores `value` under `key` (`None` clears it).
///
/// # Errors
/// The store failed, or the value has no JSON form (`StoreError::Corrupt`).
pub async fn save<T, S>(store: &S, key: &str, value: &T) -> Result<(), StoreError>
where
    T: Serialize + ?Sized,
    S: SettingsStore + ?Sized,
{
    let text = serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {key}: {e}")))?;
    store.put_setting(key, &text).await
}
