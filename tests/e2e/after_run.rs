//! Processors and notifications against a real `sandcron serve`: the files and log
//! processors on both backends, syslog against rsyslog and mail against aiosmtpd (both
//! started by `scripts/peers up`), webhooks against a recording HTTP server on loopback,
//! and the fluent processor against a forward-protocol receiver in this test (a stand-in:
//! neither Fluentd nor Fluent Bit installs from the reachable registries).

use std::time::Duration;

use serde_json::{Value, json};

use crate::peers::peer_env;
use crate::support::{RecordingServer, Server, eventually, fresh_postgres_database};

/// A recording HTTP server usable from an async test: started and dropped on a thread of
/// its own, since it owns a runtime.
struct Hook(Option<RecordingServer>);

impl Hook {
    fn start() -> Self {
        Self(Some(
            std::thread::spawn(|| RecordingServer::start(200, "ok"))
                .join()
                .unwrap(),
        ))
    }
}

impl std::ops::Deref for Hook {
    type Target = RecordingServer;
    fn deref(&self) -> &RecordingServer {
        self.0.as_ref().unwrap()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        let server = self.0.take();
        let _ = std::thread::spawn(move || drop(server)).join();
    }
}

/// A job that runs `command` when asked, with `extra` fields.
fn job(name: &str, command: &str, extra: Value) -> Value {
    let mut job = json!({
        "name": name,
        "schedule": "@manually",
        "executor": "shell",
        "executor_config": {"command": command, "shell": "true"},
    });
    job.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    job
}

/// Runs `name` and waits until its execution shows what ran after it under `key`
/// (`processors` or `notifications`) with every step settled; the execution.
async fn run_and_settle(server: &Server, name: &str, key: &str) -> Value {
    run_and_settle_as(server, &server.admin_token, name, key).await
}

/// [`run_and_settle`] with `token` (another tenant's job).
async fn run_and_settle_as(server: &Server, token: &str, name: &str, key: &str) -> Value {
    let run = server
        .call_as(Some(token), "POST", &format!("/v1/jobs/{name}/run"), None)
        .await;
    assert_eq!(run.status, 202, "{}", run.text);
    let path = format!("/v1/jobs/{name}/executions/{}", run.json()["id"]);
    eventually(
        &format!("{path} to show its {key}"),
        Duration::from_secs(60),
        || async {
            let execution = server.call_as(Some(token), "GET", &path, None).await.json();
            let settled = execution[key]
                .as_array()
                .is_some_and(|steps| steps.iter().all(|step| !step["ok"].is_null()));
            settled.then_some(execution)
        },
    )
    .await
}

#[tokio::test]
async fn processors_run_in_order_and_each_step_is_recorded() {
    let postgres = fresh_postgres_database().await;
    for dir_server in [
        (tempfile::tempdir().unwrap(), "sqlite"),
        (tempfile::tempdir().unwrap(), "postgres"),
    ] {
        let (dir, backend) = dir_server;
        let files_dir = dir.path().to_str().unwrap().to_string();
        let flags = ["--processor-files-dir", files_dir.as_str()];
        let server = match backend {
            "sqlite" => Server::sqlite(&flags),
            _ => Server::postgres(&postgres, &flags),
        };
        let created = server
            .post(
                "/v1/jobs",
                job(
                    "steps",
                    "echo step-output; exit 3",
                    json!({"processors": [
                        {"type": "files", "forward": "true", "log_dir": "out"},
                        {"type": "files", "log_dir": "/etc"},
                        {"type": "log"},
                    ]}),
                ),
            )
            .await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let execution = run_and_settle(&server, "steps", "processors").await;
        let steps = execution["processors"].as_array().unwrap();
        assert_eq!(steps.len(), 3, "{backend}: {execution}");
        assert_eq!(steps[0], json!({"name": "files", "ok": true}), "{backend}");
        assert_eq!(steps[1]["ok"], false, "{backend}");
        assert!(
            steps[1]["error"]
                .as_str()
                .unwrap()
                .contains("outside this server's processor files directory"),
            "{backend}: {}",
            steps[1]
        );
        assert_eq!(steps[2], json!({"name": "log", "ok": true}), "{backend}");
        // The last step does not forward: the stored output says where it went.
        assert_eq!(
            execution["output"], "Output in the sandcron log",
            "{backend}"
        );
        let written: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(written.len(), 1, "{backend}: {written:?}");
        let name = written[0].file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with("-test-node.log"),
            "{backend}: Dkron's <started_at nanos>-<node>.log: {name}"
        );
        assert_eq!(
            std::fs::read_to_string(&written[0]).unwrap(),
            "step-output\n",
            "{backend}"
        );
        let log = server.log();
        assert!(
            log.contains(&format!(
                "----- BEGIN OUTPUT job=steps execution={} -----",
                execution["id"]
            )) && log.contains("step-output")
                && log.contains("----- END OUTPUT -----"),
            "{backend}: {log}"
        );
    }
}

