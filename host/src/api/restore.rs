//! `POST /v1/restore`: an export of jobs (a JSON array, Dkron's multipart field `file` or
//! the body) created or replaced, parents first, in memory bounded whatever its size.
//!
//! The export is streamed to a temporary file (up to `--max-restore-size`), then read
//! twice, one job at a time: first every job is parsed, so that one that cannot be parsed
//! refuses the whole request before anything is written (400, `jobs[N].<field>`); then
//! the jobs are written in chunks of [`CHUNK`], those without a parent as they come, in
//! one bulk write per chunk, and those with a parent after all the others. The stages
//! overlap: while one chunk is written, the next is checked and serialized on a thread
//! that may block, and the one after it is parsed on another. What is held at once is a
//! few chunks and the answer's lines, never the export or its parsed tree.
//! Progress is logged every [`PROGRESS_EVERY`] jobs. Once every job is written, the
//! store refreshes its statistics of the jobs' tables in the background (PostgreSQL's
//! `ANALYZE`), so that the claim's plans fit what was restored, and the memory the restore
//! freed is given back before the answer goes (`memory::give_back_now`).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};

use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use futures::StreamExt;
use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use super::input::{BODY_FIELD, job_from};
use super::openapi as doc;
use crate::jobs::JobSpec;
use crate::scheduler::{RestoreBatch, Scheduler};
use crate::tenants::Tenants;

/// The multipart field Dkron's `restore` sends the export in.
const RESTORE_FIELD: &str = "file";

/// Jobs written in one bulk write.
const CHUNK: usize = 10_000;

/// Jobs between two progress lines in the log.
const PROGRESS_EVERY: usize = 100_000;

/// `POST /v1/restore`: creates or replaces every job of an export, parents first. The
/// export is a JSON array of jobs, sent as Dkron's CLI does (multipart field `file`) or
/// as the body. Answers one line per job, as Dkron: `success create NAME` or
/// `fail create NAME: REASON`.
#[utoipa::path(
    post,
    path = "/v1/restore",
    operation_id = "restore",
    summary = "Create or replace every job of an export",
    description = "Jobs are saved parents first. The export is a JSON array of jobs, as the multipart field `file` (Dkron's form) or as the body, up to the server's `--max-restore-size` (default 1 GiB; 413 past it). It is streamed to a temporary file and written in bulk, ten thousand jobs at a time. A job that cannot be parsed refuses the whole request before anything is written (400, field `jobs[N].<field>`); a job that is refused on its own is reported in its line.",
    request_body(content(
        (RestoreForm = "multipart/form-data"),
        (Vec<crate::jobs::JobSpec> = "application/json"),
    )),
    responses(
        (status = 200, description = "One line per job, in the export's order: `success create NAME` or `fail create NAME: REASON`.",
            body = [String], example = json!(["success create job1", "fail create job2: schedule: ..."])),
        (status = 400, response = doc::BadRequest),
        (status = 413, response = doc::TooLarge),
        (status = 503, response = doc::Paused),
    )
)]
pub async fn restore(
    State(scheduler): State<Scheduler>,
    State(tenants): State<Tenants>,
    caller: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    super::cluster::refuse_if_paused(&tenants, &caller).await?;
    let export = spool(request, scheduler.max_restore_bytes()).await?;
    let (export, count) = blocking(move || {
        let count = each_job(&export, |_, _| Ok(()))?;
        Ok((export, count))
    })
    .await?;

    let (chunks, mut arriving) = tokio::sync::mpsc::channel::<Vec<(usize, JobSpec)>>(1);
    let reading = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        each_job(&export, |index, spec| {
            chunk.push((index, spec));
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                // The request was dropped: stop reading.
                chunks
                    .blocking_send(full)
                    .map_err(|_| ApiError::invalid(BODY_FIELD, "the request ended"))?;
            }
            Ok(())
        })?;
        if !chunk.is_empty() {
            let _ = chunks.blocking_send(chunk);
        }
        Ok::<(), ApiError>(())
    });

    let mut lines = vec![String::new(); count];
    let mut children = Vec::new();
    let mut done = 0;
    let mut next_progress = PROGRESS_EVERY;
    // One batch is checked and made ready while the one before it is written.
    let mut ready: Option<(Vec<usize>, RestoreBatch)> = None;
    while let Some(chunk) = arriving.recv().await {
        let (roots, with_parents): (Vec<_>, Vec<_>) = chunk
            .into_iter()
            .partition(|(_, spec)| spec.parent_job.is_empty());
        children.extend(with_parents);
        let (places, specs): (Vec<usize>, Vec<JobSpec>) = roots.into_iter().unzip();
        let (prepared, written) = tokio::join!(
            scheduler.prepare_restore(caller.tenant, specs),
            write(&scheduler, ready.take(), &mut lines),
        );
        ready = Some((places, prepared));
        done += written;
        if done >= next_progress && done < count {
            tracing::info!(
                tenant = caller.tenant,
                done,
                count,
                "restore: {done} of {count} jobs"
            );
            next_progress += PROGRESS_EVERY;
        }
    }
    write(&scheduler, ready, &mut lines).await;
    reading
        .await
        .map_err(|error| ApiError::internal(format!("reading the export: {error}")))??;
    let (places, specs): (Vec<usize>, Vec<JobSpec>) = children.into_iter().unzip();
    let children = scheduler.prepare_restore(caller.tenant, specs).await;
    write(&scheduler, Some((places, children)), &mut lines).await;
    scheduler.end_restore();
    tracing::info!(tenant = caller.tenant, count, "restore: {count} jobs done");
    // The answer serialized first, so that its lines go with the rest of what the
    // restore freed, given back before the server falls idle.
    let answer = Json(lines).into_response();
    let _ = tokio::task::spawn_blocking(crate::memory::give_back_now).await;
    Ok(answer)
}

