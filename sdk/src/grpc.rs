//! Calling unary gRPC methods with JSON, through the world's `grpc` interface.
//!
//! The host checks the server and the method against the executor's grant, learns the
//! method's types from the server's reflection service, and keeps connections across
//! executions. A status other than OK comes back as a [`Response`] with its code, not as
//! an error; errors are [`CallError`](crate::CallError)s, which `?` turns into a
//! [`Failure`](crate::Failure).
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::grpc::{self, Request, Target};
//!
//! let target = Target { address: "127.0.0.1:50051".into(), tls: false, tls_ca: None };
//! let request = Request {
//!     method: "helloworld.Greeter/SayHello".into(),
//!     body_json: r#"{"name": "sandcron"}"#.into(),
//!     metadata: vec![],
//! };
//! let response = grpc::invoke(&target, &request, Duration::from_secs(30))?;
//! if response.code == 0 {
//!     sandcron_sdk::output::print(response.body_json.as_deref().unwrap_or("{}"));
//! }
//! ```

use std::time::Duration;

use crate::CallError;
use crate::bindings::sandcron::executor::grpc as wit;

/// One call: `package.Service/Method`, the JSON body, metadata.
pub use wit::Request;
/// How the call ended: status code and message, and the JSON response for OK.
pub use wit::Response;
/// The server (`host:port`) and its TLS settings.
pub use wit::Target;

/// Calls `request.method` on `target`, waiting at most `timeout` (the call's deadline).
pub fn invoke(
    target: &Target,
    request: &Request,
    timeout: Duration,
) -> Result<Response, CallError> {
    wit::invoke(target, request, crate::timeout_ms(timeout))
}

/// The name of a gRPC status code (`OK`, `NOT_FOUND`, …), `UNKNOWN_CODE` past 16.
pub fn code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN_CODE")
}
