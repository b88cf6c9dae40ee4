//! Secrets at start-up: a value from the environment, or — on Lambda — from AWS Secrets Manager, named by a
//! companion `*_SECRET_ARN` variable, so passwords and signing keys never sit in plain function configuration.

use aws_config::SdkConfig;

#[derive(Debug, thiserror::Error)]
#[error("cannot read secret {name} from Secrets Manager ({arn}): {reason}")]
pub struct SecretError {
    pub name: String,
    pub arn: String,
    pub reason: ReadSecretError,
}

/// Why one secret's string value cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadSecretError {
    /// Secrets Manager refused or could not be reached (its message, with the SDK's context).
    #[error("{0}")]
    Service(String),
    #[error("the secret has no string value")]
    NoStringValue,
}

/// The value of `var` if set; else the secret named by `arn_var` (its `SecretString`); else `None`.
///
/// # Errors
/// When `arn_var` is set but the secret cannot be read — a misconfiguration that must stop start-up.
#[expect(
    clippy::disallowed_methods,
    reason = "start-up configuration, called from a function's main: a variable, else the secret it names"
)]
pub async fn env_or_secret(
    config: &SdkConfig,
    var: &str,
    arn_var: &str,
) -> Result<Option<String>, SecretError> {
    if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(v));
    }
    let Some(arn) = std::env::var(arn_var).ok().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    read_secret(config, &arn)
        .await
        .map(Some)
        .map_err(|reason| SecretError {
            name: var.to_owned(),
            arn,
            reason,
        })
}

/// Reads one secret's string value.
///
/// # Errors
/// The service's message when the secret is missing, not a string, or not readable.
pub async fn read_secret(config: &SdkConfig, secret_id: &str) -> Result<String, ReadSecretError> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            ReadSecretError::Service(
                aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
            )
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or(ReadSecretError::NoStringValue)
}
