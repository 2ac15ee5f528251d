//! The routes the web console needed beyond Dkron's, each useful to any client: the
//! executions of every job (`GET /v1/executions`), a schedule checked and previewed
//! (`GET /v1/schedule/preview`: its words and next fire times, or the error naming the
//! field), and this node's last hour of executions (`GET /v1/stats`).

use axum::extract::State;
use axum::response::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::dto::ExecutionOut;
use super::error::ApiError;
use super::input::QueryPairs;
use super::openapi as doc;
use crate::scheduler::Scheduler;
use crate::store::ExecutionState;
use sandcron_schedule::{Schedule, Tz};

/// Executions listed when `_end` is not given.
const DEFAULT_PAGE: u64 = 50;

/// The most executions one page may hold.
const LARGEST_PAGE: u64 = 500;

/// Fire times previewed when `count` is not given, and the most that may be asked.
const PREVIEW_COUNT: (u64, u64) = (5, 100);

/// `GET /v1/executions`: the caller's executions of every job, newest first, `_start` /
/// `_end` (50 by default, at most 500), `state` to keep one state, `output_size_limit=N`
/// the last N bytes of each output. No `X-Total-Count`: counting them all is a scan.
#[utoipa::path(
    get,
    path = "/v1/executions",
    operation_id = "listAllExecutions",
    summary = "The executions of every job",
    description = "The caller's executions of every job, newest first. No X-Total-Count: counting every execution is a scan.",
    params(
        ("_start" = Option<u64>, Query, description = "First index of the page (default 0)."),
        ("_end" = Option<u64>, Query, description = "End of the page, exclusive (default _start + 50, at most _start + 500)."),
        ("state" = Option<String>, Query, description = "Only executions in this state: `scheduled`, `running`, `succeeded` or `failed`."),
        ("output_size_limit" = Option<u64>, Query, description = "Keep only the last N bytes of each output."),
    ),
    responses(
        (status = 200, description = "A page of executions, newest first.", body = [ExecutionOut]),
        (status = 400, response = doc::BadRequest),
    )
)]
pub async fn executions(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    query: QueryPairs,
) -> Result<Json<Vec<ExecutionOut>>, ApiError> {
    let start = query.non_negative("_start")?.unwrap_or(0);
    let end = query
        .non_negative("_end")?
        .unwrap_or(start.saturating_add(DEFAULT_PAGE));
    if end.saturating_sub(start) > LARGEST_PAGE {
        return Err(ApiError::invalid(
            "_end",
            format!("a page holds at most {LARGEST_PAGE} executions"),
        ));
    }
    let state = query
        .get("state")
        .map(|text| {
            ExecutionState::ALL
                .into_iter()
                .find(|state| state.as_str() == text)
                .ok_or_else(|| {
                    let names: Vec<&str> = ExecutionState::ALL.map(ExecutionState::as_str).into();
                    ApiError::invalid(
                        "state",
                        format!("{text:?} is not one of {}", names.join(", ")),
                    )
                })
        })
        .transpose()?;
    let output_limit = query
        .non_negative("output_size_limit")?
        .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
    let records = scheduler
        .list_tenant_executions(caller.tenant, state, start, end)
        .await?;
    Ok(Json(
        records
            .into_iter()
            .map(|record| ExecutionOut::new(record, output_limit))
            .collect(),
    ))
}

/// What `GET /v1/schedule/preview` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The schedule in words.
    description: String,
    /// The zone the schedule is read in (the `TZ=` prefix, else `timezone`, else UTC).
    timezone: String,
    /// The next fire times.
    next: Vec<FireTime>,
}

/// One fire time, in UTC and in the schedule's zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct FireTime {
    /// The instant, in UTC.
    at: DateTime<Utc>,
    /// The same instant as the schedule's zone writes it, with its offset.
    local: String,
}

