//! What a test or the `sluice bedrock-sim` command can change about the simulator.

use std::time::Duration;

/// Knobs of one simulator instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimConfig {
    /// Beta flags answered with `invalid beta flag: <name>` even though Bedrock knows them,
    /// to rehearse a model that stops accepting a beta.
    pub reject_betas: Vec<String>,
    /// Top-level body fields answered with `extraneous key [<name>] is not permitted`,
    /// even when they are on the allowlist (e.g. `output_config` on a model that lost it).
    pub reject_fields: Vec<String>,
    /// Pause between two streamed events, unless a `sim:slow=MS` marker asks for another one.
    pub event_delay: Duration,
}
