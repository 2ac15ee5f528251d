//! A job's executions: the list (newest first, paged, outputs optionally cut to their
//! tail), one execution, deleting them all, following the output of a running one as it
//! is written, and killing one. Live output and kill of an execution another live node
//! runs are forwarded to it (`forward.rs`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use futures::stream::{self, BoxStream, StreamExt};

use super::auth::Caller;
use super::dto::{ExecutionOut, JobOut};
use super::error::ApiError;
use super::forward;
use super::input::{PathParams, QueryPairs};
use super::openapi as doc;
use super::page;
use crate::scheduler::{JobError, OutputFollower, Scheduler};
use crate::store::{ExecutionRecord, ExecutionSort, ExecutionSortKey, ExecutionState, TenantId};

/// Executions listed when `_end` is not given.
const DEFAULT_PAGE: u64 = 100;

/// The first and the longest pause between two looks at a stored execution while the
/// output waits for it to start here or to end.
const OUTPUT_POLL: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(1));

/// How long a kill waits for an execution the store says runs on this node to be
/// registered as running (a run's record is written before its task starts), and how
/// often it looks.
const KILL_WAIT: (Duration, Duration) = (Duration::from_secs(2), Duration::from_millis(20));

/// `GET /v1/jobs/{name}/executions`: newest first, or as `_sort` (`id`, `scheduled_at`,
/// `started_at`, `finished_at`, `attempt`) and `_order` (`DESC` by default, as Dkron)
/// say; `_start`/`_end` (100 by default); `output_size_limit=N` keeps the last N bytes of
/// each output; `X-Total-Count`.
#[utoipa::path(
    get,
    path = "/v1/jobs/{name}/executions",
    operation_id = "listExecutions",
    summary = "List a job's executions, newest first",
    params(
        doc::JobPath,
        ("_sort" = Option<String>, Query, description = "`id` (default), `scheduled_at`, `started_at`, `finished_at` or `attempt`."),
        ("_order" = Option<String>, Query, description = "`DESC` (default, as Dkron) or `ASC`, any case."),
        ("_start" = Option<u64>, Query, description = "First index (default 0)."),
        ("_end" = Option<u64>, Query, description = "End, exclusive (default _start + 100)."),
        ("output_size_limit" = Option<u64>, Query, description = "Keep only the last N bytes of each output (sets output_truncated)."),
    ),
    responses(
        (status = 200, description = "A page of executions.", body = [ExecutionOut],
            headers(("X-Total-Count" = u64, description = "How many items match, before paging."))),
        (status = 400, response = doc::BadRequest),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn list(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let start = query.non_negative("_start")?.unwrap_or(0);
    let end = query
        .non_negative("_end")?
        .unwrap_or(start.saturating_add(DEFAULT_PAGE));
    let output_limit = query
        .non_negative("output_size_limit")?
        .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
    let sort = execution_sort(&query)?;
    if scheduler.get_job(caller.tenant, &name).await?.is_none() {
        return Err(JobError::NotFound(name).into());
    }
    let (records, total) = scheduler
        .list_executions(caller.tenant, &name, sort, start, Some(end))
        .await?;
    let executions = records
        .into_iter()
        .map(|record| ExecutionOut::new(record, output_limit))
        .collect();
    Ok(page(total, executions))
}

/// Reads `_sort` and `_order` (Dkron's default order: descending).
fn execution_sort(query: &QueryPairs) -> Result<ExecutionSort, ApiError> {
    let key = match query.get("_sort") {
        None => ExecutionSortKey::Id,
        Some(key) => ExecutionSortKey::parse(key).ok_or_else(|| {
            let known: Vec<&str> = ExecutionSortKey::NAMES
                .iter()
                .map(|(name, _)| *name)
                .collect();
            ApiError::invalid(
                "_sort",
                format!(
                    "cannot sort executions by {key:?}: expected {}",
                    known.join(", ")
                ),
            )
        })?,
    };
    let descending = super::descending(query, true)?;
    Ok(ExecutionSort { key, descending })
}

/// `DELETE /v1/jobs/{name}/executions`: deletes them and resets the job's counters.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{name}/executions",
    operation_id = "deleteExecutions",
    summary = "Delete a job's executions and reset its counters",
    params(doc::JobPath),
    responses(
        (status = 200, description = "The job.", body = JobOut),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn delete_all(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<JobOut>, ApiError> {
    Ok(Json(
        scheduler
            .delete_executions(caller.tenant, &name)
            .await?
            .into(),
    ))
}

/// `GET /v1/jobs/{name}/executions/{id}`: the whole execution.
#[utoipa::path(
    get,
    path = "/v1/jobs/{name}/executions/{id}",
    operation_id = "getExecution",
    summary = "Read one execution, whole output included",
    params(doc::ExecutionPath),
    responses(
        (status = 200, description = "The execution.", body = ExecutionOut),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn get(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams((name, id)): PathParams<(String, String)>,
) -> Result<Json<ExecutionOut>, ApiError> {
    Ok(Json(stored(&scheduler, &caller, &name, &id).await?.into()))
}

/// What a kill answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Killed {
    /// Always `true`: the kill was sent.
    killed: bool,
}

/// `POST /v1/jobs/{name}/executions/{id}/kill`: 202 once the kill is sent (the execution
/// then ends as failed, reason `killed`); 409 when it is not running. An execution that
/// another live node runs is killed there: the request is forwarded.
#[utoipa::path(
    post,
    path = "/v1/jobs/{name}/executions/{id}/kill",
    operation_id = "killExecution",
    summary = "Kill a running execution",
    description = "The execution ends as failed with the reason `killed`. An execution another live node runs is killed there.",
    params(doc::ExecutionPath),
    responses(
        (status = 202, description = "The kill was sent.", body = Killed),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn kill(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams((name, id)): PathParams<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut record = stored(&scheduler, &caller, &name, &id).await?;
    if !is_finished(record.state)
        && let Some(address) = forward::owner(&scheduler, &record, &headers).await?
    {
        return forward::kill(&address, uri.path(), &headers).await;
    }
    let (wait, pause) = KILL_WAIT;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if scheduler.kill(record.id) {
            return Ok((StatusCode::ACCEPTED, Json(Killed { killed: true })).into_response());
        }
        let about_to_run_here = record.node == scheduler.node() && !is_finished(record.state);
        if !about_to_run_here || tokio::time::Instant::now() >= deadline {
            return Err(ApiError::conflict(format!(
                "execution {} of job {name:?} is not running on this node (it is {} on {})",
                record.id,
                record.state.as_str(),
                record.node
            )));
        }
        tokio::time::sleep(pause).await;
        record = stored(&scheduler, &caller, &name, &id).await?;
    }
}

/// `GET /v1/jobs/{name}/executions/{id}/output`: the output as plain text. For a running
/// execution, what was written so far and then each chunk as it is written, until it
/// ends; for a finished one, the stored output. The live output of an execution another
/// live node runs comes from that node.
#[utoipa::path(
    get,
    path = "/v1/jobs/{name}/executions/{id}/output",
    operation_id = "followOutput",
    summary = "Follow an execution's output",
    description = "A chunked plain-text body: for a running execution, the output so far and then each chunk as it is written, ending when the execution ends; for a finished one, its stored output.",
    params(doc::ExecutionPath),
    responses(
        (status = 200, description = "The output.", body = String, content_type = "text/plain"),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn output(
    State(scheduler): State<Scheduler>,
    caller: Caller,
    PathParams((name, id)): PathParams<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = stored(&scheduler, &caller, &name, &id).await?;
    let remote = match is_finished(record.state) {
        true => None,
        false => forward::owner(&scheduler, &record, &headers).await?,
    };
    let source = async move {
        if let Some(address) = remote
            && let Some(stream) = forward::output(&address, uri.path(), &headers).await
        {
            return stream;
        }
        output_source(scheduler, caller.tenant, name, record.id).await
    };
    let chunks = stream::once(source).flatten().map(Ok::<_, Infallible>);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// Where the output comes from: the live follower while the execution runs here, else
/// the store once the execution has ended (waiting for an execution that is scheduled,
/// or runs on another node, or whose end is not written yet).
async fn output_source(
    scheduler: Scheduler,
    tenant: TenantId,
    job: String,
    id: i64,
) -> BoxStream<'static, Bytes> {
    let (mut pause, longest) = OUTPUT_POLL;
    loop {
        if let Some(follower) = scheduler.follow(id) {
            return live(follower);
        }
        match scheduler.get_execution(tenant, &job, id).await {
            Ok(Some(record)) if is_finished(record.state) => {
                return stream::iter([Bytes::from(record.output)]).boxed();
            }
            Ok(Some(_)) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(longest);
            }
            Ok(None) => return stream::empty().boxed(),
            Err(error) => {
                tracing::warn!(job, id, "output: the store failed: {error}");
                return stream::empty().boxed();
            }
        }
    }
}

/// The backlog, then each chunk until the execution ends. A reader too slow to keep up
/// gets a last line saying it was disconnected, and the stream ends.
fn live(follower: OutputFollower) -> BoxStream<'static, Bytes> {
    let backlog = stream::iter([Bytes::from(follower.backlog)]);
    let chunks = stream::unfold(follower.chunks, |mut chunks| async move {
        let chunk = chunks.next().await?;
        Some((chunk, chunks))
    });
    backlog
        .chain(chunks)
        .filter(|chunk| std::future::ready(!chunk.is_empty()))
        .boxed()
}

fn is_finished(state: ExecutionState) -> bool {
    matches!(state, ExecutionState::Succeeded | ExecutionState::Failed)
}

/// The execution `id` of job `name` from the store; 404 when there is none.
async fn stored(
    scheduler: &Scheduler,
    caller: &Caller,
    name: &str,
    id: &str,
) -> Result<ExecutionRecord, ApiError> {
    let not_found = || ApiError::not_found(format!("execution {id} of job {name:?} not found"));
    // Ids are numbers: any other text names no execution.
    let id: i64 = id.parse().map_err(|_| not_found())?;
    scheduler
        .get_execution(caller.tenant, name, id)
        .await?
        .ok_or_else(not_found)
}
