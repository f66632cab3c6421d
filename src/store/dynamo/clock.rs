//! Reads DynamoDB's clock off every response: an interceptor on the client hands the HTTP
//! `Date` header, and when the request went out and the answer came back, to the store's
//! [`ServerClock`]. Every response counts, errors and lost conditional writes included.

use crate::store::clock::ServerClock;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use aws_smithy_types::date_time::{DateTime, Format};
use std::sync::Arc;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub(super) struct ReadServerClock(pub(super) Arc<ServerClock>);

/// When this attempt's request went out, on the local monotonic clock.
#[derive(Debug, Clone, Copy)]
struct SentAt(Instant);

impl Storable for SentAt {
    type Storer = StoreReplace<Self>;
}

impl Intercept for ReadServerClock {
    fn name(&self) -> &'static str {
        "daplaya::ReadServerClock"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(SentAt(Instant::now()));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let received = Instant::now();
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|date| DateTime::from_str(date, Format::HttpDate).ok())
            .and_then(|date| date.to_millis().ok());
        // A response without a Date (not DynamoDB) teaches nothing; it is not an error here.
        if let (Some(SentAt(sent)), Some(date)) = (cfg.load::<SentAt>(), date) {
            self.0.observe(*sent, received, date);
        }
        Ok(())
    }
}
