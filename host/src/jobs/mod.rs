//! Jobs: what a user defines (a [`JobSpec`], in Dkron's JSON shape plus Sandcron's fields),
//! and the checks that turn untrusted input into one, each refusal naming the field.

mod spec;
mod validate;

pub use spec::{Concurrency, JobSpec, Misfire, RetryBackoff};
pub use validate::{FieldError, check_name, job_grants, validate};
