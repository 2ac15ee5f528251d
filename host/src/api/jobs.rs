//! The job routes: list (filters, sort, paging), create or replace, read, delete, run now,
//! toggle. Definitions are checked by the scheduler; this module only reads the request
//! and shapes the answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};

use super::auth::Caller;
use super::cluster::refuse_if_paused;
use super::dto::{ExecutionOut, JobOut};
use super::error::ApiError;
use super::input::{JobBody, PathParams, QueryPairs};
use super::openapi as doc;
use super::{job_location, page, with_location};
use crate::jobs::JobSpec;
use crate::scheduler::{JobError, Scheduler};
use crate::store::{JobQuery, JobSort};
use crate::tenants::Tenants;

/// The `status` values the list filters on.
const STATUSES: [&str; 4] = ["success", "failed", "partially_failed", "untriggered"];

/// `GET /v1/jobs`: the jobs matching the query, a page of them, `X-Total-Count` all.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    operation_id = "listJobs",
    summary = "List jobs",
    params(
        ("metadata[key]" = Option<String>, Query, description = "Only jobs whose metadata has this key with this value; repeat for more (all must match). Replace `key` with the label's name."),
        ("q" = Option<String>, Query, description = "Substring of the name or the display name."),
        ("status" = Option<String>, Query, description = "`success`, `failed`, `partially_failed` or `untriggered`."),
        ("disabled" = Option<bool>, Query, description = "`true` or `false`."),
        ("executor" = Option<String>, Query, description = "Only jobs whose `executor` is this (exactly, `name@2` included)."),
        ("_sort" = Option<String>, Query, description = "`name` (default), `id`, `displayname`, `schedule`, `success_count`, `error_count`, `last_success`, `last_error` or `next`."),
        ("_order" = Option<String>, Query, description = "`ASC` (default) or `DESC`, any case."),
        ("_start" = Option<u64>, Query, description = "First index of the page (default 0)."),
        ("_end" = Option<u64>, Query, description = "End of the page, exclusive (default: all)."),
    ),
    responses(
        (status = 200, description = "A page of the matching jobs.", body = [JobOut],
            headers(("X-Total-Count" = u64, description = "How many items match, before paging."))),
        (status = 400, response = doc::BadRequest),
    )
)]
pub async fn list(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let (jobs, total) = scheduler
        .list_jobs(caller.tenant, &job_query(&query)?)
        .await?;
    Ok(page(total, jobs.into_iter().map(JobOut::from).collect()))
}

/// Reads Dkron's list parameters; unknown ones are ignored, as Dkron does.
fn job_query(query: &QueryPairs) -> Result<JobQuery, ApiError> {
    let metadata = query
        .pairs()
        .filter_map(|(key, value)| {
            let label = key.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((label.to_string(), value.to_string()))
        })
        .collect();
    let status = query
        .get("status")
        .map(|status| {
            if STATUSES.contains(&status) {
                Ok(status.to_string())
            } else {
                Err(ApiError::invalid(
                    "status",
                    format!("{status:?} is not one of {}", STATUSES.join(", ")),
                ))
            }
        })
        .transpose()?;
    let disabled = query
        .get("disabled")
        .map(|disabled| match disabled {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(ApiError::invalid(
                "disabled",
                format!("{other:?} is not true or false"),
            )),
        })
        .transpose()?;
    let sort = match query.get("_sort") {
        None => JobSort::default(),
        Some(key) => JobSort::parse(key).ok_or_else(|| {
            ApiError::invalid(
                "_sort",
                format!(
                    "cannot sort by {key:?}: expected name, id, displayname, schedule, \
                     success_count, error_count, last_success, last_error or next"
                ),
            )
        })?,
    };
    let descending = super::descending(query, false)?;
    Ok(JobQuery {
        q: query.get("q").filter(|q| !q.is_empty()).map(str::to_string),
        status,
        disabled,
        metadata,
        executor: query
            .get("executor")
            .filter(|executor| !executor.is_empty())
            .map(str::to_string),
        sort,
        descending,
        start: query.non_negative("_start")?.unwrap_or(0),
        end: query.non_negative("_end")?,
    })
}

