//! The web console with a million jobs: how long the jobs page takes to show its first
//! page, and a search, in a real browser (Debian's headless Chromium over WebDriver, as
//! the browser tests drive it), against `sandcron serve` on a SQLite database loaded
//! with N jobs. Each figure is measured in the page, from the change of address to the
//! table filled with its rows and count; the same requests are also timed straight
//! against the API, to tell the server's share from the browser's.
//!
//! ```sh
//! scripts/peers up chromium && eval "$(scripts/peers env)"
//! cargo bench -p sandcron --bench console -- --jobs 1000000
//! ```

// The browser tests' helpers: a server on loopback, a browser on its console.
#[path = "../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

/// The benchmark times the console, so its answers are not checked against the OpenAPI
/// document (the e2e tests check them).
mod conformance {
    /// Checks nothing.
    pub fn check(_method: &str, _path: &str, _status: u16, _content_type: &str, _body: &str) {}
}

#[path = "../../tests/browser/browser.rs"]
#[allow(dead_code)]
mod browser;

use std::time::{Duration, Instant};

use sandcron::store::{self, DEFAULT_TENANT, NewJob};
use serde_json::json;

use crate::browser::Browser;
use crate::support::Server;

/// Times each measurement is taken; the median and the largest are reported.
const ROUNDS: usize = 10;

/// In the page: goes to `fragment`, and answers how many milliseconds later the jobs
/// table shows rows and the summary contains `needle`.
const TIME_PAGE: &str = r#"
const [fragment, needle, done] = arguments;
const filled = () => {
  const summary = document.querySelector('main .summary');
  return summary && summary.textContent.includes(needle)
    && document.querySelectorAll('main table tbody tr').length > 0;
};
window.location.hash = '#/overview';
requestAnimationFrame(() => {
  const start = performance.now();
  window.location.hash = fragment;
  const look = () => filled() ? done(performance.now() - start) : requestAnimationFrame(look);
  requestAnimationFrame(look);
});
"#;

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let jobs: usize = argv
        .iter()
        .position(|arg| arg == "--jobs")
        .and_then(|at| argv.get(at + 1))
        .map_or(Ok(1_000_000), |n| n.parse())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(jobs))
}

async fn run(jobs: usize) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let url = format!("sqlite://{}", scratch.path().join("console.db").display());
    let loading = Instant::now();
    {
        let store = store::open(&url).await?;
        let first_tick = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        for first in (0..jobs).step_by(10_000) {
            let chunk: Vec<NewJob> = (first..(first + 10_000).min(jobs))
                .map(|i| {
                    let spec = serde_json::from_value(json!({
                        "name": format!("bulk-{i:07}"),
                        "schedule": "@every 1h",
                        "executor": if i % 10 == 0 { "shell" } else { "echo" },
                        "executor_config": {"message": "tick"},
                        "metadata": {"bench": "console"},
                    }))
                    .expect("a valid job");
                    NewJob::new(spec, Some(first_tick)).expect("a job to write")
                })
                .collect();
            store.put_jobs(DEFAULT_TENANT, &chunk).await?;
        }
    }
    println!("loaded {jobs} jobs in {:.1?}", loading.elapsed());

    let server = Server::sqlite(&["--database-url", &url]);
    let browser = Browser::open("bench", &server).await;
    browser.sign_in(&server.admin_token).await;
    let total = format_count(jobs);
    let last = format!("bulk-{:07}", jobs - 1);
    let cases = [
        (
            "first page",
            "/jobs".to_string(),
            format!("of {total}"),
            "/v1/jobs?_start=0&_end=50".to_string(),
        ),
        (
            "search, one match",
            format!("/jobs?q={last}"),
            "of 1 job".to_string(),
            format!("/v1/jobs?q={last}&_start=0&_end=50"),
        ),
        (
            "search, a tenth match",
            "/jobs?q=-01".to_string(),
            "of".to_string(),
            "/v1/jobs?q=-01&_start=0&_end=50".to_string(),
        ),
        (
            // Shorter than a trigram: no index answers it, every name is read.
            "search, one character, all match",
            "/jobs?q=0".to_string(),
            "of".to_string(),
            "/v1/jobs?q=0&_start=0&_end=50".to_string(),
        ),
        (
            "filter by executor",
            "/jobs?executor=shell".to_string(),
            "of".to_string(),
            "/v1/jobs?executor=shell&_start=0&_end=50".to_string(),
        ),
    ];
    println!("{jobs} jobs; median / max of {ROUNDS} rounds");
    for (name, fragment, needle, api) in cases {
        let mut in_browser = Vec::new();
        let mut from_api = Vec::new();
        for _ in 0..ROUNDS {
            let answer = browser
                .client
                .execute_async(TIME_PAGE, vec![json!(fragment), json!(needle)])
                .await?;
            in_browser.push(Duration::from_secs_f64(
                answer.as_f64().unwrap_or(f64::NAN) / 1e3,
            ));
            let started = Instant::now();
            let reply = server.get(&api).await;
            from_api.push(started.elapsed());
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
        println!(
            "{name:<22} page rendered {} · API alone {}",
            spread(&mut in_browser),
            spread(&mut from_api)
        );
    }
    browser.close().await;
    Ok(())
}

fn spread(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "{:.0?} / {:.0?}",
        times[times.len() / 2],
        times[times.len() - 1]
    )
}

/// `1000000` as the console writes it in an English locale: `1,000,000`.
fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