/// Writes a prepared `batch` (each job with its place in the export), if any, and its
/// jobs' lines; how many jobs it had.
async fn write(
    scheduler: &Scheduler,
    batch: Option<(Vec<usize>, RestoreBatch)>,
    lines: &mut [String],
) -> usize {
    let Some((places, batch)) = batch else {
        return 0;
    };
    let results = scheduler.write_restore(batch).await;
    for (place, (name, result)) in places.iter().zip(results) {
        lines[*place] = match result {
            Ok(()) => format!("success create {name}"),
            Err(error) => format!("fail create {name}: {}", ApiError::from(error).text()),
        };
    }
    places.len()
}

/// Runs `work` on a thread that may block.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("reading the export: {error}")))?
}

/// Dkron's form of `POST /v1/restore`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "the document's name for the multipart form")]
pub struct RestoreForm {
    /// A JSON array of jobs.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"))
}

/// The export (the multipart field `file`, or the body) in a temporary file, read from
/// its start; refused past `limit` bytes.
async fn spool(request: Request, limit: u64) -> Result<File, ApiError> {
    let file = blocking(|| {
        tempfile::tempfile().map_err(|error| {
            ApiError::internal(format!("a temporary file for the export: {error}"))
        })
    })
    .await?;
    let mut spooled = Spooled {
        file: tokio::fs::File::from_std(file),
        bytes: 0,
        limit,
    };
    if is_multipart(request.headers()) {
        let refused = |status: StatusCode, message: String| {
            ApiError::of_field(status, RESTORE_FIELD, message)
        };
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|rejection| refused(rejection.status(), rejection.body_text()))?;
        let mut found = false;
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|error| refused(error.status(), error.body_text()))?
        {
            if field.name() == Some(RESTORE_FIELD) {
                while let Some(bytes) = field
                    .chunk()
                    .await
                    .map_err(|error| refused(error.status(), error.body_text()))?
                {
                    spooled.write(&bytes, RESTORE_FIELD).await?;
                }
                found = true;
                break;
            }
        }
        if !found {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "missing: send the export in the multipart field \"file\"".into(),
            ));
        }
    } else {
        let mut body = request.into_body().into_data_stream();
        while let Some(bytes) = body.next().await {
            let bytes = bytes
                .map_err(|error| ApiError::invalid(BODY_FIELD, format!("reading it: {error}")))?;
            spooled.write(&bytes, BODY_FIELD).await?;
        }
    }
    spooled.finish().await
}

/// The temporary file an export is written to, and how much it holds.
struct Spooled {
    file: tokio::fs::File,
    bytes: u64,
    limit: u64,
}

impl Spooled {
    /// Appends `bytes` of the export sent as `field`; refused past the limit.
    async fn write(&mut self, bytes: &[u8], field: &str) -> Result<(), ApiError> {
        self.bytes += bytes.len() as u64;
        if self.bytes > self.limit {
            return Err(ApiError::of_field(
                StatusCode::PAYLOAD_TOO_LARGE,
                field,
                format!(
                    "the export is larger than this server takes ({} bytes, \
                     --max-restore-size): send it in parts",
                    self.limit
                ),
            ));
        }
        self.file.write_all(bytes).await.map_err(spool_failed)
    }

    /// The file, read from its start.
    async fn finish(mut self) -> Result<File, ApiError> {
        self.file.flush().await.map_err(spool_failed)?;
        let mut file = self.file.into_std().await;
        file.seek(SeekFrom::Start(0)).map_err(spool_failed)?;
        Ok(file)
    }
}

fn spool_failed(error: std::io::Error) -> ApiError {
    ApiError::internal(format!("writing the export to a temporary file: {error}"))
}

/// Reads the JSON array of jobs in `export` one job at a time, giving each, with its
/// place, to `each`; answers how many there were. The first job that cannot be parsed,
/// or the first refusal of `each`, ends the reading with its error.
fn each_job(
    export: &File,
    mut each: impl FnMut(usize, JobSpec) -> Result<(), ApiError>,
) -> Result<usize, ApiError> {
    let mut reader = BufReader::with_capacity(1 << 16, export);
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|error| ApiError::internal(format!("reading the export: {error}")))?;
    let mut refusal = None;
    let mut json = serde_json::Deserializer::from_reader(reader);
    let read = json
        .deserialize_seq(Jobs {
            each: &mut each,
            refusal: &mut refusal,
        })
        .and_then(|count| json.end().map(|()| count));
    match (read, refusal) {
        (Ok(count), _) => Ok(count),
        (Err(_), Some(refusal)) => Err(refusal),
        (Err(error), None) if error.is_data() => Err(ApiError::invalid(
            BODY_FIELD,
            format!("expected a JSON array of jobs: {error}"),
        )),
        (Err(error), None) => Err(ApiError::invalid(
            BODY_FIELD,
            format!("not valid JSON: {error}"),
        )),
    }
}

/// The visitor of the export's array: each element a job.
struct Jobs<'a, F> {
    each: &'a mut F,
    refusal: &'a mut Option<ApiError>,
}

impl<'de, F: FnMut(usize, JobSpec) -> Result<(), ApiError>> Visitor<'de> for Jobs<'_, F> {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON array of jobs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<usize, A::Error> {
        let mut index = 0;
        while let Some(item) = items.next_element::<Value>()? {
            let parsed =
                job_from(item, &format!("jobs[{index}]")).and_then(|spec| (self.each)(index, spec));
            if let Err(refusal) = parsed {
                *self.refusal = Some(refusal);
                return Err(A::Error::custom("refused"));
            }
            index += 1;
        }
        Ok(index)
    }
}
