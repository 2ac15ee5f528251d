//! Per-token rate limits (`serve --rate-limit N --rate-limit-burst B`): each token may
//! send `N` requests a second, `B` at once, so one tenant's script cannot starve the
//! others. A request over its token's limit is answered 429 with `Retry-After` (whole
//! seconds) and the usual `{"error", "field"}` body. Buckets are keyed by the token's
//! SHA-256 and only for tokens the auth middleware accepted, so unknown tokens cannot
//! fill the table; idle buckets are dropped as the limiter goes.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::auth::Caller;
use super::error::ApiError;
use crate::tenants::hash_token;

/// How many checks between two sweeps of idle buckets.
const SWEEP_EVERY: u64 = 4096;

/// The rate each token is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a second, sustained.
    pub per_second: NonZeroU32,
    /// Requests at once, after a pause.
    pub burst: NonZeroU32,
}

/// The buckets of every token.
#[derive(Debug)]
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl RateLimiter {
    /// A limiter allowing each token `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when the token with SHA-256 `key` may send a request now, else how many
    /// seconds to wait (at least one).
    fn check(&self, key: String) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// The middleware, inside the auth one: counts the request against its token.
pub async fn limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .extensions()
        .get::<Caller>()
        .and(request.headers().get(header::AUTHORIZATION))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .map(|(_, token)| hash_token(token.trim()));
    let Some(key) = token else {
        return next.run(request).await;
    };
    match limiter.check(key) {
        Ok(()) => next.run(request).await,
        Err(seconds) => {
            let mut response = ApiError::of_field(
                StatusCode::TOO_MANY_REQUESTS,
                "Authorization",
                format!("this token sent too many requests; retry in {seconds} s"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_has_its_own_bucket() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        });
        assert_eq!(limiter.check("a".into()), Ok(()));
        assert_eq!(limiter.check("a".into()), Ok(()));
        assert_eq!(limiter.check("a".into()), Err(1));
        assert_eq!(limiter.check("b".into()), Ok(()));
    }
}
