//! Translation of SDK failures into daplaya's errors: one short line each, naming the table
//! or the endpoint, never a credential.

use super::DynamoStore;
use crate::error::{Error, Result};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::error::Error as StdError;

impl DynamoStore {
    /// What a conditional write came to: `true` written, `false` its condition failed (the item
    /// is not as the write expected); any other failure is an error naming `table`.
    pub(super) fn conditional<T, E>(
        &self,
        table: &str,
        sent: Result<T, SdkError<E>>,
    ) -> Result<bool>
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        match sent {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::code)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(false)
            }
            Err(error) => Err(self.store_error(table, error)),
        }
    }

    /// Every SDK failure becomes one short line here and nowhere else.
    pub(super) fn store_error<E>(&self, table: &str, error: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        // A reply without an error code came from something that is not DynamoDB; that is
        // reported below as an unreachable endpoint.
        if let Some((service, code)) = error
            .as_service_error()
            .and_then(|service| Some((service, service.code()?)))
        {
            let message = one_line(service.message().unwrap_or(code));
            return match code {
                "ResourceNotFoundException" => Error::TableMissing {
                    table: table.to_string(),
                },
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException" => {
                    Error::Store(format!("DynamoDB rejected the credentials: {message}"))
                }
                "AccessDeniedException" => Error::Store(format!(
                    "DynamoDB denied access to table {table}: {message}"
                )),
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded" => Error::Store(format!(
                    "DynamoDB kept throttling requests to table {table}; try again shortly"
                )),
                _ => Error::Store(format!(
                    "DynamoDB refused a request to table {table} ({code}): {message}"
                )),
            };
        }
        if let Some(credentials) = find_source::<CredentialsError>(&error) {
            return credentials_error(credentials);
        }
        let reason = match &error {
            SdkError::TimeoutError(_) => "timed out".to_string(),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => "timed out".to_string(),
            SdkError::ResponseError(_) => format!("unreadable response: {}", root_cause(&error)),
            SdkError::ServiceError(reply) => format!(
                "it answered HTTP {}, which is not a DynamoDB reply",
                reply.raw().status().as_u16()
            ),
            _ => root_cause(&error),
        };
        Error::Store(format!(
            "cannot reach DynamoDB at {}: {reason}",
            self.location()
        ))
    }

    pub(super) fn location(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("region {}", self.region),
        }
    }
}

pub(super) fn credentials_error(error: &CredentialsError) -> Error {
    match error {
        CredentialsError::CredentialsNotLoaded(_) => Error::Store(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into(),
        ),
        other => Error::Store(format!(
            "cannot load AWS credentials: {}",
            root_cause(other)
        )),
    }
}

pub(super) fn find_source<'a, T: StdError + 'static>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The innermost cause, which names the actual problem ("Connection refused (os error 111)")
/// where the outer layers only say "dispatch failure".
pub(super) fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    one_line(&innermost.to_string())
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