#[tokio::test]
async fn dkron_s_processor_examples_are_accepted_with_an_executor() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::sqlite(&["--processor-files-dir", dir.path().to_str().unwrap()]);
    // Dkron's docs (usage/processors/file.md), as written: its old top-level "command".
    let example = json!({
        "name": "job_name",
        "command": "echo 'Hello files'",
        "schedule": "@every 2m",
        "tags": {"role": "web"},
        "processors": {
            "files": {"log_dir": "/var/log/mydir", "forward": "true"}
        }
    });
    let refused = server.post("/v1/jobs", example.clone()).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.field(), "command");
    assert!(
        refused.text.contains(r#"\"executor\":\"shell\""#),
        "the refusal says what to write: {}",
        refused.text
    );
    for processors in [
        json!({"files": {"log_dir": "/var/log/mydir", "forward": "true"}}),
        json!({"log": {"forward": "true"}}),
        json!({"syslog": {"forward": "true"}}),
        json!({"syslog": {"forward": "true"}, "log": {}, "files": {"forward": "true"}}),
    ] {
        let mut written = example.clone();
        let object = written.as_object_mut().unwrap();
        object.remove("command");
        object.remove("tags");
        object.insert("executor".into(), json!("shell"));
        object.insert(
            "executor_config".into(),
            json!({"command": "echo 'Hello files'"}),
        );
        object.insert("processors".into(), processors.clone());
        let created = server.post("/v1/jobs", written).await;
        assert_eq!(created.status, 201, "{processors}: {}", created.text);
        // Shown as written, the steps in the order written.
        let shown = &created.json()["processors"];
        assert_eq!(*shown, processors);
        let order =
            |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
        assert_eq!(order(shown), order(&processors));
    }
}

