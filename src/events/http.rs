//! The HTTP client daplaya calls out with (webhooks, Slack's Web API): hyper 1 over rustls with
//! ring, trusting the system's certificates, read once, on the first HTTPS call; one client
//! per body type for the process, so connections are reused.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// An answer to an event is a few bytes; anything far larger is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A connector for `http://` and `https://`.
pub fn connector() -> Https {
    let roots = rustls_native_certs::load_native_certs();
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(roots.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build()
}

fn client() -> &'static Client<Https, Full<Bytes>> {
    static CLIENT: OnceLock<Client<Https, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(connector()))
}

/// Why a call got no usable answer, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub why: String,
    pub retry: bool,
}

/// Sends `request` and reads its answer, all within `timeout`: a 2xx answer's body, or why not
/// (no answer, a timeout, a 5xx or a 429 are worth retrying; any other status is not).
pub async fn call(request: http::Request<Full<Bytes>>, timeout: Duration) -> Result<Bytes, Failed> {
    let exchange = async {
        let response = client().request(request).await.map_err(|error| Failed {
            why: error.to_string(),
            retry: true,
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(Failed {
                why: format!("HTTP {status}"),
                retry: status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS,
            })
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(Failed {
                why: format!("no answer within {} s", timeout.as_secs_f32()),
                retry: true,
            })
        })
}
