//! The DynamoDB client: region and credentials from the standard AWS chain (without probing
//! instance metadata when nothing could come from it), the timeouts every request gets, and
//! the interceptor that reads DynamoDB's clock off every response.

use super::clock::ReadServerClock;
use super::DynamoStore;
use crate::config::DynamoSettings;
use crate::error::{Error, Result};
use crate::store::clock::ServerClock;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls;
use std::sync::Arc;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

impl DynamoStore {
    /// Builds the client without sending anything; the first request reveals whether DynamoDB is
    /// reachable and the credentials are good.
    pub async fn connect(settings: &DynamoSettings) -> Result<DynamoStore> {
        if let Some(endpoint) = &settings.endpoint {
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return Err(Error::Config(format!(
                    "DynamoDB endpoint '{endpoint}' is not a URL; use one such as http://localhost:8000"
                )));
            }
        }
        let static_credentials = credentials_from_environment();
        let region = resolve_region(settings, static_credentials.is_some()).await?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client(needs_tls(
                settings,
                static_credentials.is_some(),
            )))
            .region(region.clone())
            .timeout_config(timeouts);
        if let Some(credentials) = static_credentials {
            loader = loader.credentials_provider(credentials);
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let clock = Arc::new(ServerClock::default());
        let config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await)
            .interceptor(ReadServerClock(clock.clone()))
            .build();
        Ok(DynamoStore {
            client: Client::from_conf(config),
            clock,
            region: region.to_string(),
            endpoint: settings.endpoint.clone(),
            locks_table: settings.locks_table.clone(),
            jobs_table: settings.jobs_table.clone(),
            history_table: settings.history_table.clone(),
            history_retention: settings.history_retention,
        })
    }
}

/// The SDK's HTTP client (hyper 1, rustls) with ring for its cryptography, which keeps the
/// addon small; every client the config builds (DynamoDB, and SSO / STS for credentials) uses it.
/// Without TLS to speak, it trusts no certificate rather than read and parse the system's
/// (a few hundred files, on every start).
fn http_client(tls_needed: bool) -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    if tls_needed {
        return builder.build_https();
    }
    let trust_nothing = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty())
        .build()
        .expect("a TLS context without certificates is always valid");
    builder.tls_context(trust_nothing).build_https()
}

/// Only a plain-http endpoint (DynamoDB Local) with credentials from the environment makes no
/// HTTPS request: anything else reaches AWS, for DynamoDB or for credentials (SSO, STS).
fn needs_tls(settings: &DynamoSettings, static_credentials: bool) -> bool {
    let plain_http = settings
        .endpoint
        .as_deref()
        .is_some_and(|endpoint| endpoint.starts_with("http://"));
    !(plain_http && static_credentials)
}

/// Static credentials from the environment skip the rest of the chain, so nothing probes
/// instance metadata before the first request.
fn credentials_from_environment() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// The standard region chain, except that instance metadata is only asked when the credentials
/// may come from it too: with environment credentials or an endpoint override, probing it would
/// only stall off EC2.
async fn resolve_region(settings: &DynamoSettings, static_credentials: bool) -> Result<Region> {
    if let Some(region) = &settings.region {
        return Ok(Region::new(region.clone()));
    }
    let mut chain = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::new());
    if !static_credentials && settings.endpoint.is_none() {
        chain = chain.or_else(ImdsRegionProvider::builder().build());
    }
    if let Some(region) = chain.region().await {
        return Ok(region);
    }
    // Not a silent default with an endpoint either: DynamoDB Local keeps the tables of each
    // region apart, so two clients that fell back differently would not see each other's locks.
    Err(Error::Config(match &settings.endpoint {
        Some(endpoint) => format!(
            "no AWS region configured for the DynamoDB endpoint {endpoint}: set DAPLAYA_AWS_REGION or AWS_REGION, the same for every client (DynamoDB Local keeps each region's tables apart)"
        ),
        None => "no AWS region configured for DynamoDB: set DAPLAYA_AWS_REGION or AWS_REGION".into(),
    }))
}
