//! The `http` executor: sends one request as Dkron's http executor does, through
//! `wasi:http` (the host checks the URL against the executor's allowed hosts).
//!
//! Keys: `method` and `url` (required), `headers`, `body`, `timeout`, `expectCode`,
//! `expectBody`, `debug`; the `tls*` keys are accepted and not yet supported. The output is
//! the response body. See `docs/executors/http.md`.

mod config;
mod redirect;

use std::time::Instant;

use sandcron_sdk::duration::format_duration;
use sandcron_sdk::http::{HttpError, Request, Response};
use sandcron_sdk::output;
use sandcron_sdk::{Execution, Executor, Failure};

use crate::config::HttpConfig;

struct Http;

impl Executor for Http {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = HttpConfig::from_execution(&execution)?;
        for line in &config.unsupported {
            output::eprint(&format!("{line}\n"));
        }
        for line in &config.notes {
            output::print(&format!("{line}\n"));
        }
        let timeout = config.effective_timeout(execution.time_left());
        if config.debug {
            write_debug_request(&execution, &config);
        }

        let request = Request {
            method: config.method.clone(),
            url: config.url.clone(),
            headers: config.headers.clone(),
            body: config.body.clone().into_bytes(),
            timeout,
        };
        let response =
            send_following_redirects(request, config.debug).map_err(|error| match error {
                HttpError::Timeout => Failure::Unavailable(format!(
                    "http: request to {} timed out after {}",
                    config.url,
                    timeout.map(format_duration).unwrap_or_default()
                )),
                other => Failure::from(other),
            })?;

        if config.debug {
            write_debug_response(&response);
        }
        output::write(output::Channel::Stdout, &response.body);
        check(&config, &response)
    }
}

/// Sends `request`, following redirects as Go's client does; the timeout covers all hops.
fn send_following_redirects(mut request: Request, debug: bool) -> Result<Response, HttpError> {
    let started = Instant::now();
    let total = request.timeout;
    let mut hops = 0;
    loop {
        let response = request.send()?;
        let location = response.header("location").map(str::to_owned);
        let (true, Some(location)) = (redirect::is_redirect(response.status), location) else {
            return Ok(response);
        };
        if hops == redirect::MAX_REDIRECTS {
            return Err(HttpError::Protocol(format!(
                "stopped after {} redirects",
                redirect::MAX_REDIRECTS
            )));
        }
        hops += 1;
        let next = redirect::resolve(&request.url, &location);
        if debug {
            output::print(&format!("debug: redirect: {} to {next}\n", response.status));
        }
        if redirect::becomes_get(response.status, &request.method) {
            request.method = "GET".to_owned();
            request.body.clear();
            request.headers.retain(|(name, _)| {
                !name.eq_ignore_ascii_case("content-type")
                    && !name.eq_ignore_ascii_case("content-length")
            });
        }
        if redirect::host(&next) != redirect::host(&request.url) {
            request.headers.retain(|(name, _)| {
                !name.eq_ignore_ascii_case("authorization") && !name.eq_ignore_ascii_case("cookie")
            });
        }
        request.url = next;
        if let Some(total) = total {
            let left = total.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(HttpError::Timeout);
            }
            request.timeout = Some(left);
        }
    }
}

/// Applies `expectCode` and `expectBody`; the status is not checked otherwise (Dkron).
fn check(config: &HttpConfig, response: &Response) -> Result<(), Failure> {
    let status = response.status.to_string();
    if !config.expect_code.is_empty() && !config.expect_code.contains(&status) {
        return Err(Failure::Failed(format!(
            "http: response status {status} is not one of the expected codes {}",
            config.expect_code.join(",")
        )));
    }
    if let Some(pattern) = &config.expect_body
        && !pattern.is_match(&response.text())
    {
        return Err(Failure::Failed(format!(
            "http: response body does not match expectBody {:?}",
            pattern.as_str()
        )));
    }
    Ok(())
}

/// Writes the config and the request line, as Dkron's `debug` does.
fn write_debug_request(execution: &Execution, config: &HttpConfig) {
    let mut text = String::from("debug: config:\n");
    for (key, value) in &execution.executor_config {
        text.push_str(&format!("  {key}: {value}\n"));
    }
    text.push_str(&format!(
        "debug: request: {} {}\n",
        config.method, config.url
    ));
    for (name, value) in &config.headers {
        text.push_str(&format!("  {name}: {value}\n"));
    }
    output::print(&text);
}

/// Writes the response status and headers ahead of the body.
fn write_debug_response(response: &Response) {
    let mut text = format!("debug: response: {}\n", response.status);
    for (name, value) in &response.headers {
        text.push_str(&format!("  {name}: {value}\n"));
    }
    output::print(&text);
}

sandcron_sdk::export_executor!(Http);
