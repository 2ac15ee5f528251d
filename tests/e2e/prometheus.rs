//! A real Prometheus (Debian's, started by `scripts/peers up prometheus` on
//! 127.0.0.1:9090) scrapes a server's `--metrics-listen` port, and PromQL through its
//! HTTP API answers the executions rate, as do the queries of the Grafana dashboard
//! (`contrib/grafana/sandcron-dashboard.json`), each run through Prometheus here.

use serde_json::{Value, json};

use crate::support::{Server, eventually};

/// The Prometheus the peers script started, and the directory of its targets files.
fn prometheus() -> (String, std::path::PathBuf) {
    let missing = |name: &str| {
        format!(
            "{name} is not set: run the suite with scripts/test, which starts Prometheus \
             (scripts/peers up prometheus)"
        )
    };
    let url = std::env::var("SANDCRON_TEST_PROMETHEUS_URL")
        .unwrap_or_else(|_| panic!("{}", missing("SANDCRON_TEST_PROMETHEUS_URL")));
    let targets = std::env::var("SANDCRON_TEST_PROMETHEUS_TARGETS")
        .unwrap_or_else(|_| panic!("{}", missing("SANDCRON_TEST_PROMETHEUS_TARGETS")));
    (url, targets.into())
}

/// Removes the targets file when the test ends, so Prometheus stops scraping.
struct Target(std::path::PathBuf);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What Prometheus answers to the PromQL `query` (its `data.result`).
async fn query(prometheus: &str, query: &str) -> Vec<Value> {
    let answer: Value = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("Prometheus at {prometheus} does not answer: {e}"))
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "success", "{query}: {answer}");
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of the first sample a PromQL `query` answers, if any.
async fn instant_value(prometheus: &str, text: &str) -> Option<f64> {
    query(prometheus, text).await.first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// The queries of the Grafana dashboard, its variables given: all nodes, a 10 s window.
fn dashboard_queries() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/grafana/sandcron-dashboard.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().clone())
        .map(|target| {
            target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "10s")
                .replace("$node", ".*")
        })
        .collect()
}

#[tokio::test]
async fn prometheus_scrapes_the_metrics_port_and_promql_gives_the_executions_rate() {
    let (prometheus, targets) = prometheus();
    let server = Server::sqlite(&["--metrics-listen", "127.0.0.1:0"]);
    let job = json!({"name": "every-second", "schedule": "@every 1s", "executor": "shell",
        "executor_config": {"command": "echo tick"}});
    assert_eq!(server.post("/v1/jobs", job).await.status, 201);
    // And one that fails, for the dashboard's failure panel.
    let failing = json!({"name": "failing", "schedule": "@every 1s", "executor": "shell",
        "executor_config": {"command": "exit 1"}});
    assert_eq!(server.post("/v1/jobs", failing).await.status, 201);
    let address = server
        .log()
        .lines()
        .find_map(|line| line.strip_prefix("sandcron: metrics on http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics line in\n{}", server.log()))
        .to_string();
    // A label of this test's own, so that other servers' series do not count.
    let run = format!("t{}-{}", std::process::id(), server.pid());
    std::fs::create_dir_all(&targets).unwrap();
    let file = targets.join(format!("{run}.json"));
    std::fs::write(
        &file,
        json!([{"targets": [address], "labels": {"run": run}}]).to_string(),
    )
    .unwrap();
    let _target = Target(file);

    let up = format!("up{{run=\"{run}\"}}");
    eventually(
        "Prometheus scraping the server",
        std::time::Duration::from_secs(60),
        || async { (instant_value(&prometheus, &up).await == Some(1.0)).then_some(()) },
    )
    .await;
    let rate =
        format!("sum by (node) (rate(sandcron_executions_started_total{{run=\"{run}\"}}[10s]))");
    let queries = dashboard_queries();
    assert!(
        queries[0].starts_with("sum by (tenant) (rate(sandcron_executions_started_total"),
        "the dashboard's first panel is the executions rate: {queries:?}"
    );
    eventually(
        "a positive executions rate",
        std::time::Duration::from_secs(60),
        || async { instant_value(&prometheus, &rate).await.filter(|r| *r > 0.0) },
    )
    .await;
    let succeeded = format!(
        "sum(sandcron_executions_finished_total{{run=\"{run}\",outcome=\"succeeded\",executor=\"shell\",tenant=\"default\"}})"
    );
    assert!(instant_value(&prometheus, &succeeded).await.unwrap_or(0.0) >= 1.0);
    // Every panel of the dashboard is a query Prometheus runs and answers with data.
    for expression in queries {
        let answered = eventually(
            "an answer to a dashboard query",
            std::time::Duration::from_secs(30),
            || {
                let (prometheus, expression) = (prometheus.clone(), expression.clone());
                async move { Some(query(&prometheus, &expression).await).filter(|r| !r.is_empty()) }
            },
        )
        .await;
        assert!(!answered.is_empty(), "{expression}");
    }
}
