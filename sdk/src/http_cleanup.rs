//! Requests the host sends for the executor if the execution ends early, through the
//! world's `http-cleanup` interface.
//!
//! An executor that starts remote work (a cloud task, a batch job) arms the request that
//! stops it: if the execution is killed, passes its deadline or traps, the instance is
//! gone, and the host sends the request in its place. Re-arm it as the work goes on when
//! the request expires (a signed request does), and disarm it once the work ended by
//! itself; a request still armed when `run` returns is sent too.
//!
//! ```ignore
//! use sandcron_sdk::{http::Request, http_cleanup};
//!
//! let stop = Request::new("POST", "https://api.example.com/jobs/42/stop");
//! http_cleanup::arm("stop-job", &stop)?;
//! // ... wait for the job ...
//! http_cleanup::disarm("stop-job");
//! ```

use crate::Failure;
use crate::bindings::sandcron::executor::http_cleanup as wit;
use crate::http::Request;

/// Arms `request` under `key`, replacing the one armed under the same key. Its URL must
/// be in the executor's granted hosts, or this fails with `Failure::Denied`. The
/// request's timeout is not used: the host gives every cleanup request 30 seconds.
pub fn arm(key: &str, request: &Request) -> Result<(), Failure> {
    let request = wit::Request {
        method: request.method.clone(),
        url: request.url.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
    };
    wit::arm(key, &request).map_err(Failure::Denied)
}

/// Disarms the request armed under `key`, if any.
pub fn disarm(key: &str) {
    wit::disarm(key);
}
