//! Jobs: what a user defines (a [`JobSpec`], in Dkron's JSON shape plus Sandcron's fields),
//! and the checks that turn untrusted input into one, each refusal naming the field.
//!
//! `processors` and `notify` are the job's after-run steps (`crate::after_run` runs them);
//! `template` is the `{{.Name}}` syntax of notification templates; `input` turns Dkron's
//! input forms that depend on other fields into Sandcron's before the JSON is read.

mod input;
pub mod notify;
pub mod processors;
mod spec;
pub mod template;
mod validate;

pub use input::normalize as normalize_input;
pub use spec::{Concurrency, JobSpec, Misfire, RetryBackoff};
pub use validate::{FieldError, check_name, job_grants, validate};