/// `POST /v1/jobs` and `PATCH /v1/jobs`: create or replace (201); `?runoncreate` also
/// starts a run.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    operation_id = "createJob",
    summary = "Create or replace a job",
    params(doc::RunOnCreate),
    request_body = JobSpec,
    responses(
        (status = 201, description = "The job as saved.", body = JobOut, headers(("Location" = String, description = "The path of the job."))),
        doc::JobWriteRefused,
    )
)]
pub async fn create(
    State(scheduler): State<Scheduler>,
    State(tenants): State<Tenants>,
    caller: Caller,
    query: QueryPairs,
    JobBody(spec): JobBody,
) -> Result<Response, ApiError> {
    refuse_if_paused(&tenants, &caller).await?;
    let job = save(&scheduler, &caller, &query, spec).await?;
    Ok(saved(StatusCode::CREATED, job))
}

/// `PUT /v1/jobs/{name}`: create (201) or replace (200) the job of the path; the body's
/// `name` may be left out, and must not differ.
#[utoipa::path(
    put,
    path = "/v1/jobs/{name}",
    operation_id = "putJob",
    summary = "Create or replace the job of the path",
    description = "The body's `name` may be left out; if given it must equal the path's.",
    params(doc::JobPath, doc::RunOnCreate),
    request_body = JobSpec,
    responses(
        (status = 200, description = "The job was replaced.", body = JobOut, headers(("Location" = String, description = "The path of the job."))),
        (status = 201, description = "The job was created.", body = JobOut, headers(("Location" = String, description = "The path of the job."))),
        doc::JobWriteRefused,
    )
)]
pub async fn replace(
    State(scheduler): State<Scheduler>,
    State(tenants): State<Tenants>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    query: QueryPairs,
    JobBody(mut spec): JobBody,
) -> Result<Response, ApiError> {
    refuse_if_paused(&tenants, &caller).await?;
    if spec.name.is_empty() {
        spec.name.clone_from(&name);
    } else if spec.name != name {
        return Err(ApiError::invalid(
            "name",
            format!("{:?} differs from the job of the path, {name:?}", spec.name),
        ));
    }
    let existed = scheduler.get_job(caller.tenant, &name).await?.is_some();
    let job = save(&scheduler, &caller, &query, spec).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(saved(status, job))
}

/// Puts the job, then starts a run if `?runoncreate` asks. A run that cannot start does
/// not undo the save: it is logged, and the job is still answered.
async fn save(
    scheduler: &Scheduler,
    caller: &Caller,
    query: &QueryPairs,
    spec: JobSpec,
) -> Result<JobOut, ApiError> {
    let job = scheduler.put_job(caller.tenant, spec).await?;
    if query.has("runoncreate")
        && let Err(error) = scheduler.run_job(caller.tenant, &job.spec.name).await
    {
        tracing::warn!(job = %job.spec.name, "runoncreate: the run did not start: {error}");
    }
    Ok(job.into())
}

fn saved(status: StatusCode, job: JobOut) -> Response {
    let location = job_location(&job.spec.name);
    with_location((status, Json(job)).into_response(), location)
}