#[tokio::test]
async fn the_syslog_processor_reaches_rsyslog_over_udp_and_tcp() {
    let target = peer_env("SANDCRON_TEST_SYSLOG");
    let file = peer_env("SANDCRON_TEST_SYSLOG_FILE");
    for transport in ["udp", "tcp"] {
        let server = Server::sqlite(&["--syslog", &format!("{transport}://{target}")]);
        let marker = format!("syslog-{transport}-{}", std::process::id());
        let created = server
            .post(
                "/v1/jobs",
                job(
                    "to-syslog",
                    &format!("echo {marker}"),
                    json!({"processors": {"syslog": {}}}),
                ),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let execution = run_and_settle(&server, "to-syslog", "processors").await;
        assert_eq!(execution["processors"][0]["ok"], true, "{execution}");
        assert_eq!(execution["output"], "Output in syslog");
        let line = eventually(
            "rsyslog to write the message",
            Duration::from_secs(10),
            || async {
                std::fs::read_to_string(&file)
                    .ok()?
                    .lines()
                    .find(|line| line.contains(&marker))
                    .map(str::to_string)
            },
        )
        .await;
        assert!(
            line.starts_with("<78>1 ")
                && line.contains(" sandcron ")
                && line.contains(&format!(
                    "job=to-syslog execution={} success=true",
                    execution["id"]
                )),
            "{transport}: facility cron, severity info, RFC 5424: {line}"
        );
    }
}

#[tokio::test]
async fn the_fluent_processor_speaks_the_forward_protocol() {
    // A stand-in forward input: reads one connection's bytes and decodes them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let received = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let server = Server::sqlite(&["--fluent", &address, "--fluent-tag", "jobs.out"]);
    let created = server
        .post(
            "/v1/jobs",
            job(
                "to-fluent",
                "echo fluent-output",
                json!({"processors": {"fluent": {"forward": "true"}}}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let execution = run_and_settle(&server, "to-fluent", "processors").await;
    assert_eq!(execution["processors"][0]["ok"], true, "{execution}");
    assert_eq!(execution["output"], "fluent-output\n", "forwarded");
    let bytes = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    let (tag, time, record): (String, i64, Value) = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(tag, "jobs.out");
    assert!(time > 1_700_000_000, "{time}");
    assert_eq!(record["host"], "test-node");
    assert_eq!(record["job_name"], "to-fluent");
    assert_eq!(record["message"], "fluent-output\n");
    assert_eq!(record["execution"], execution["id"]);
}

#[tokio::test]
async fn failure_and_recovery_webhooks_carry_dkron_s_variables() {
    let hook = Hook::start();
    let server = Server::sqlite(&["--allow-host", &hook.allow()]);
    let flag_dir = tempfile::tempdir().unwrap();
    let flag = flag_dir.path().join("healthy");
    let body = r#"{"text": "{{.JobName}} success={{.Success}} {{.Event}}: {{.Output}}", "attempt": "{{.Attempt}}"}"#;
    let created = server
        .post(
            "/v1/jobs",
            job(
                "flaky",
                &format!(
                    r#"test -f {} && echo 'all "good"' || {{ echo 'it "broke"'; exit 1; }}"#,
                    flag.display()
                ),
                json!({
                    "notify": [
                        {"on": "failure", "webhook": {"url": hook.url("/failed"), "body": body,
                                                       "headers": {"X-Token": "t0k"}}},
                        {"on": "recovery", "webhook": {"url": hook.url("/recovered"), "body": body}},
                    ]
                }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let failed = run_and_settle(&server, "flaky", "notifications").await;
    let notifications = failed["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1, "{failed}");
    assert_eq!(notifications[0]["ok"], true, "{failed}");
    assert_eq!(notifications[0]["event"], "failure");
    assert_eq!(notifications[0]["attempts"], 1);
    let seen = hook.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/failed");
    assert!(seen[0].headers.contains(&("x-token".into(), "t0k".into())));
    assert!(
        seen[0]
            .headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    // Quotes and newlines in the output are escaped: the body is still JSON.
    let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent["text"], "flaky success=false failure: it \"broke\"\n");
    assert_eq!(sent["attempt"], "1");

    // The first success after the failure is a recovery; the next one is neither.
    std::fs::write(&flag, "").unwrap();
    let recovered = run_and_settle(&server, "flaky", "notifications").await;
    assert_eq!(
        recovered["notifications"][0]["event"], "recovery",
        "{recovered}"
    );
    assert_eq!(recovered["notifications"][0]["ok"], true, "{recovered}");
    let seen = hook.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].path, "/recovered");
    let sent: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(sent["text"], "flaky success=true recovery: all \"good\"\n");
    let quiet = server.run_to_end("flaky").await;
    assert!(quiet.get("notifications").is_none(), "{quiet}");
}

#[tokio::test]
async fn a_webhook_outside_the_job_s_grant_is_refused_and_recorded() {
    let hook = Hook::start();
    // The default grant (any public host) does not reach loopback.
    let server = Server::sqlite(&[]);
    let created = server
        .post(
            "/v1/jobs",
            job(
                "nosy",
                "true",
                json!({"notify": [{"on": "always", "webhook": {"url": hook.url("/x")}}]}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let execution = run_and_settle(&server, "nosy", "notifications").await;
    let notification = &execution["notifications"][0];
    assert_eq!(notification["ok"], false, "{execution}");
    assert_eq!(notification["attempts"], 1, "a refusal is not tried again");
    assert!(
        notification["error"].as_str().unwrap().contains("denied"),
        "{notification}"
    );
    assert!(hook.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_dead_webhook_is_retried_a_bounded_number_of_times() {
    let port = crate::peers::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let server = Server::sqlite(&["--allow-host", &format!("http://127.0.0.1:{port}")]);
    let created = server
        .post(
            "/v1/jobs",
            job(
                "unheard",
                "false",
                json!({"notify": [{"webhook": {"url": url}}]}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let execution = run_and_settle(&server, "unheard", "notifications").await;
    let notification = &execution["notifications"][0];
    assert_eq!(notification["ok"], false, "{execution}");
    assert_eq!(notification["attempts"], 4, "{notification}");
}

#[tokio::test]
async fn dkron_s_server_webhook_flags_report_every_job_without_rules() {
    let hook = Hook::start();
    let server = Server::sqlite(&[
        "--webhook-endpoint",
        &hook.url("/dkron"),
        "--webhook-payload",
        "job={{.JobName}} success={{.Success}} node={{.NodeName}}",
        "--webhook-headers",
        "X-Source: sandcron",
    ]);
    for (name, extra) in [("reported", json!({})), ("silent", json!({"notify": []}))] {
        let created = server.post("/v1/jobs", job(name, "echo hi", extra)).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let reported = run_and_settle(&server, "reported", "notifications").await;
    assert_eq!(reported["notifications"][0]["ok"], true, "{reported}");
    let silent = server.run_to_end("silent").await;
    assert!(silent.get("notifications").is_none(), "{silent}");
    let seen = hook.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        String::from_utf8_lossy(&seen[0].body),
        "job=reported success=true node=test-node"
    );
    assert!(
        seen[0]
            .headers
            .contains(&("x-source".into(), "sandcron".into()))
    );
}

#[tokio::test]
async fn mail_goes_through_the_relay_over_starttls() {
    let server = mail_server(&[]);
    let marker = format!(
        "mail-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let created = server
        .post(
            "/v1/jobs",
            job(
                "mailer",
                &format!("echo {marker}"),
                json!({
                    "owner_email": "owner@example.com",
                    "notify": [{"on": "success", "email": {
                        "to": ["ops@example.com"],
                        "subject": "{{.JobName}} {{.Event}}",
                        "body": "output: {{.Output}}"
                    }}]
                }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let execution = run_and_settle(&server, "mailer", "notifications").await;
    assert_eq!(execution["notifications"][0]["ok"], true, "{execution}");
    let mail = eventually(
        "the relay to keep the mail",
        Duration::from_secs(10),
        || async { mails_with(&marker).into_iter().next() },
    )
    .await;
    assert!(mail.contains("Subject: mailer success"), "{mail}");
    assert!(mail.contains("To: ops@example.com"), "{mail}");
    assert!(mail.contains("From: cron@example.com"), "{mail}");
}

/// A server whose mail goes through the aiosmtpd relay over STARTTLS (required), from
/// cron@example.com, with `extra` flags.
fn mail_server(extra: &[&str]) -> Server {
    let relay = peer_env("SANDCRON_TEST_SMTP");
    let authority = peer_env("SANDCRON_TEST_SMTP_CA");
    let (_, port) = relay.rsplit_once(':').unwrap();
    let mut flags = vec![
        "--mail-host",
        "localhost",
        "--mail-port",
        port,
        "--mail-tls",
        "required",
        "--mail-from",
        "cron@example.com",
    ];
    flags.extend_from_slice(extra);
    Server::sqlite_with_env(&flags, &[("SSL_CERT_FILE", authority.as_str())])
}

/// The mails the relay kept that hold `marker`.
fn mails_with(marker: &str) -> Vec<String> {
    let maildir = std::path::PathBuf::from(peer_env("SANDCRON_TEST_SMTP_MAILDIR")).join("new");
    std::fs::read_dir(&maildir)
        .into_iter()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .filter(|mail| mail.contains(marker))
        .collect()
}

#[tokio::test]
async fn mail_reaches_only_the_recipients_a_tenant_is_granted() {
    // The default tenant may mail example.com only; the relay's default rule mails each
    // job's owner_email.
    let server = mail_server(&["--allow", "mail=example.com"]);
    let marker = format!(
        "granted-mail-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let acme = crate::support::tenant(&server, "acme").await;
    let mailing = |name: &str, to: &str| {
        job(
            name,
            &format!("echo {marker}"),
            json!({"notify": [{"on": "always", "email": {
                // The marker in the body itself: a tenant's shell job runs nothing here
                // (no program is granted), so its output does not hold it.
                "to": [to], "subject": "{{.JobName}} {{.Event}}",
                "body": format!("{marker}: {{{{.Output}}}}")
            }}]}),
        )
    };
    let create = |token: String, spec: Value| {
        let server = &server;
        async move {
            let created = server
                .call_as(Some(&token), "POST", "/v1/jobs", Some(spec))
                .await;
            assert_eq!(created.status, 201, "{}", created.text);
        }
    };
    let refused = |execution: &Value, to: &str| {
        let notification = &execution["notifications"][0];
        assert_eq!(notification["ok"], false, "{execution}");
        assert_eq!(notification["attempts"], 1, "not tried again: {execution}");
        let error = notification["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("mail to {to} denied")) && error.contains("mail grant"),
            "{error}"
        );
    };

    // A hosted tenant is granted nobody: neither its own rule nor the server's default
    // rule (to the owner_email it chose) reaches the relay.
    create(acme.clone(), mailing("spam", "victim@elsewhere.test")).await;
    refused(
        &run_and_settle_as(&server, &acme, "spam", "notifications").await,
        "victim@elsewhere.test",
    );
    let owner_mail = job(
        "owned",
        &format!("echo {marker}"),
        json!({"owner_email": "owner@elsewhere.test"}),
    );
    create(acme.clone(), owner_mail).await;
    refused(
        &run_and_settle_as(&server, &acme, "owned", "notifications").await,
        "owner@elsewhere.test",
    );

    // The admin grants it one domain: mail to it is delivered, and only to it.
    let granted = server
        .put("/v1/tenants/acme/grants", json!({"mail": ["example.com"]}))
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    create(acme.clone(), mailing("granted", "ops@example.com")).await;
    let execution = run_and_settle_as(&server, &acme, "granted", "notifications").await;
    assert_eq!(execution["notifications"][0]["ok"], true, "{execution}");

    // A job's own grants narrow its tenant's: this one may mail ops@ only, so another
    // address of the granted domain is refused.
    let mut narrowed = mailing("narrowed", "dev@example.com");
    narrowed["grants"] = json!({"mail": ["ops@example.com"]});
    create(acme.clone(), narrowed).await;
    refused(
        &run_and_settle_as(&server, &acme, "narrowed", "notifications").await,
        "dev@example.com",
    );

    // The default tenant is held to the server's `--allow mail=…`.
    create(
        server.admin_token.clone(),
        mailing("outside", "someone@elsewhere.test"),
    )
    .await;
    refused(
        &run_and_settle(&server, "outside", "notifications").await,
        "someone@elsewhere.test",
    );

    let kept = eventually(
        "the relay to keep the granted mail",
        Duration::from_secs(10),
        || async {
            let kept = mails_with(&marker);
            (!kept.is_empty()).then_some(kept)
        },
    )
    .await;
    assert_eq!(kept.len(), 1, "only the granted mail was sent: {kept:?}");
    assert!(kept[0].contains("To: ops@example.com"), "{}", kept[0]);
}

#[tokio::test]
async fn an_uploaded_processor_transforms_the_output_inside_the_sandbox() {
    let wasm = std::fs::read(crate::support::build_component(
        "tests/fixtures/redact-processor",
        "redact_processor",
    ))
    .unwrap();
    let server = Server::sqlite(&[]);
    let uploaded = server
        .reply(
            server
                .http
                .put(server.url("/v1/executors/redact"))
                .header("Content-Type", "application/wasm")
                .body(wasm),
        )
        .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text);
    assert_eq!(uploaded.json()["kind"], "processor");
    // A processor is not an executor.
    let misused = server
        .post(
            "/v1/jobs",
            json!({"name": "wrong", "schedule": "@manually", "executor": "redact"}),
        )
        .await;
    assert_eq!(misused.status, 400, "{}", misused.text);
    assert_eq!(misused.field(), "executor");
    let created = server
        .post(
            "/v1/jobs",
            job(
                "redacted",
                "echo password=hunter2",
                json!({"processors": [
                    {"type": "redact", "word": "hunter2"},
                    {"type": "redact", "program": "/bin/true"},
                ]}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let execution = run_and_settle(&server, "redacted", "processors").await;
    let steps = execution["processors"].as_array().unwrap();
    assert_eq!(
        steps[0],
        json!({"name": "redact", "ok": true}),
        "{execution}"
    );
    // The second step asks for a program the job was not granted: refused in the sandbox.
    assert_eq!(steps[1]["ok"], false, "{execution}");
    assert!(
        steps[1]["error"].as_str().unwrap().contains("denied"),
        "{}",
        steps[1]
    );
    assert_eq!(
        execution["output"],
        "password=[redacted]\n[job=redacted success=true]"
    );
}
