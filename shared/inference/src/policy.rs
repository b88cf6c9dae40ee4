//! Policies on the request path: the model check, what the matched policy does to the body, and the record of a
//! refusal (a usage-ledger event, visible in analytics, and a `policy_refused` notification event, delivered when
//! a destination turns the `policy_refusal` category on).

use sluice_core::error::ApiError;
use sluice_core::models::{CATALOG, ResolvedModel};
use sluice_core::notify::{
    EventDetail, EventType, NotificationPayload, NotifyEvent, PolicyRefusalDetail,
    policy_refusal_event_id,
};
use sluice_core::policy::enforce::{Refusal, allowed_models, apply, check_model};
use sluice_core::shape::ClientRequest;
use sluice_core::spend::usage::{Outcome, PolicyRefusalNote};
use sluice_core::translate::UsageSeen;

use crate::gateway::{Admitted, GatewayState};
use crate::usage::UsageContext;

/// The model names this gateway serves: the catalogue, then the administrator's names.
#[must_use]
pub fn model_names(state: &GatewayState) -> Vec<&str> {
    let mut out: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
    for id in state.resolver.custom_ids() {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Holds a request to the caller's policy: refuses it (recorded), or applies it to the body.
///
/// # Errors
/// The refusal as the Anthropic error (400 `invalid_request_error`).
pub async fn enforce(
    state: &GatewayState,
    admitted: &Admitted,
    req: &mut ClientRequest,
    model: &ResolvedModel,
    usage: &UsageContext,
) -> Result<(), ApiError> {
    let Some(matched) = admitted.matched() else {
        return Ok(());
    };
    // The list of models allowed is only for a refusal's message: an allowed model skips building it.
    let checked = if matched.policy.model_refusal(&model.family).is_some() {
        let allowed = allowed_models(matched.policy, model_names(state));
        check_model(&matched, &model.family, &allowed)
    } else {
        Ok(())
    };
    let applied =
        checked.and_then(|()| apply(&matched, &mut req.body, &req.betas, model.long_context));
    match applied {
        Ok(applied) => {
            if applied != sluice_core::policy::Applied::default() {
                tracing::info!(policy = %matched.policy.name, removed_tools = ?applied.removed_tools, withheld_results = applied.withheld_results, max_tokens = ?applied.max_tokens_lowered, thinking_budget = ?applied.thinking_budget, "policy applied");
            }
            Ok(())
        }
        Err(refusal) => Err(refused(state, admitted, refusal, usage).await),
    }
}

/// Records a refusal and answers it.
pub async fn refused(
    state: &GatewayState,
    admitted: &Admitted,
    refusal: Refusal,
    usage: &UsageContext,
) -> ApiError {
    let caller = &admitted.caller;
    tracing::info!(user_id = ?caller.user_id, key_id = ?caller.key_id, policy = %refusal.policy, rule = refusal.rule.as_str(), refused = %refusal.subject, "policy refused");
    let mut record = usage.record(&UsageSeen::default(), Outcome::PolicyRefused, None);
    record.policy_refusal = Some(PolicyRefusalNote {
        policy: refusal.policy.clone(),
        rule: refusal.rule.as_str().to_owned(),
        refused: refusal.subject.clone(),
    });
    record.cost_micros = Some(0);
    let now = chrono::Utc::now();
    let window = now.timestamp().div_euclid(60) * 60;
    let who = caller
        .user_id
        .as_deref()
        .or(caller.key_id.as_deref())
        .unwrap_or("-");
    let event = NotifyEvent {
        id: policy_refusal_event_id(who, &refusal.policy, refusal.rule.as_str(), window),
        created_at_ms: now.timestamp_millis(),
        payload: NotificationPayload::new(
            EventType::PolicyRefused,
            caller.email.clone(),
            caller.team_id.clone(),
            None,
            EventDetail::PolicyRefusal(PolicyRefusalDetail {
                policy: refusal.policy.clone(),
                rule: refusal.rule.as_str().to_owned(),
                refused: refusal.subject.clone(),
            }),
            now,
        ),
    };
    let store_event = async {
        if let Err(e) = state.app.store.put_event_if_new(&event).await {
            tracing::warn!(error = %e, "policy refusal event not stored");
        }
    };
    tokio::join!(state.ledger.write(record), store_event);
    refusal.error()
}
