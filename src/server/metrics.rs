//! `GET /metrics`: what the server knows, in the OpenMetrics text format Prometheus scrapes.
//! Envs held and lock acquisitions come from the store (read at each scrape, so they count
//! every client's locks, not only this server's): each env the page lists (held, or released
//! within a day) has its acquisitions counter, the count its row keeps. Store errors and request
//! durations are this server's own.

use crate::model::Lock;
use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabels {
    env: String,
}

/// Every label value of a request's series comes from a fixed set, so no client can add series:
/// the methods of RFC 9110 and PATCH, the router's route patterns, the statuses the server
/// answers; anything else is [`OTHER`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The label of a method or route outside the known ones.
pub const OTHER: &str = "other";

/// The method's label: its name if standard, else [`OTHER`].
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or(OTHER)
}

pub struct Metrics {
    registry: Registry,
    envs_held: Gauge,
    envs_uberlocked: Gauge,
    acquisitions: Family<EnvLabels, Counter>,
    store_errors: Counter,
    requests: Family<RequestLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("daplaya");
        let envs_held = Gauge::default();
        let envs_uberlocked = Gauge::default();
        let acquisitions = Family::<EnvLabels, Counter>::default();
        let store_errors = Counter::default();
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_5, 2.5, 12))) as fn() -> Histogram,
        );
        registry.register(
            "envs_held",
            "Envs someone holds now (uberlocks included)",
            envs_held.clone(),
        );
        registry.register(
            "envs_uberlocked",
            "Envs under an uberlock now",
            envs_uberlocked.clone(),
        );
        registry.register(
            "lock_acquisitions",
            "Acquisitions of each env since it was first locked, for envs held or recently held",
            acquisitions.clone(),
        );
        registry.register(
            "store_errors",
            "Store reads by this server that failed",
            store_errors.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer each HTTP request, by route and status (live-update streams excluded)",
            requests.clone(),
        );
        Metrics {
            registry,
            envs_held,
            envs_uberlocked,
            acquisitions,
            store_errors,
            requests,
        }
    }
}

impl Metrics {
    /// Takes in the lock rows read from the store (the held and the recently released ones),
    /// each with whether the rules judge it held now, on the store's clock.
    pub fn observe_locks<'a>(&self, rows: impl IntoIterator<Item = (&'a Lock, bool)>) {
        let (mut held, mut uber) = (0, 0);
        for (lock, is_held) in rows {
            if is_held {
                held += 1;
                uber += i64::from(lock.uberlock);
            }
            // The row counts the env's acquisitions and the count only grows, so the counter
            // catches up with it.
            let counter = self.acquisitions.get_or_create(&EnvLabels {
                env: lock.env.clone(),
            });
            counter.inc_by(lock.acquisitions.saturating_sub(counter.get()));
        }
        self.envs_held.set(held);
        self.envs_uberlocked.set(uber);
    }

    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// `route`: the pattern of the route that answered (never the request's path), or `None`.
    pub fn observe_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: u16,
        took: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.unwrap_or(OTHER).to_string(),
                status,
            })
            .observe(took.as_secs_f64());
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::is_held;
    use crate::store::StoreTime;

    /// Each row with whether it is held at store time `now`.
    fn judged(rows: &[Lock], now: i64) -> Vec<(&Lock, bool)> {
        rows.iter()
            .map(|lock| (lock, is_held(lock, StoreTime::exact(now))))
            .collect()
    }

    fn lock(env: &str, acquisitions: u64, uberlock: bool, expires_at: Option<i64>) -> Lock {
        Lock {
            id: "id".into(),
            user: "alice".into(),
            holder: "alice".into(),
            env: env.into(),
            created_at: 0,
            updated_at: 0,
            active: true,
            uberlock,
            meta: "CLI".into(),
            expires_at,
            fencing_token: acquisitions,
            acquisitions,
            revision: 1,
            queue: vec![],
            next_ticket: 0,
        }
    }

    #[test]
    fn held_envs_acquisitions_and_requests_are_exposed() {
        let metrics = Metrics::default();
        let rows = [
            lock("prod", 7, true, None),
            lock("staging", 3, false, Some(2_000)),
            lock("lapsed", 2, false, Some(500)),
        ];
        metrics.observe_locks(judged(&rows, 1_000));
        metrics.observe_locks(judged(&[lock("staging", 5, false, Some(2_000))], 1_000));
        metrics.store_error();
        metrics.observe_request(
            &Method::GET,
            Some("/api/locks"),
            200,
            Duration::from_millis(3),
        );
        let text = metrics.encode();
        for line in [
            "daplaya_envs_held 1",
            "daplaya_envs_uberlocked 0",
            "daplaya_lock_acquisitions_total{env=\"prod\"} 7",
            "daplaya_lock_acquisitions_total{env=\"staging\"} 5",
            "daplaya_lock_acquisitions_total{env=\"lapsed\"} 2",
            "daplaya_store_errors_total 1",
            "daplaya_http_request_duration_seconds_count{method=\"GET\",route=\"/api/locks\",status=\"200\"} 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn methods_and_routes_outside_the_known_ones_share_one_series() {
        let metrics = Metrics::default();
        for n in 0..1_000 {
            let method = Method::from_bytes(format!("X{n}{}", "Y".repeat(n)).as_bytes()).unwrap();
            metrics.observe_request(&method, None, 404, Duration::from_millis(1));
        }
        let text = metrics.encode();
        let line = "daplaya_http_request_duration_seconds_count{method=\"other\",route=\"other\",status=\"404\"} 1000";
        assert!(text.lines().any(|l| l == line), "{text}");
        assert!(text.len() < 4_096, "{} bytes", text.len());
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
