//! Dkron's input forms that need more than a field's own value, turned into Sandcron's
//! before a job's JSON is read into a [`super::JobSpec`]:
//!
//! * `starts_at` / `expires_at` as `YYYY-MM-DDTHH:MM[:SS]` (what an HTML date picker, and
//!   so Dkron's UI, sends; Dkron accepts it since December 2025): a wall-clock time in the
//!   job's `timezone` (UTC when it has none), stored as the instant it names. A time the
//!   zone skips (clocks springing forward) is refused; one it repeats is its first
//!   occurrence.
//! * A top-level `"command"` with no executor (Dkron's old docs) is refused with what to
//!   write instead.

use chrono::NaiveDateTime;
use serde_json::Value;

use super::FieldError;

/// The fields that take an instant.
const BOUNDS: [&str; 2] = ["starts_at", "expires_at"];

/// The wall-clock forms a bound may be written in.
const LOCAL_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"];

/// Rewrites Dkron's input forms in a job's JSON object in place; a refusal names the field.
/// Anything that is not an object is left for the reader to refuse.
pub fn normalize(job: &mut Value) -> Result<(), FieldError> {
    let Some(object) = job.as_object_mut() else {
        return Ok(());
    };
    let no_executor = object
        .get("executor")
        .is_none_or(|executor| executor.as_str().is_none_or(str::is_empty));
    if let Some(command) = object.get("command").filter(|_| no_executor) {
        let command = command
            .as_str()
            .map_or_else(|| command.to_string(), str::to_string);
        let example = serde_json::json!({
            "executor": "shell",
            "executor_config": {"command": command},
        });
        return Err(FieldError::new(
            "command",
            format!(
                "a top-level \"command\" is Dkron's old job form, and no executor is named; \
                 write {example} instead"
            ),
        ));
    }
    let timezone = object
        .get("timezone")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for field in BOUNDS {
        let Some(Value::String(text)) = object.get(field) else {
            continue;
        };
        let Some(local) = LOCAL_FORMATS
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        else {
            continue;
        };
        let instant = sandcron_schedule::wall_clock_instant(local, &timezone)
            .map_err(|message| FieldError::new(field, message))?;
        object.insert(field.to_string(), Value::String(instant.to_rfc3339()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(json: &str) -> Result<Value, FieldError> {
        let mut value: Value = serde_json::from_str(json).unwrap();
        normalize(&mut value).map(|()| value)
    }

    #[test]
    fn a_date_picker_time_is_read_in_the_job_s_zone() {
        let job = normalized(
            r#"{"timezone": "Europe/Paris", "starts_at": "2026-07-01T09:30", "expires_at": "2026-12-01T09:30:15"}"#,
        )
        .unwrap();
        assert_eq!(job["starts_at"], "2026-07-01T07:30:00+00:00");
        assert_eq!(job["expires_at"], "2026-12-01T08:30:15+00:00");
        let job = normalized(r#"{"starts_at": "2026-07-01T09:30"}"#).unwrap();
        assert_eq!(job["starts_at"], "2026-07-01T09:30:00+00:00");
    }

    #[test]
    fn instants_and_nulls_are_left_as_they_are() {
        let job =
            normalized(r#"{"starts_at": "2026-07-01T09:30:00Z", "expires_at": null}"#).unwrap();
        assert_eq!(job["starts_at"], "2026-07-01T09:30:00Z");
        assert!(job["expires_at"].is_null());
    }

    #[test]
    fn a_skipped_wall_clock_time_is_refused() {
        let error =
            normalized(r#"{"timezone": "America/New_York", "starts_at": "2026-03-08T02:30"}"#)
                .unwrap_err();
        assert_eq!(error.field, "starts_at");
        assert!(error.message.contains("does not exist"), "{error}");
    }

    #[test]
    fn a_top_level_command_says_what_to_write() {
        let error = normalized(r#"{"name": "j", "command": "echo 'Hello log'"}"#).unwrap_err();
        assert_eq!(error.field, "command");
        assert!(
            error.message.contains(r#""executor":"shell""#)
                && error.message.contains(r#""command":"echo 'Hello log'""#),
            "{error}"
        );
        assert!(normalized(r#"{"command": "x", "executor": "shell"}"#).is_ok());
    }
}
