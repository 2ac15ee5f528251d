//! The web console in a real browser: a `sandcron serve` on loopback, Debian's headless
//! Chromium driven over WebDriver (chromedriver, started by `scripts/peers up chromium`;
//! its address in `SANDCRON_TEST_WEBDRIVER_URL`). Without it the tests fail, saying so.
//!
//! Each test clicks and types as a person would, and saves screenshots of what it saw
//! under `<target>/screenshots/` (look at them: they are the console as it is).

// Shared with the `e2e` test binary; this binary uses a part of it.
#[path = "../e2e/support.rs"]
#[allow(dead_code)]
mod support;

// The check of every JSON answer against the OpenAPI document, as in the e2e tests.
#[path = "../e2e/conformance.rs"]
#[allow(dead_code)]
mod conformance;

mod browser;

use serde_json::json;

use crate::browser::Browser;
use crate::support::{Server, build_component};

/// The job form once its executors and job are filled in (inert until then).
const FORM_READY: &str = "form.job-form:not([inert])";

/// Makes tenant `name` and answers a token of it.
async fn tenant_with_token(server: &Server, name: &str) -> String {
    let created = server.post("/v1/tenants", json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let token = server
        .post(&format!("/v1/tenants/{name}/tokens"), json!({}))
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    token.json()["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn signing_in_shows_the_overview_and_a_wrong_token_is_refused() {
    let server = Server::sqlite(&[]);
    let browser = Browser::open("sign-in", &server).await;
    browser.go("/overview").await;
    browser.wait(r#"input[name="token"]"#).await;
    browser.shot("form").await;

    let input = browser.wait(r#"input[name="token"]"#).await;
    input.send_keys("sca_not-a-token").await.unwrap();
    browser.click("form.sign-in button[type=submit]").await;
    browser
        .wait_text("form.sign-in .notice", "does not know this token")
        .await;

    browser.sign_in(&server.admin_token).await;
    browser.wait_text("main h1", "Overview").await;
    browser.wait_text("#nav", "Tenants").await;
    browser.wait_text("main", "Members").await;
    browser.wait_text("main", "test-node").await;
    browser.shot("overview").await;
    // The token is kept by the tab, never in the address.
    let url = browser.client.current_url().await.unwrap();
    assert!(!url.as_str().contains("sca_"), "{url}");

    browser.resize(390, 844).await;
    browser.shot("overview-phone").await;
    browser.click("#whoami button").await;
    browser.wait(r#"input[name="token"]"#).await;
    browser.close().await;
}

#[tokio::test]
async fn a_job_made_through_the_form_runs_and_its_runs_appear() {
    let server = Server::sqlite(&[]);
    let browser = Browser::open("job-form", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/jobs").await;
    browser.click("a[href='#/jobs/new']").await;
    browser.wait(FORM_READY).await;
    browser.wait_text("main h1", "New job").await;
    browser.type_into("name", "hello").await;
    browser.type_into("schedule", "@every 2s").await;
    browser.wait_text(".preview", "every 2 seconds").await;
    // The shell's documented required key is offered as a row of its own.
    let key = browser.wait(".config-row input").await;
    assert_eq!(key.prop("value").await.unwrap().as_deref(), Some("command"));
    browser
        .wait(".config-row textarea")
        .await
        .send_keys("echo hello from the form")
        .await
        .unwrap();
    browser.shot("form").await;
    browser.click("form.job-form button[type=submit]").await;

    browser.wait_text("main h1", "hello").await;
    browser.wait_text("main", "every 2 seconds").await;
    browser
        .wait_text("section[aria-labelledby=runs-title]", "succeeded")
        .await;
    browser.shot("job").await;
    let job = server.get("/v1/jobs/hello").await.json();
    assert_eq!(
        job["executor_config"]["command"],
        "echo hello from the form"
    );

    // A few more, as a list usually has: a parent and its child, one that fails, one off.
    let restored = server
        .post(
            "/v1/restore",
            json!([
                {"name": "backup", "schedule": "0 30 2 * * *", "timezone": "Europe/Berlin",
                 "executor": "shell", "executor_config": {"command": "true"},
                 "metadata": {"team": "ops"}},
                {"name": "backup-verify", "schedule": "@manually", "parent_job": "backup",
                 "executor": "echo", "executor_config": {"message": "verified"}},
                {"name": "flaky-report", "schedule": "@every 3s", "executor": "shell",
                 "executor_config": {"command": "false"}, "metadata": {"team": "data"}},
                {"name": "old-cleanup", "schedule": "@daily", "disabled": true,
                 "executor": "echo"}
            ]),
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    server.run_to_end("backup").await;
    browser.go("/jobs").await;
    browser.wait_text("main table", "flaky-report").await;
    browser.wait_text("main .summary", "of 5 jobs").await;
    browser.wait_text("main table", "failed").await;
    browser.shot("jobs").await;
    browser.go("/jobs?q=backup").await;
    browser.wait_text("main .summary", "of 2 jobs").await;
    browser.go("/jobs/backup").await;
    browser.wait_text("main", "at 02:30").await;
    browser.wait_text("main", "backup-verify").await;
    browser.shot("parent").await;
    browser.go("/runs").await;
    browser.wait_text("main table", "hello").await;
    browser.shot("runs").await;
    browser.close().await;
}

#[tokio::test]
async fn a_running_jobs_output_arrives_line_by_line_and_kill_stops_it() {
    let server = Server::sqlite(&[]);
    let created = server
        .post(
            "/v1/jobs",
            json!({
                "name": "ticker", "schedule": "@manually", "executor": "shell",
                "executor_config": {
                    "shell": "true",
                    "command": "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line $i; sleep 0.2; done"
                }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let browser = Browser::open("live-output", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/jobs/ticker").await;
    browser.click("main .actions button.primary").await;

    browser.wait_text("main h1", "Run #").await;
    let early = browser.wait_text("pre.output", "line 2").await;
    let later = browser.wait_text("pre.output", "line 8").await;
    assert!(
        later.len() > early.len() && later.starts_with("line 1"),
        "{later}"
    );
    browser.wait_text("#run-state", "running").await;
    browser.shot("streaming").await;

    browser.go("/running").await;
    browser.wait_text("main table", "ticker").await;
    browser.shot("running-now").await;
    browser.client.back().await.unwrap();
    browser.wait_text("#run-state", "running").await;

    browser.click("main .actions button.danger").await;
    browser.wait_text("#run-state", "failed").await;
    browser.wait_text("main .facts", "killed").await;
    browser.shot("killed").await;
    browser.close().await;
}

#[tokio::test]
async fn the_sdk_template_uploaded_in_the_browser_runs_and_a_refusal_is_shown() {
    let component = build_component("sdk/template", "my_executor");
    let server = Server::sqlite(&[]);
    let browser = Browser::open("upload", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/executors").await;

    // Not a component: the server's refusal, as it gives it.
    let junk = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    std::fs::write(junk.path(), b"not webassembly").unwrap();
    let picker = browser.wait("input[type=file]").await;
    picker
        .send_keys(junk.path().to_str().unwrap())
        .await
        .unwrap();
    browser.type_into("name", "junk").await;
    browser.click("form.upload button[type=submit]").await;
    browser
        .wait_text("form.upload .notice", "Refused: body:")
        .await;
    browser.shot("refused").await;

    let picker = browser.wait("input[type=file]").await;
    picker.send_keys(component.to_str().unwrap()).await.unwrap();
    browser.type_into("name", "greeter").await;
    browser.click("form.upload button[type=submit]").await;
    browser
        .wait_text("form.upload .notice", "Uploaded greeter version 1")
        .await;
    browser
        .wait_text("section[aria-labelledby=uploads-title]", "greeter")
        .await;
    browser.shot("uploaded").await;

    let created = server
        .post(
            "/v1/jobs",
            json!({
                "name": "greet", "schedule": "@manually", "executor": "greeter",
                "executor_config": { "greeting": "hi from the browser" }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    browser.go("/jobs/greet").await;
    browser.click("main .actions button.primary").await;
    browser.wait_text("#run-state", "succeeded").await;
    browser.wait_text("pre.output", "hi from the browser").await;
    browser.shot("ran").await;
    browser.close().await;
}

#[tokio::test]
async fn a_bad_schedule_is_shown_at_the_schedule_field() {
    let server = Server::sqlite(&[]);
    let browser = Browser::open("bad-schedule", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/jobs/new").await;
    browser.wait(FORM_READY).await;
    browser.type_into("name", "nightly").await;
    browser.type_into("schedule", "* * *").await;
    let shown = browser
        .wait_text(
            r#"[data-field="schedule"] .field-error"#,
            "expected 5 or 6 fields",
        )
        .await;
    assert!(shown.starts_with("schedule:"), "{shown}");
    browser.shot("live").await;

    // Saving anyway: the API's refusal lands at the same field, and nothing is stored.
    browser
        .wait(".config-row textarea")
        .await
        .send_keys("true")
        .await
        .unwrap();
    browser.click("form.job-form button[type=submit]").await;
    browser
        .wait_text(
            r#"[data-field="schedule"] .field-error"#,
            "expected 5 or 6 fields",
        )
        .await;
    browser.shot("submitted").await;
    let invalid = browser
        .wait(r#"[data-field="schedule"] input"#)
        .await
        .attr("aria-invalid")
        .await
        .unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    assert_eq!(server.get("/v1/jobs/nightly").await.status, 404);

    browser.type_into("timezone", "Mars/Base").await;
    browser.type_into("schedule", "0 30 2 * * *").await;
    browser
        .wait_text(
            r#"[data-field="timezone"] .field-error"#,
            "unknown time zone",
        )
        .await;
    browser.shot("timezone").await;
    browser.close().await;
}

#[tokio::test]
async fn tenant_b_cannot_reach_tenant_as_job_by_list_search_or_address() {
    let server = Server::sqlite(&[]);
    let token_a = tenant_with_token(&server, "team-a").await;
    let token_b = tenant_with_token(&server, "team-b").await;
    let created = server
        .call_as(
            Some(&token_a),
            "POST",
            "/v1/jobs",
            Some(json!({ "name": "secret-plan", "schedule": "@manually", "executor": "echo" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let mine = server
        .call_as(
            Some(&token_b),
            "POST",
            "/v1/jobs",
            Some(json!({ "name": "b-job", "schedule": "@manually", "executor": "echo" })),
        )
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);

    let browser = Browser::open("tenants", &server).await;
    browser.sign_in(&token_b).await;
    let nav = browser.wait_text("#nav", "Jobs").await;
    assert!(
        !nav.contains("Tenants"),
        "a tenant sees no admin page: {nav}"
    );
    browser.go("/jobs").await;
    let list = browser.wait_text("main table", "b-job").await;
    assert!(!list.contains("secret-plan"), "{list}");
    browser.shot("list").await;

    browser.go("/jobs?q=secret").await;
    browser.wait_text("main .summary", "No job matches").await;
    browser.shot("search").await;

    browser.go("/jobs/secret-plan").await;
    browser.wait_text("main h1", "Not found").await;
    browser.wait_text("main", "not found").await;
    browser.shot("address").await;

    // Signed in as A, the same address shows the job.
    browser.click("#whoami button").await;
    browser.sign_in(&token_a).await;
    browser.go("/jobs/secret-plan").await;
    browser.wait_text("main h1", "secret-plan").await;
    browser.close().await;
}

/// Everything a page holds that a person or a script could read: its markup, its text and
/// the current value of every field.
async fn everything_on_the_page(browser: &Browser) -> String {
    let script = "return document.documentElement.outerHTML + '\\n' + document.body.innerText \
                  + '\\n' + [...document.querySelectorAll('input, textarea')] \
                  .map((field) => field.value).join('\\n');";
    let shown = browser.client.execute(script, vec![]).await.unwrap();
    shown.as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_secret_is_set_replaced_and_deleted_and_its_value_never_stays_on_the_page() {
    let (first, second) = ("first-value-7f3a", "second-value-9c1e");
    let server = Server::sqlite(&[]);
    // A job that succeeds only while the secret holds the second value.
    let created = server
        .post(
            "/v1/jobs",
            json!({
                "name": "check", "schedule": "@manually", "executor": "shell",
                "executor_config": { "command": format!("test {{{{secret:db-password}}}} = {second}") }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let browser = Browser::open("secrets", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/secrets").await;
    browser
        .wait_text("section[aria-labelledby=secrets-title]", "No secret yet")
        .await;

    browser.type_into("name", "db-password").await;
    browser.type_into("value", first).await;
    browser.click("form.card button[type=submit]").await;
    browser
        .wait_text("form.card .notice", "Set db-password.")
        .await;
    browser
        .wait_text(
            "section[aria-labelledby=secrets-title] table",
            "db-password",
        )
        .await;
    browser.shot("set").await;
    let page = everything_on_the_page(&browser).await;
    assert!(
        !page.contains(first),
        "the value stayed on the page:\n{page}"
    );
    assert!(!server.get("/v1/secrets").await.text.contains(first));
    assert_eq!(server.run_to_end("check").await["success"], false);

    // Replace: the row's button fills in the name and asks for the new value only.
    browser
        .click("button[aria-label='Replace db-password']")
        .await;
    browser
        .wait_text("form.card .notice", "Type the new value of db-password")
        .await;
    let name = browser.wait(r#"[data-field="name"] input"#).await;
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some("db-password")
    );
    browser
        .wait(r#"[data-field="value"] input"#)
        .await
        .send_keys(second)
        .await
        .unwrap();
    browser.click("form.card button[type=submit]").await;
    browser
        .wait_text("form.card .notice", "Replaced db-password.")
        .await;
    browser.shot("replaced").await;
    let page = everything_on_the_page(&browser).await;
    assert!(
        !page.contains(first) && !page.contains(second),
        "a value stayed on the page:\n{page}"
    );
    let run = server.run_to_end("check").await;
    assert_eq!(run["success"], true, "the job sees the new value: {run}");

    // Delete asks first; dismissing keeps it, accepting deletes it.
    browser
        .click("button[aria-label='Delete db-password']")
        .await;
    browser.client.dismiss_alert().await.unwrap();
    assert_eq!(
        server
            .get("/v1/secrets")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    browser
        .click("button[aria-label='Delete db-password']")
        .await;
    browser.client.accept_alert().await.unwrap();
    browser
        .wait_text("main .notice", "Deleted db-password.")
        .await;
    browser
        .wait_text("section[aria-labelledby=secrets-title]", "No secret yet")
        .await;
    browser.shot("deleted").await;
    let form_notice = browser.wait("form.card .notice").await;
    assert!(
        !form_notice.is_displayed().await.unwrap(),
        "the form's notice of the replace is gone once the secret is deleted"
    );
    assert_eq!(server.get("/v1/secrets").await.json(), json!([]));
    browser.close().await;
}

#[tokio::test]
async fn a_component_dropped_on_the_box_is_named_after_its_file_and_uploaded() {
    use base64::Engine as _;

    let component = build_component("sdk/template", "my_executor");
    let bytes = std::fs::read(&component).unwrap();
    let server = Server::sqlite(&[]);
    let browser = Browser::open("drop", &server).await;
    browser.sign_in(&server.admin_token).await;
    browser.go("/executors").await;
    browser.wait("form.upload .drop").await;

    // What a browser does when a file is dragged from the desktop: dragenter, dragover
    // and drop events carrying the file (WebDriver cannot drag from outside the page).
    let drag = "const [data, name] = arguments; \
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0)); \
                const transfer = new DataTransfer(); \
                transfer.items.add(new File([bytes], name, { type: 'application/wasm' })); \
                const box = document.querySelector('form.upload .drop'); \
                for (const type of ['dragenter', 'dragover']) { \
                  box.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true })); \
                } \
                const highlighted = box.classList.contains('over'); \
                box.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true })); \
                return highlighted;";
    let highlighted = browser
        .client
        .execute(
            drag,
            vec![
                json!(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                json!("My Executor.wasm"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(highlighted, json!(true), "the box shows a file is over it");
    let chosen = browser
        .wait_text("form.upload .drop p.muted", "My Executor.wasm")
        .await;
    assert!(!chosen.contains("No file"), "{chosen}");
    // The file's name, made a name the API accepts.
    let name = browser.wait(r#"[data-field="name"] input"#).await;
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some("my-executor")
    );
    browser.shot("dropped").await;

    browser.click("form.upload button[type=submit]").await;
    browser
        .wait_text("form.upload .notice", "Uploaded my-executor version 1")
        .await;
    browser
        .wait_text("section[aria-labelledby=uploads-title]", "my-executor")
        .await;
    browser.shot("uploaded").await;
    let stored = server.get("/v1/executors/my-executor").await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert_eq!(stored.json()[0]["size"], bytes.len());

    // The built-ins, each with the capabilities it needs and its documented keys.
    browser
        .client
        .execute(
            "document.getElementById('builtins-title').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    browser
        .wait_text("section[aria-labelledby=builtins-title]", "✓ process")
        .await;
    browser.shot("built-ins").await;
    browser.close().await;
}