/// `GET /v1/jobs/{name}`.
#[utoipa::path(
    get,
    path = "/v1/jobs/{name}",
    operation_id = "getJob",
    summary = "Read a job",
    params(doc::JobPath),
    responses(
        (status = 200, description = "The job.", body = JobOut),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn get(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<JobOut>, ApiError> {
    match scheduler.get_job(caller.tenant, &name).await? {
        Some(job) => Ok(Json(job.into())),
        None => Err(JobError::NotFound(name).into()),
    }
}

/// `DELETE /v1/jobs/{name}`: the deleted job; 409 while other jobs name it as parent.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{name}",
    operation_id = "deleteJob",
    summary = "Delete a job and its executions",
    params(doc::JobPath),
    responses(
        (status = 200, description = "The deleted job.", body = JobOut),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn delete(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<JobOut>, ApiError> {
    Ok(Json(
        scheduler.delete_job(caller.tenant, &name).await?.into(),
    ))
}

/// `POST /v1/jobs/{name}/run` and `POST /v1/jobs/{name}`: starts a run and answers at
/// once (202) with the execution; 409 when `forbid` and a run is going.
#[utoipa::path(
    post,
    path = "/v1/jobs/{name}/run",
    operation_id = "runJob",
    summary = "Start a run now",
    description = "Answers at once, with the execution running. Runs a disabled or expired job too; refused (409) when the job is `forbid` and a run is going; refused (429, `max_concurrent_executions`) when the tenant has its quota of executions running on this node, and nothing is recorded then.",
    params(doc::JobPath),
    responses(
        (status = 202, description = "The run started.", body = ExecutionOut,
            headers(("Location" = String, description = "The path of the execution."))),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn run(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let execution = ExecutionOut::from(scheduler.run_job(caller.tenant, &name).await?);
    let location = format!("{}/executions/{}", job_location(&name), execution.id);
    Ok(with_location(
        (StatusCode::ACCEPTED, Json(execution)).into_response(),
        location,
    ))
}

/// `POST /v1/jobs/{name}/toggle`: flips `disabled`.
#[utoipa::path(
    post,
    path = "/v1/jobs/{name}/toggle",
    operation_id = "toggleJob",
    summary = "Flip `disabled`",
    params(doc::JobPath),
    responses(
        (status = 200, description = "The job.", body = JobOut),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn toggle(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<JobOut>, ApiError> {
    Ok(Json(
        scheduler.toggle_job(caller.tenant, &name).await?.into(),
    ))
}

/// `PATCH /v1/jobs`: as `POST` (Dkron's; not a partial update).
#[utoipa::path(
    patch,
    path = "/v1/jobs",
    operation_id = "patchJob",
    summary = "Create or replace a job (as POST; not a partial update)",
    params(doc::RunOnCreate),
    request_body = JobSpec,
    responses(
        (status = 201, description = "The job as saved.", body = JobOut, headers(("Location" = String, description = "The path of the job."))),
        doc::JobWriteRefused,
    )
)]
pub async fn patch(
    scheduler: State<Scheduler>,
    tenants: State<Tenants>,
    caller: Caller,
    query: QueryPairs,
    body: JobBody,
) -> Result<Response, ApiError> {
    create(scheduler, tenants, caller, query, body).await
}

/// `POST /v1/jobs/{name}`: as `POST /v1/jobs/{name}/run` (Dkron's).
#[utoipa::path(
    post,
    path = "/v1/jobs/{name}",
    operation_id = "runJobShort",
    summary = "Start a run now (as /run)",
    params(doc::JobPath),
    responses(
        (status = 202, description = "The run started.", body = ExecutionOut,
            headers(("Location" = String, description = "The path of the execution."))),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn run_short(
    scheduler: State<Scheduler>,
    caller: Caller,
    name: PathParams<String>,
) -> Result<Response, ApiError> {
    run(scheduler, caller, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Result<JobQuery, ApiError> {
        job_query(&QueryPairs::parse(raw))
    }

    #[test]
    fn dkron_list_parameters_are_read() {
        let parsed = query(
            "metadata[team]=ops&metadata%5Benv%5D=prod&q=back&status=failed&disabled=false\
             &executor=shell&_sort=next&_order=desc&_start=5&_end=10&unknown=1",
        )
        .unwrap();
        assert_eq!(
            parsed.metadata,
            vec![
                ("team".to_string(), "ops".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        assert_eq!(parsed.q.as_deref(), Some("back"));
        assert_eq!(parsed.status.as_deref(), Some("failed"));
        assert_eq!(parsed.disabled, Some(false));
        assert_eq!(parsed.executor.as_deref(), Some("shell"));
        assert_eq!(parsed.sort, JobSort::Next);
        assert!(parsed.descending);
        assert_eq!((parsed.start, parsed.end), (5, Some(10)));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (raw, field) in [
            ("status=running", "status"),
            ("disabled=yes", "disabled"),
            ("_sort=owner", "_sort"),
            ("_order=up", "_order"),
            ("_start=-1", "_start"),
            ("_end=ten", "_end"),
        ] {
            let error = query(raw).unwrap_err();
            assert!(
                error.text().starts_with(&format!("{field}: ")),
                "{raw}: {}",
                error.text()
            );
        }
    }
}
