//! The HTTP API and the client commands, against a real `sandcron serve` on loopback:
//! every API test runs on SQLite and on a fresh PostgreSQL database.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::conformance::{METHODS, documented_methods, documented_paths};
use crate::support::{
    Reply, Server, each_server, eventually, finished, fresh_postgres_database, stderr, stdout,
    tenant,
};

/// The router and the document are one list: every documented operation is routed (it
/// never gets the router's own 404 `no route` or 405), and every other method on a
/// documented path is 405. (`routes!` builds both from the handlers' annotations; this
/// holds it.)
#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other() {
    let server = Server::sqlite(&[]);
    let tenant_token = tenant(&server, "routes").await;
    for path in documented_paths() {
        let concrete = path.replace("{name}", "no-such").replace("{id}", "1");
        let documented = documented_methods(&path);
        for method in METHODS {
            // A tenant's token is refused by `POST /v1/leave` (403) instead of the node
            // leaving; the answer still shows the route.
            let token = match (method, path.as_str()) {
                ("post", "/v1/leave") => tenant_token.as_str(),
                _ => server.admin_token.as_str(),
            };
            let reply = server
                .call_as(Some(token), &method.to_uppercase(), &concrete, None)
                .await;
            let routed = reply.status != 405
                && !(reply.status == 404
                    && reply.json()["error"]
                        .as_str()
                        .is_some_and(|error| error.starts_with("no route")));
            assert_eq!(
                routed,
                documented.iter().any(|known| known == method),
                "{method} {path}: routed {routed}, documented {documented:?}: {} {}",
                reply.status,
                reply.text
            );
        }
    }
}

/// A job that only runs when asked.
fn manual(name: &str, command: &str) -> Value {
    json!({
        "name": name,
        "schedule": "@manually",
        "executor": "shell",
        "executor_config": {"command": command, "shell": "true"},
    })
}