/// `GET /v1/schedule/preview?schedule=…&timezone=…&name=…&count=5&after=…`: the schedule
/// checked as a job's would be (`name` is what `~` is derived from), in words, with its
/// next `count` fire times strictly after `after` (default now). A bad schedule or zone
/// is 400 naming `schedule` or `timezone`, with the text a job would get.
#[utoipa::path(
    get,
    path = "/v1/schedule/preview",
    operation_id = "previewSchedule",
    summary = "A schedule in words, with its next fire times",
    description = "Checks a schedule as a job's would be; a bad schedule or zone is 400 naming `schedule` or `timezone`.",
    params(
        ("schedule" = String, Query, description = "The schedule, as a job's `schedule`."),
        ("timezone" = Option<String>, Query, description = "IANA zone; empty is UTC."),
        ("name" = Option<String>, Query, description = "The job's name, which `~` is derived from."),
        ("count" = Option<u64>, Query, maximum = 100, description = "How many fire times (default 5, at most 100)."),
        ("after" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Fire times strictly after this instant (default now)."),
    ),
    responses(
        (status = 200, description = "The schedule in words and its next fire times.", body = Preview),
        (status = 400, response = doc::BadRequest),
    )
)]
pub async fn schedule_preview(
    _caller: Caller,
    query: QueryPairs,
) -> Result<Json<Preview>, ApiError> {
    let spec = query
        .get("schedule")
        .ok_or_else(|| ApiError::invalid("schedule", "is required"))?;
    let schedule = Schedule::parse(spec, query.get("timezone"), query.get("name").unwrap_or(""))
        .map_err(|error| ApiError::invalid(error.field(), error.message()))?;
    let (default_count, most) = PREVIEW_COUNT;
    let count = query.non_negative("count")?.unwrap_or(default_count);
    if count > most {
        return Err(ApiError::invalid(
            "count",
            format!("at most {most} fire times are previewed"),
        ));
    }
    let mut after = match query.get("after") {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|why| ApiError::invalid("after", format!("{text:?} is not RFC 3339: {why}")))?
            .to_utc(),
    };
    let zone = match &schedule {
        Schedule::Cron(cron) => cron.timezone(),
        _ => query
            .get("timezone")
            .filter(|zone| !zone.is_empty())
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(Tz::UTC),
    };
    let mut next = Vec::new();
    while (next.len() as u64) < count {
        let Some(at) = schedule.next_after(after) else {
            break;
        };
        next.push(FireTime {
            at,
            local: at.with_timezone(&zone).to_rfc3339(),
        });
        after = at;
    }
    Ok(Json(Preview {
        description: schedule.describe(),
        timezone: zone.name().to_string(),
        next,
    }))
}

/// What `GET /v1/stats` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// The node that counted.
    node: String,
    /// `tenant` (the caller's) or `node` (every tenant's).
    #[schema(schema_with = stats_scopes)]
    scope: &'static str,
    /// The last sixty minutes, oldest first.
    minutes: Vec<MinuteOut>,
}

/// One minute of executions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Minute)]
pub struct MinuteOut {
    /// The minute's start.
    minute: DateTime<Utc>,
    /// Executions that started in it.
    started: u64,
    /// Executions that succeeded in it.
    succeeded: u64,
    /// Executions that failed in it.
    failed: u64,
    /// The 99th percentile of start lateness, in milliseconds; `null` when none started.
    lateness_p99_ms: Option<f64>,
}

fn stats_scopes() -> utoipa::openapi::schema::Object {
    super::dto::one_of(["tenant", "node"])
}

/// `GET /v1/stats`: the caller's executions on this node over the last hour, minute by
/// minute; with `scope=node`, an admin gets every tenant's.
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "stats",
    summary = "This node's last hour of executions, minute by minute",
    params(("scope" = Option<String>, Query, description = "`tenant` (default: the caller's) or `node` (every tenant's; admin only).")),
    responses(
        (status = 200, description = "Sixty minutes, oldest first.", body = Stats),
        (status = 400, response = doc::BadRequest),
        (status = 403, description = "`scope=node` with a tenant's token.", body = super::error::ErrorBody),
    )
)]
pub async fn stats(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    query: QueryPairs,
) -> Result<Json<Stats>, ApiError> {
    let whole_node = match query.get("scope") {
        None | Some("tenant") => false,
        Some("node") if caller.admin => true,
        Some("node") => {
            return Err(ApiError::of_field(
                axum::http::StatusCode::FORBIDDEN,
                "scope",
                "the whole node's stats need an admin token",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "scope",
                format!("{other:?} is not tenant or node"),
            ));
        }
    };
    let minutes = scheduler
        .last_hour((!whole_node).then_some(caller.tenant))
        .into_iter()
        .map(|minute| MinuteOut {
            minute: minute.minute,
            started: minute.started,
            succeeded: minute.succeeded,
            failed: minute.failed,
            lateness_p99_ms: minute.lateness_p99.map(|p99| p99.as_secs_f64() * 1e3),
        })
        .collect();
    Ok(Json(Stats {
        node: scheduler.node().to_string(),
        scope: if whole_node { "node" } else { "tenant" },
        minutes,
    }))
}
