//! The price table a process prices usage with: the seeded rows plus the admin overrides stored in the
//! `pricing.overrides` setting.
//!
//! Read when the process starts, then again on the first usage record written after [`REFRESH_EVERY`], so a
//! warm Lambda instance picks up an admin's change within minutes without a background task (which a frozen
//! instance would not run). The admin routes of the same process install a change at once (`install`), which
//! is what `sluice serve` and the router tests see.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sluice_core::spend::PriceTable;
use sluice_core::spend::pricing::{OVERRIDES_KEY, PriceOverrides};
use sluice_core::store::{SettingsStore, StoreError};

/// How long a process trusts the overrides it read.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

struct Loaded {
    table: Arc<PriceTable>,
    at: Instant,
}

/// The current price table, refreshed from the store when stale.
pub struct PriceBook {
    current: RwLock<Loaded>,
    /// `None`: a fixed table that is never read from the store (tests, tools).
    refresh: Option<Duration>,
}

impl PriceBook {
    /// A table that never changes.
    #[must_use]
    pub fn fixed(table: PriceTable) -> Self {
        Self {
            current: RwLock::new(Loaded {
                table: Arc::new(table),
                at: Instant::now(),
            }),
            refresh: None,
        }
    }

    /// Reads the overrides now and again after `refresh`. A setting that does not parse is logged and the
    /// seeded table used, since pricing nothing would be worse than pricing at list price.
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn load(store: &dyn SettingsStore, refresh: Duration) -> Result<Self, StoreError> {
        let table = read(store).await?;
        Ok(Self {
            current: RwLock::new(Loaded {
                table: Arc::new(table),
                at: Instant::now(),
            }),
            refresh: Some(refresh),
        })
    }

    fn snapshot(&self) -> (Arc<PriceTable>, Instant) {
        let guard = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (Arc::clone(&guard.table), guard.at)
    }

    /// The table to price with: the one held, re-read first when older than the refresh interval. A failed
    /// re-read keeps the held table (and tries again next time).
    pub async fn table(&self, store: &dyn SettingsStore) -> Arc<PriceTable> {
        let (table, at) = self.snapshot();
        let Some(refresh) = self.refresh else {
            return table;
        };
        if at.elapsed() < refresh {
            return table;
        }
        match read(store).await {
            Ok(fresh) => self.install(&fresh),
            Err(e) => {
                tracing::warn!(error = %e, "price overrides could not be re-read; keeping the held table");
                table
            }
        }
    }

    /// Holds `table` from now on (after an admin change in this process). Returns it.
    pub fn install(&self, table: &PriceTable) -> Arc<PriceTable> {
        let table = Arc::new(table.clone());
        let mut guard = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = Loaded {
            table: Arc::clone(&table),
            at: Instant::now(),
        };
        table
    }
}

async fn read(store: &dyn SettingsStore) -> Result<PriceTable, StoreError> {
    let Some(text) = store.get_setting(OVERRIDES_KEY).await? else {
        return Ok(PriceTable::seeded());
    };
    match PriceOverrides::parse(&text) {
        Ok(overrides) => Ok(overrides.table()),
        Err(e) => {
            tracing::error!(key = OVERRIDES_KEY, error = %e, "price overrides are not valid JSON; using the seeded prices");
            Ok(PriceTable::seeded())
        }
    }
}