fn names(reply: &Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn health_metrics_agent_openapi_and_unknown_routes() {
    for server in each_server().await {
        let backend = server.backend;
        let health = server.get("/health").await;
        assert_eq!(health.status, 200, "{backend}");
        assert_eq!(health.json(), json!({"status": "healthy"}), "{backend}");
        assert_eq!(health.header("x-whom"), Some("test-node"), "{backend}");

        let metrics = server.get("/metrics").await;
        assert_eq!(metrics.status, 200, "{backend}: {}", metrics.text);
        assert_eq!(
            metrics.header("content-type"),
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            "{backend}"
        );

        for path in ["/v1", "/v1/"] {
            let agent = server.get(path).await.json();
            assert_eq!(agent["agent"]["name"], "test-node", "{backend} {path}");
            assert_eq!(
                agent["agent"]["version"],
                env!("CARGO_PKG_VERSION"),
                "{backend}"
            );
        }

        let openapi = server.get("/v1/openapi.json").await;
        assert_eq!(openapi.status, 200, "{backend}");
        let document = openapi.json();
        assert!(
            document["openapi"].as_str().unwrap().starts_with("3.1"),
            "{backend}"
        );
        assert_eq!(
            document,
            serde_json::to_value(sandcron::api::openapi()).unwrap(),
            "{backend}: the served document is the generated one"
        );
        assert!(
            document["paths"]["/v1/jobs/{name}"]["post"].is_object(),
            "{backend}"
        );

        let unknown = server.get("/v2/nothing").await;
        assert_eq!(unknown.status, 404, "{backend}");
        assert!(
            unknown.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("no route"),
            "{backend}: {}",
            unknown.text
        );
        assert_eq!(unknown.header("x-whom"), Some("test-node"), "{backend}");

        let wrong_method = server.call("DELETE", "/health", None).await;
        assert_eq!(wrong_method.status, 405, "{backend}");
        assert!(wrong_method.json()["error"].is_string(), "{backend}");
        assert_eq!(
            wrong_method.header("x-whom"),
            Some("test-node"),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn jobs_are_created_read_replaced_and_listed() {
    for server in each_server().await {
        let backend = server.backend;
        let mut alpha = manual("alpha", "true");
        alpha["metadata"] = json!({"team": "a", "tier": "1"});
        alpha["schedule"] = json!("@every 1h");
        let created = server.post("/v1/jobs", alpha.clone()).await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        assert_eq!(
            created.header("location"),
            Some("/v1/jobs/alpha"),
            "{backend}"
        );
        let job = created.json();
        assert_eq!(job["id"], "alpha", "{backend}");
        assert_eq!(job["name"], "alpha", "{backend}");
        assert_eq!(job["executor_config"]["command"], "true", "{backend}");
        assert_eq!(job["status"], "", "{backend}");
        assert!(job["next"].is_string(), "{backend}: {job}");
        for field in ["success_count", "error_count"] {
            assert_eq!(job[field], 0, "{backend}: {field}");
        }
        for field in ["last_success", "last_error"] {
            assert!(job[field].is_null(), "{backend}: {field}");
        }
        assert_eq!(job["dependent_jobs"], json!([]), "{backend}");

        let read = server.get("/v1/jobs/alpha").await;
        assert_eq!(read.status, 200, "{backend}");
        assert_eq!(read.json()["metadata"]["tier"], "1", "{backend}");
        assert_eq!(server.get("/v1/jobs/nope").await.status, 404, "{backend}");

        // PATCH is Dkron's create-or-replace too.
        let mut bravo = manual("bravo", "true");
        bravo["displayname"] = json!("The B job");
        bravo["metadata"] = json!({"team": "b"});
        let patched = server.call("PATCH", "/v1/jobs", Some(bravo)).await;
        assert_eq!(patched.status, 201, "{backend}: {}", patched.text);

        // PUT: 201 when new, the name taken from the path; 200 when replaced.
        let mut charlie = manual("", "true");
        charlie["disabled"] = json!(true);
        let put_new = server.put("/v1/jobs/charlie", charlie.clone()).await;
        assert_eq!(put_new.status, 201, "{backend}: {}", put_new.text);
        assert_eq!(put_new.json()["name"], "charlie", "{backend}");
        charlie["owner"] = json!("ops");
        let put_again = server.put("/v1/jobs/charlie", charlie.clone()).await;
        assert_eq!(put_again.status, 200, "{backend}: {}", put_again.text);
        assert_eq!(put_again.json()["owner"], "ops", "{backend}");
        charlie["name"] = json!("delta");
        let mismatch = server.put("/v1/jobs/charlie", charlie).await;
        assert_eq!(mismatch.status, 400, "{backend}");
        assert_eq!(mismatch.field(), "name", "{backend}");

        let all = server.get("/v1/jobs").await;
        assert_eq!(all.status, 200, "{backend}");
        assert_eq!(names(&all), ["alpha", "bravo", "charlie"], "{backend}");
        assert_eq!(all.header("x-total-count"), Some("3"), "{backend}");

        for (query, expected) in [
            ("metadata[team]=b", vec!["bravo"]),
            ("metadata%5Bteam%5D=a&metadata%5Btier%5D=1", vec!["alpha"]),
            ("metadata[team]=a&metadata[tier]=2", vec![]),
            ("q=B%20job", vec!["bravo"]),
            ("q=har", vec!["charlie"]),
            ("disabled=true", vec!["charlie"]),
            ("disabled=false", vec!["alpha", "bravo"]),
            ("status=untriggered", vec!["alpha", "bravo", "charlie"]),
            ("status=success", vec![]),
            ("_sort=name&_order=desc", vec!["charlie", "bravo", "alpha"]),
            ("_sort=id&_order=DESC&_start=1&_end=2", vec!["bravo"]),
            (
                "_sort=displayname&_order=ASC",
                vec!["alpha", "charlie", "bravo"],
            ),
        ] {
            let reply = server.get(&format!("/v1/jobs?{query}")).await;
            assert_eq!(reply.status, 200, "{backend} {query}: {}", reply.text);
            assert_eq!(names(&reply), expected, "{backend} {query}");
        }
        let paged = server.get("/v1/jobs?_start=1&_end=3").await;
        assert_eq!(names(&paged), ["bravo", "charlie"], "{backend}");
        assert_eq!(paged.header("x-total-count"), Some("3"), "{backend}");
        let filtered_page = server.get("/v1/jobs?disabled=false&_start=0&_end=1").await;
        assert_eq!(names(&filtered_page), ["alpha"], "{backend}");
        assert_eq!(
            filtered_page.header("x-total-count"),
            Some("2"),
            "{backend}"
        );
    }
}

/// The sum of `field` over the minutes of a `GET /v1/stats` answer.
fn stats_total(stats: &Value, field: &str) -> u64 {
    stats["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|minute| minute[field].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn every_jobs_runs_schedule_previews_stats_and_the_executor_filter() {
    for server in each_server().await {
        let backend = server.backend;
        for job in [
            manual("good", "true"),
            manual("bad", "false"),
            json!({"name": "hello", "schedule": "@manually", "executor": "echo"}),
        ] {
            let created = server.post("/v1/jobs", job).await;
            assert_eq!(created.status, 201, "{backend}: {}", created.text);
        }
        let good = server.run_to_end("good").await;
        let bad = server.run_to_end("bad").await;

        // The job list filtered by executor, in the database.
        for (query, expected) in [
            ("executor=shell", vec!["bad", "good"]),
            ("executor=echo", vec!["hello"]),
            ("executor=ech", vec![]),
            ("executor=shell&_sort=name&_order=desc", vec!["good", "bad"]),
        ] {
            let reply = server.get(&format!("/v1/jobs?{query}")).await;
            assert_eq!(reply.status, 200, "{backend} {query}: {}", reply.text);
            assert_eq!(names(&reply), expected, "{backend} {query}");
            assert_eq!(
                reply.header("x-total-count"),
                Some(expected.len().to_string().as_str()),
                "{backend} {query}"
            );
        }

        // Every job's executions, newest first, by state, paged.
        let ids = |reply: &Reply| -> Vec<(i64, String)> {
            reply
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|execution| {
                    (
                        execution["id"].as_i64().unwrap(),
                        execution["job_name"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let (good_id, bad_id) = (good["id"].as_i64().unwrap(), bad["id"].as_i64().unwrap());
        let all = server.get("/v1/executions").await;
        assert_eq!(all.status, 200, "{backend}: {}", all.text);
        assert_eq!(
            ids(&all),
            [(bad_id, "bad".to_string()), (good_id, "good".to_string())],
            "{backend}"
        );
        let failed = server.get("/v1/executions?state=failed").await;
        assert_eq!(ids(&failed), [(bad_id, "bad".to_string())], "{backend}");
        assert_eq!(failed.json()[0]["state"], "failed", "{backend}");
        let page = server.get("/v1/executions?_start=1&_end=2").await;
        assert_eq!(ids(&page), [(good_id, "good".to_string())], "{backend}");

        // Another tenant sees none of them, and none of this tenant's stats.
        let created = server.post("/v1/tenants", json!({"name": "other"})).await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let token = server
            .post("/v1/tenants/other/tokens", json!({}))
            .await
            .json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let theirs = server
            .call_as(Some(&token), "GET", "/v1/executions", None)
            .await;
        assert_eq!(theirs.status, 200, "{backend}: {}", theirs.text);
        assert_eq!(theirs.json(), json!([]), "{backend}");

        // The last hour, minute by minute: this tenant's, every tenant's for an admin.
        let stats = server.get("/v1/stats").await;
        assert_eq!(stats.status, 200, "{backend}: {}", stats.text);
        let stats = stats.json();
        assert_eq!(stats["scope"], "tenant", "{backend}");
        assert_eq!(stats["node"], "test-node", "{backend}");
        assert_eq!(stats["minutes"].as_array().unwrap().len(), 60, "{backend}");
        assert_eq!(stats_total(&stats, "started"), 2, "{backend}: {stats}");
        assert_eq!(stats_total(&stats, "succeeded"), 1, "{backend}");
        assert_eq!(stats_total(&stats, "failed"), 1, "{backend}");
        let node = server.get("/v1/stats?scope=node").await.json();
        assert_eq!(node["scope"], "node", "{backend}");
        assert_eq!(stats_total(&node, "started"), 2, "{backend}");
        let tenants = server
            .call_as(Some(&token), "GET", "/v1/stats", None)
            .await
            .json();
        assert_eq!(stats_total(&tenants, "started"), 0, "{backend}");
        let refused = server
            .call_as(Some(&token), "GET", "/v1/stats?scope=node", None)
            .await;
        assert_eq!(refused.status, 403, "{backend}: {}", refused.text);
        assert_eq!(refused.field(), "scope", "{backend}");

        // A schedule in words, with its next fire times in its zone.
        let preview = server
            .get(
                "/v1/schedule/preview?schedule=0%2030%202%20*%20*%20MON-FRI\
                 &timezone=Europe/Berlin&after=2026-01-01T00:00:00Z&count=3",
            )
            .await;
        assert_eq!(preview.status, 200, "{backend}: {}", preview.text);
        assert_eq!(
            preview.json(),
            json!({
                "description": "at 02:30, on Monday through Friday",
                "timezone": "Europe/Berlin",
                "next": [
                    {"at": "2026-01-01T01:30:00Z", "local": "2026-01-01T02:30:00+01:00"},
                    {"at": "2026-01-02T01:30:00Z", "local": "2026-01-02T02:30:00+01:00"},
                    {"at": "2026-01-05T01:30:00Z", "local": "2026-01-05T02:30:00+01:00"},
                ],
            }),
            "{backend}"
        );

        // Bad input, refused naming the field.
        for (path, field) in [
            ("/v1/executions?state=finished", "state"),
            ("/v1/executions?_end=501", "_end"),
            ("/v1/executions?_start=-1", "_start"),
            ("/v1/stats?scope=cluster", "scope"),
            ("/v1/schedule/preview?schedule=*%20*%20*", "schedule"),
            (
                "/v1/schedule/preview?schedule=@daily&timezone=Mars/Base",
                "timezone",
            ),
            ("/v1/schedule/preview", "schedule"),
            ("/v1/schedule/preview?schedule=@daily&count=101", "count"),
            (
                "/v1/schedule/preview?schedule=@daily&after=yesterday",
                "after",
            ),
        ] {
            let refused = server.get(path).await;
            assert_eq!(refused.status, 400, "{backend} {path}: {}", refused.text);
            assert_eq!(refused.field(), field, "{backend} {path}");
        }

        // The built-ins' config keys, from their pages in docs/executors/.
        let executors = server.get("/v1/executors").await.json();
        let shell = executors
            .as_array()
            .unwrap()
            .iter()
            .find(|executor| executor["name"] == "shell")
            .unwrap();
        let command = shell["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["name"] == "command")
            .unwrap_or_else(|| panic!("{backend}: no command key in {shell}"));
        assert_eq!(command["default"], "required", "{backend}");
        // The default tenant's shell runs any program when the node names none.
        assert!(
            shell.get("warnings").is_none(),
            "{backend}: the default tenant's shell is denied nothing: {shell}"
        );
        // A tenant granted nothing is told which capabilities a built-in will be denied.
        let theirs = server
            .call_as(Some(&token), "GET", "/v1/executors", None)
            .await
            .json();
        let their_shell = theirs
            .as_array()
            .unwrap()
            .iter()
            .find(|executor| executor["name"] == "shell")
            .unwrap();
        assert_eq!(
            their_shell["warnings"][0],
            "process: tenant other is granted none; every call will be denied",
            "{backend}: {their_shell}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    for server in each_server().await {
        let backend = server.backend;
        assert_eq!(
            server
                .post("/v1/jobs", manual("parent", "true"))
                .await
                .status,
            201,
            "{backend}"
        );
        let mut child = manual("child", "true");
        child["schedule"] = json!("");
        child["parent_job"] = json!("parent");
        assert_eq!(
            server.post("/v1/jobs", child).await.status,
            201,
            "{backend}"
        );

        let base = manual("bad", "true");
        let with = |field: &str, value: Value| {
            let mut job = base.clone();
            job[field] = value;
            job
        };
        let cases = [
            (with("schedule", json!("not a schedule")), "schedule"),
            (with("timezone", json!("Mars/Olympus_Mons")), "timezone"),
            (with("executor", json!("teleport")), "executor"),
            (with("name", json!("Not A Slug")), "name"),
            (with("parent_job", json!("missing-parent")), "parent_job"),
            (with("concurrency", json!("sometimes")), "concurrency"),
            (with("retries", json!("many")), "retries"),
            (
                with("executor_config", json!({"command": ["a"]})),
                "executor_config",
            ),
            // `parent` becoming a child of its own child would make it its own ancestor.
            (
                {
                    let mut job = manual("parent", "true");
                    job["parent_job"] = json!("child");
                    job
                },
                "parent_job",
            ),
        ];
        for (job, field) in cases {
            let reply = server.post("/v1/jobs", job.clone()).await;
            assert_eq!(reply.status, 400, "{backend} {job}: {}", reply.text);
            assert_eq!(reply.field(), field, "{backend} {job}: {}", reply.text);
            let error = reply.json()["error"].as_str().unwrap().to_string();
            assert!(
                error.starts_with(&format!("{field}: ")),
                "{backend}: {error}"
            );
        }
        let concurrency = server
            .post("/v1/jobs", with("concurrency", json!("sometimes")))
            .await;
        assert!(
            concurrency.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("concurrency: unknown variant"),
            "{backend}: {}",
            concurrency.text
        );

        let not_json = server
            .reply(
                server
                    .request(reqwest::Method::POST, "/v1/jobs")
                    .body("this is not JSON"),
            )
            .await;
        assert_eq!(not_json.status, 400, "{backend}");
        assert_eq!(not_json.field(), "body", "{backend}");
        let array = server.post("/v1/jobs", json!([1, 2])).await;
        assert_eq!(
            (array.status, array.field()),
            (400, "body".into()),
            "{backend}"
        );

        for (query, field) in [
            ("_sort=owner", "_sort"),
            ("_order=sideways", "_order"),
            ("status=running", "status"),
            ("disabled=maybe", "disabled"),
            ("_start=-1", "_start"),
            ("_end=x", "_end"),
            ("q=ab%00cd", "q"),
            ("metadata%5Bteam%5D=%00", "metadata[team]"),
        ] {
            let reply = server.get(&format!("/v1/jobs?{query}")).await;
            assert_eq!(reply.status, 400, "{backend} {query}");
            assert_eq!(reply.field(), field, "{backend} {query}");
        }
        let executions = server
            .get("/v1/jobs/parent/executions?output_size_limit=lots")
            .await;
        assert_eq!(
            (executions.status, executions.field()),
            (400, "output_size_limit".into()),
            "{backend}"
        );
        // Nothing refused was stored.
        let all = server.get("/v1/jobs").await;
        assert_eq!(names(&all), ["child", "parent"], "{backend}");
        let parent = server.get("/v1/jobs/parent").await.json();
        assert_eq!(parent["parent_job"], "", "{backend}");
    }
}

#[tokio::test]
async fn jobs_are_toggled_and_deleted_children_first() {
    for server in each_server().await {
        let backend = server.backend;
        server.post("/v1/jobs", manual("parent", "true")).await;
        let mut child = manual("child", "true");
        child["schedule"] = json!("");
        child["parent_job"] = json!("parent");
        server.post("/v1/jobs", child).await;
        let parent = server.get("/v1/jobs/parent").await.json();
        assert_eq!(parent["dependent_jobs"], json!(["child"]), "{backend}");

        let toggled = server.call("POST", "/v1/jobs/parent/toggle", None).await;
        assert_eq!(toggled.status, 200, "{backend}: {}", toggled.text);
        assert_eq!(toggled.json()["disabled"], true, "{backend}");
        let toggled = server.call("POST", "/v1/jobs/parent/toggle", None).await;
        assert_eq!(toggled.json()["disabled"], false, "{backend}");
        let missing = server.call("POST", "/v1/jobs/nope/toggle", None).await;
        assert_eq!(missing.status, 404, "{backend}");

        let refused = server.delete("/v1/jobs/parent").await;
        assert_eq!(refused.status, 409, "{backend}: {}", refused.text);
        assert!(
            refused.text.contains("child"),
            "{backend}: {}",
            refused.text
        );

        let deleted = server.delete("/v1/jobs/child").await;
        assert_eq!(deleted.status, 200, "{backend}: {}", deleted.text);
        assert_eq!(deleted.json()["name"], "child", "{backend}");
        assert_eq!(
            server.delete("/v1/jobs/parent").await.status,
            200,
            "{backend}"
        );
        assert_eq!(
            server.delete("/v1/jobs/parent").await.status,
            404,
            "{backend}"
        );
        assert_eq!(server.get("/v1/jobs/parent").await.status, 404, "{backend}");
        let empty = server.get("/v1/jobs").await;
        assert_eq!(empty.json(), json!([]), "{backend}");
        assert_eq!(empty.header("x-total-count"), Some("0"), "{backend}");
    }
}

#[tokio::test]
async fn a_job_every_second_records_its_executions() {
    for server in each_server().await {
        let backend = server.backend;
        let hello = json!({
            "name": "hello",
            "schedule": "@every 1s",
            "executor": "shell",
            "executor_config": {"command": "echo hello"},
        });
        let created = server.post("/v1/jobs", hello).await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);

        let executions = eventually("two executions", Duration::from_secs(20), || async {
            let reply = server.get("/v1/jobs/hello/executions").await;
            let done: Vec<Value> = reply
                .json()
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["state"] == "succeeded")
                .cloned()
                .collect();
            (done.len() >= 2).then_some(reply)
        })
        .await;
        let list = executions.json();
        let list = list.as_array().unwrap();
        let total: usize = executions.header("x-total-count").unwrap().parse().unwrap();
        assert!(total >= list.len(), "{backend}");
        let ids: Vec<i64> = list.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "{backend}: newest first: {ids:?}"
        );
        let done = list.iter().find(|e| e["state"] == "succeeded").unwrap();
        assert_eq!(done["output"], "hello\n", "{backend}");
        assert_eq!(done["success"], true, "{backend}");
        assert_eq!(done["job_name"], "hello", "{backend}");
        assert_eq!(done["node_name"], "test-node", "{backend}");
        assert_eq!(done["attempt"], 1, "{backend}");
        assert_eq!(done["trigger"], "schedule", "{backend}");
        assert_eq!(done["reason"], "", "{backend}");
        assert_eq!(done["output_truncated"], false, "{backend}");
        for field in ["scheduled_at", "started_at", "finished_at"] {
            assert!(done[field].is_string(), "{backend}: {field}");
        }
        let id = done["id"].as_i64().unwrap();

        let one = server.get(&format!("/v1/jobs/hello/executions/{id}")).await;
        assert_eq!(one.status, 200, "{backend}");
        assert_eq!(one.json()["output"], "hello\n", "{backend}");
        let stored_output = server
            .get(&format!("/v1/jobs/hello/executions/{id}/output"))
            .await;
        assert_eq!(stored_output.text, "hello\n", "{backend}");

        let cut = server
            .get("/v1/jobs/hello/executions?output_size_limit=2&_start=0&_end=50")
            .await
            .json();
        let cut_done = cut
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone();
        assert_eq!(cut_done["output"], "o\n", "{backend}");
        assert_eq!(cut_done["output_truncated"], true, "{backend}");
        let page = server
            .get("/v1/jobs/hello/executions?_start=0&_end=1")
            .await;
        assert_eq!(page.json().as_array().unwrap().len(), 1, "{backend}");

        for path in [
            "/v1/jobs/hello/executions/999999".to_string(),
            "/v1/jobs/hello/executions/abc".to_string(),
            format!("/v1/jobs/other/executions/{id}"),
            "/v1/jobs/other/executions".to_string(),
            "/v1/jobs/hello/executions/999999/output".to_string(),
        ] {
            let reply = server.get(&path).await;
            assert_eq!(reply.status, 404, "{backend} {path}: {}", reply.text);
            assert!(reply.json()["error"].is_string(), "{backend} {path}");
        }

        let job = server.get("/v1/jobs/hello").await.json();
        assert!(
            job["success_count"].as_i64().unwrap() >= 2,
            "{backend}: {job}"
        );
        assert_eq!(job["status"], "success", "{backend}");
        assert!(job["last_success"].is_string(), "{backend}");

        // Stop the schedule, then clear the executions.
        server.call("POST", "/v1/jobs/hello/toggle", None).await;
        // Ticks claimed before the toggle (up to 2 s ahead) are dropped when they are due.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let cleared = server.delete("/v1/jobs/hello/executions").await;
        assert_eq!(cleared.status, 200, "{backend}: {}", cleared.text);
        assert_eq!(cleared.json()["success_count"], 0, "{backend}");
        let after = server.get("/v1/jobs/hello/executions").await;
        assert_eq!(after.header("x-total-count"), Some("0"), "{backend}");
        assert_eq!(
            server.delete("/v1/jobs/nope/executions").await.status,
            404,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_run_starts_at_once_and_its_output_is_followed_live() {
    for server in each_server().await {
        let backend = server.backend;
        let job = manual("slow", "for i in 1 2 3; do echo line$i; sleep 1; done");
        server.post("/v1/jobs", job).await;
        let asked = Instant::now();
        let run = server.call("POST", "/v1/jobs/slow/run", None).await;
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{backend}: run waited"
        );
        assert_eq!(run.status, 202, "{backend}: {}", run.text);
        let execution = run.json();
        let id = execution["id"].as_i64().expect("an id");
        assert_eq!(execution["state"], "running", "{backend}");
        assert!(execution["finished_at"].is_null(), "{backend}");
        assert_eq!(
            run.header("location"),
            Some(format!("/v1/jobs/slow/executions/{id}").as_str()),
            "{backend}"
        );

        // The run registers as busy as its task starts, a moment after the answer.
        let busy = eventually("the run to be busy", Duration::from_secs(5), || async {
            let busy = server.get("/v1/busy").await;
            assert_eq!(busy.status, 200, "{backend}");
            (busy.json().as_array().unwrap().len() == 1).then_some(busy)
        })
        .await;
        assert_eq!(busy.json()[0]["id"], id, "{backend}");
        assert_eq!(busy.json()[0]["state"], "running", "{backend}");
        assert_eq!(busy.header("x-total-count"), Some("1"), "{backend}");

        let mut response = server
            .request(
                reqwest::Method::GET,
                &format!("/v1/jobs/slow/executions/{id}/output"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{backend}"
        );
        let mut seen = String::new();
        let mut first_line_at = None;
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if first_line_at.is_none() && seen.contains("line1") {
                first_line_at = Some(Instant::now());
            }
        }
        assert_eq!(seen, "line1\nline2\nline3\n", "{backend}");
        // The command sleeps two seconds between its first line and its end: the first
        // line came as it was written, not with the rest.
        let streamed_for = first_line_at.unwrap().elapsed();
        assert!(
            streamed_for >= Duration::from_millis(1500),
            "{backend}: the first line came only {streamed_for:?} before the end"
        );

        let done = finished(&server, "slow", id).await;
        assert_eq!(done["state"], "succeeded", "{backend}: {done}");
        let busy = server.get("/v1/busy").await;
        assert_eq!(busy.json(), json!([]), "{backend}");
        let again = server
            .get(&format!("/v1/jobs/slow/executions/{id}/output"))
            .await;
        assert_eq!(again.text, "line1\nline2\nline3\n", "{backend}");

        assert_eq!(
            server.call("POST", "/v1/jobs/nope/run", None).await.status,
            404,
            "{backend}"
        );
        // `POST /v1/jobs/{name}` runs too.
        let short = server.call("POST", "/v1/jobs/slow", None).await;
        assert_eq!(short.status, 202, "{backend}: {}", short.text);
    }
}

#[tokio::test]
async fn a_running_execution_is_killed_and_forbid_refuses_a_second_run() {
    for server in each_server().await {
        let backend = server.backend;
        let mut job = manual("sleeper", "sleep 30");
        job["concurrency"] = json!("forbid");
        server.post("/v1/jobs", job).await;
        let run = server.call("POST", "/v1/jobs/sleeper/run", None).await;
        assert_eq!(run.status, 202, "{backend}: {}", run.text);
        let id = run.json()["id"].as_i64().unwrap();

        let second = server.call("POST", "/v1/jobs/sleeper/run", None).await;
        assert_eq!(second.status, 409, "{backend}: {}", second.text);

        let killed_at = Instant::now();
        let kill = server
            .call(
                "POST",
                &format!("/v1/jobs/sleeper/executions/{id}/kill"),
                None,
            )
            .await;
        assert_eq!(kill.status, 202, "{backend}: {}", kill.text);
        assert_eq!(kill.json(), json!({"killed": true}), "{backend}");
        let done = finished(&server, "sleeper", id).await;
        assert!(killed_at.elapsed() < Duration::from_secs(10), "{backend}");
        assert_eq!(done["state"], "failed", "{backend}: {done}");
        assert_eq!(done["success"], false, "{backend}");
        assert_eq!(done["reason"], "killed", "{backend}: {done}");

        let again = server
            .call(
                "POST",
                &format!("/v1/jobs/sleeper/executions/{id}/kill"),
                None,
            )
            .await;
        assert_eq!(again.status, 409, "{backend}: {}", again.text);
        let unknown = server
            .call("POST", "/v1/jobs/sleeper/executions/999999/kill", None)
            .await;
        assert_eq!(unknown.status, 404, "{backend}");
    }
}

#[tokio::test]
async fn runoncreate_starts_a_run() {
    for server in each_server().await {
        let backend = server.backend;
        let created = server
            .post("/v1/jobs?runoncreate", manual("eager", "echo eager"))
            .await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let execution = eventually("the run", Duration::from_secs(20), || async {
            let list = server.get("/v1/jobs/eager/executions").await.json();
            list.as_array().unwrap().first().cloned()
        })
        .await;
        let done = finished(&server, "eager", execution["id"].as_i64().unwrap()).await;
        assert_eq!(done["output"], "eager\n", "{backend}");
    }
}

#[tokio::test]
async fn a_restore_on_postgresql_refreshes_the_planners_statistics_of_the_jobs() {
    let database = fresh_postgres_database().await;
    let server = Server::postgres(&database, &[]);
    let jobs: Vec<Value> = (0..2_000)
        .map(|i| {
            json!({"name": format!("analyzed-{i}"), "schedule": "@every 1h",
                        "executor": "echo", "executor_config": {"message": "m"}})
        })
        .collect();
    let reply = server.post("/v1/restore", Value::Array(jobs)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Autovacuum analyzes on its own schedule (`last_autoanalyze`); the restore's own
    // `ANALYZE` is `last_analyze`, and `reltuples` counts the jobs just written.
    let pool = sqlx::PgPool::connect(&database).await.unwrap();
    let tables = eventually("the restore's ANALYZE", Duration::from_secs(20), || {
        let pool = pool.clone();
        async move {
            let analyzed: Vec<(String,)> = sqlx::query_as(
                "SELECT relname::text FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL \
                 ORDER BY relname",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            (analyzed.len() == 4).then_some(analyzed)
        }
    })
    .await;
    let names: Vec<&str> = tables.iter().map(|(name,)| name.as_str()).collect();
    assert_eq!(names, ["job_metadata", "job_state", "job_totals", "jobs"]);
    let (counted,): (f32,) =
        sqlx::query_as("SELECT reltuples FROM pg_class WHERE relname = 'jobs'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(counted, 2_000.0);
}

#[tokio::test]
async fn a_restore_is_streamed_in_chunks_and_refused_past_its_size_limit() {
    let mut server = Server::sqlite(&["--max-restore-size", "4M"]);
    // 25,000 jobs (three bulk chunks), a child of the last job first, and a parent the
    // export defines twice: the lines come back in the export's order.
    let mut jobs = vec![
        json!({"name": "early-child", "parent_job": "streamed-24999",
                               "executor": "echo", "executor_config": {"message": "c"}}),
    ];
    jobs.extend((0..25_000).map(|i| {
        json!({"name": format!("streamed-{i}"), "schedule": "@every 1h", "executor": "echo",
               "executor_config": {"message": "m"}, "metadata": {"shard": (i % 7).to_string()}})
    }));
    let export = Value::Array(jobs);
    assert!(export.to_string().len() < 4 << 20);
    let reply = server.post("/v1/restore", export).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let lines = reply.json();
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 25_001);
    assert_eq!(lines[0], "success create early-child");
    assert_eq!(lines[25_000], "success create streamed-24999");
    let parent = server.get("/v1/jobs/streamed-24999").await.json();
    assert_eq!(parent["dependent_jobs"], json!(["early-child"]));
    let shard = server.get("/v1/jobs?metadata[shard]=3&_end=1").await;
    assert_eq!(shard.header("x-total-count"), Some("3571"));

    // Past the limit: 413 naming the field, and nothing of it written.
    let big: Vec<Value> = (0..30_000)
        .map(|i| {
            json!({"name": format!("too-big-{i}"), "schedule": "@every 1h",
                        "executor": "echo", "executor_config": {"message": "x".repeat(100)}})
        })
        .collect();
    let refused = server.post("/v1/restore", Value::Array(big)).await;
    assert_eq!(
        (refused.status, refused.field()),
        (413, "body".into()),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("--max-restore-size"),
        "{}",
        refused.text
    );
    // The server answered before the body was all sent, and closed that connection.
    server.http = crate::support::client_with_token(&server.admin_token);
    let listed = server.get("/v1/jobs?q=too-big&_end=1").await;
    assert_eq!(listed.header("x-total-count"), Some("0"));

    // A job that cannot be parsed, far into the export, refuses all of it.
    let mut late_error: Vec<Value> = (0..15_000)
        .map(|i| json!({"name": format!("late-{i}"), "schedule": "@every 1h", "executor": "echo"}))
        .collect();
    late_error.push(json!({"name": "late-bad", "concurrency": 3}));
    let refused = server.post("/v1/restore", Value::Array(late_error)).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.field(), "jobs[15000].concurrency");
    let listed = server.get("/v1/jobs?q=late-&_end=1").await;
    assert_eq!(listed.header("x-total-count"), Some("0"));
}

#[tokio::test]
async fn restore_creates_parents_first_and_reports_each_job() {
    for server in each_server().await {
        let backend = server.backend;
        let mut child = manual("restored-child", "true");
        child["schedule"] = json!("");
        child["parent_job"] = json!("restored-parent");
        let mut invalid = manual("restored-bad", "true");
        invalid["schedule"] = json!("every tuesday");
        let export = json!([child, manual("restored-parent", "true"), invalid]);

        // Dkron's form: multipart field `file`.
        let boundary = "sandcron-test-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"jobs.json\"\r\nContent-Type: application/json\r\n\r\n{export}\r\n\
             --{boundary}--\r\n"
        );
        let reply = server
            .reply(
                server
                    .request(reqwest::Method::POST, "/v1/restore")
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(body),
            )
            .await;
        assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
        let lines = reply.json();
        let lines: Vec<&str> = lines
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{backend}: {lines:?}");
        assert!(
            lines.contains(&"success create restored-child"),
            "{backend}: {lines:?}"
        );
        assert!(
            lines.contains(&"success create restored-parent"),
            "{backend}: {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("fail create restored-bad: schedule: ")),
            "{backend}: {lines:?}"
        );
        let parent = server.get("/v1/jobs/restored-parent").await.json();
        assert_eq!(
            parent["dependent_jobs"],
            json!(["restored-child"]),
            "{backend}"
        );

        // A raw JSON body works too, and a job that cannot be read is named by index.
        let raw = server
            .post("/v1/restore", json!([manual("restored-raw", "true")]))
            .await;
        assert_eq!(
            raw.json(),
            json!(["success create restored-raw"]),
            "{backend}"
        );
        let unreadable = server
            .post(
                "/v1/restore",
                json!([manual("x", "true"), {"name": "y", "concurrency": 3}]),
            )
            .await;
        assert_eq!(unreadable.status, 400, "{backend}: {}", unreadable.text);
        assert_eq!(unreadable.field(), "jobs[1].concurrency", "{backend}");
        let not_a_list = server.post("/v1/restore", json!({"name": "x"})).await;
        assert_eq!(
            (not_a_list.status, not_a_list.field()),
            (400, "body".into())
        );
        let no_file = server
            .reply(
                server
                    .request(reqwest::Method::POST, "/v1/restore")
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(format!("--{boundary}--\r\n")),
            )
            .await;
        assert_eq!((no_file.status, no_file.field()), (400, "file".into()));
        assert_eq!(server.get("/v1/jobs/x").await.status, 404, "{backend}");

        // Thousands of jobs in one restore (written in bulk); a second restore replaces
        // them, and the same name twice keeps its last definition.
        let many = |message: &str| {
            let jobs = (0..2500).map(|i| {
                json!({"name": format!("bulk-{i}"), "schedule": "@every 1h",
                       "executor": "echo", "executor_config": {"message": message}})
            });
            Value::Array(jobs.collect())
        };
        for message in ["first", "second"] {
            let mut export = many(message);
            let array = export.as_array_mut().unwrap();
            array.push(json!({"name": "bulk-0", "schedule": "@every 1h",
                              "executor": "echo", "executor_config": {"message": "last"}}));
            let reply = server.post("/v1/restore", export).await;
            assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
            let lines = reply.json();
            let lines = lines.as_array().unwrap();
            assert_eq!(lines.len(), 2501, "{backend}");
            assert!(
                lines
                    .iter()
                    .all(|l| l.as_str().unwrap().starts_with("success")),
                "{backend}: {lines:?}"
            );
        }
        let listed = server.get("/v1/jobs?q=bulk-&_end=1").await;
        assert_eq!(listed.header("x-total-count"), Some("2500"), "{backend}");
        let last = server.get("/v1/jobs/bulk-0").await.json();
        assert_eq!(last["executor_config"]["message"], "last", "{backend}");
        let other = server.get("/v1/jobs/bulk-2499").await.json();
        assert_eq!(other["executor_config"]["message"], "second", "{backend}");
        assert!(other["next"].is_string(), "{backend}: {other}");
    }
}

#[test]
fn the_client_commands_drive_a_served_instance() {
    let server = Server::sqlite(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.json");
    std::fs::write(
        &file,
        json!([
            {"name": "cli-job", "schedule": "@manually", "executor": "shell",
             "executor_config": {"command": "echo from the cli"}},
            {"name": "cli-other", "schedule": "@every 1h", "executor": "echo",
             "executor_config": {"message": "hi"}}
        ])
        .to_string(),
    )
    .unwrap();
    let ok = |args: &[&str]| {
        let output = server.cli(args);
        assert!(
            output.status.success(),
            "sandcron {args:?}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    };

    let applied = ok(&["job", "apply", "-f", file.to_str().unwrap()]);
    assert_eq!(applied, "job cli-job applied\njob cli-other applied\n");
    // From standard input, one job.
    let mut apply_stdin = crate::support::sandcron()
        .env("SANDCRON_SERVER", &server.base)
        .env("SANDCRON_TOKEN", &server.admin_token)
        .args(["job", "apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = apply_stdin.stdin.take().unwrap();
        input
            .write_all(
                br#"{"name": "cli-job", "schedule": "@manually", "executor": "shell",
                     "executor_config": {"command": "echo from the cli"}, "owner": "me"}"#,
            )
            .unwrap();
    }
    let from_stdin = apply_stdin.wait_with_output().unwrap();
    assert!(from_stdin.status.success());
    assert_eq!(stdout(&from_stdin), "job cli-job applied\n");

    let list = ok(&["job", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    for column in ["NAME", "SCHEDULE", "STATUS", "NEXT", "SUCCESS", "ERROR"] {
        assert!(lines[0].contains(column), "{list}");
    }
    assert!(
        lines[1].starts_with("cli-job ") && lines[1].contains("@manually"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("cli-other ") && lines[2].contains("@every 1h"),
        "{list}"
    );

    let got: Value = serde_json::from_str(&ok(&["job", "get", "cli-job"])).unwrap();
    assert_eq!(got["owner"], "me");

    let started = ok(&["job", "run", "cli-job"]);
    let id = started
        .strip_prefix("execution ")
        .and_then(|rest| rest.strip_suffix(" started\n"))
        .unwrap_or_else(|| panic!("{started:?}"))
        .to_string();
    let followed = ok(&["execution", "logs", "cli-job", &id, "--follow"]);
    assert_eq!(followed, "from the cli\n");
    let logs = ok(&["execution", "logs", "cli-job", &id]);
    assert_eq!(logs, "from the cli\n");
    let executions = ok(&["execution", "list", "cli-job"]);
    let rows: Vec<&str> = executions.lines().collect();
    for column in ["ID", "STATE", "STARTED", "FINISHED", "ATTEMPT", "REASON"] {
        assert!(rows[0].contains(column), "{executions}");
    }
    assert!(rows[1].starts_with(&format!("{id} ")), "{executions}");
    assert!(rows[1].contains("succeeded"), "{executions}");

    assert_eq!(
        ok(&["job", "toggle", "cli-other"]),
        "job cli-other disabled\n"
    );
    assert!(ok(&["job", "list"]).contains("disabled"));
    assert_eq!(
        ok(&["job", "toggle", "cli-other"]),
        "job cli-other enabled\n"
    );
    assert_eq!(
        ok(&["job", "delete", "cli-other"]),
        "job cli-other deleted\n"
    );

    // A refusal prints the server's error and exits 1.
    let missing = server.cli(&["job", "get", "cli-other"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );
    let not_running = server.cli(&["execution", "kill", "cli-job", &id]);
    assert_eq!(
        not_running.status.code(),
        Some(1),
        "{}",
        stderr(&not_running)
    );
    std::fs::write(
        &file,
        r#"{"name": "bad", "schedule": "@manually", "executor": "nope"}"#,
    )
    .unwrap();
    let refused = server.cli(&["job", "apply", "-f", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("executor: "),
        "{}",
        stderr(&refused)
    );
    // Bad input is a usage error: exit 2.
    std::fs::write(&file, "not json").unwrap();
    let usage = server.cli(&["job", "apply", "-f", file.to_str().unwrap()]);
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
}

#[test]
fn the_client_says_when_no_server_answers() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let output = crate::support::run(&["--server", &url, "job", "list"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!("sandcron: cannot reach the server at {url}: ")),
        "{message}"
    );
    assert!(
        message.contains("is `sandcron serve` running?"),
        "{message}"
    );
}

#[tokio::test]
async fn serve_hides_the_database_password_and_stops_on_sigterm() {
    let database = fresh_postgres_database().await;
    // The test PostgreSQL trusts loopback, so any password is accepted, and none must
    // be printed.
    let with_password = database.replacen("://postgres@", "://postgres:hunter2@", 1);
    assert_ne!(
        with_password, database,
        "SANDCRON_TEST_POSTGRES_URL has no user"
    );
    let mut server = Server::postgres(&with_password, &[]);
    let log = server.log();
    assert!(log.contains("(database postgres://postgres:***@"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    assert_eq!(server.get("/health").await.status, 200);

    // SAFETY: `kill` has no memory effects; the pid is our own child's.
    let sent = unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let status = server.wait_exit(Duration::from_secs(20));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "serve did not stop cleanly: {}",
        server.log()
    );
}

#[tokio::test]
async fn an_execution_cut_short_by_kill_9_of_the_server_is_closed_as_failed_on_restart() {
    for server in each_server().await {
        let backend = server.backend;
        server
            .post("/v1/jobs", manual("long", "echo begun; sleep 60"))
            .await;
        let run = server.call("POST", "/v1/jobs/long/run", None).await;
        assert_eq!(run.status, 202, "{backend}: {}", run.text);
        let id = run.json()["id"].as_i64().unwrap();
        let path = format!("/v1/jobs/long/executions/{id}");
        eventually(
            "the execution to be running",
            Duration::from_secs(10),
            || async { (server.get(&path).await.json()["state"] == "running").then_some(()) },
        )
        .await;

        let server = server.crash_and_restart();
        let execution = server.get(&path).await.json();
        assert_eq!(execution["state"], "failed", "{backend}: {execution}");
        assert_eq!(
            execution["reason"], "host restarted",
            "{backend}: {execution}"
        );
        assert!(!execution["finished_at"].is_null(), "{backend}");
        let busy = server.get("/v1/busy").await;
        assert_eq!(
            busy.json(),
            json!([]),
            "{backend}: no phantom running execution"
        );
        let job = server.get("/v1/jobs/long").await.json();
        assert_eq!(job["status"], "failed", "{backend}: {job}");
        // The job runs again after the restart.
        let again = server.call("POST", "/v1/jobs/long/run", None).await;
        assert_eq!(again.status, 202, "{backend}: {}", again.text);
    }
}
