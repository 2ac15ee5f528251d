//! The API fuzzed by schemathesis (PyPI, `scripts/peers up schemathesis`) against the
//! OpenAPI document it serves: every operation, with data that fits the document and data
//! that does not, a bounded number of examples each, on a fresh SQLite server on loopback
//! with the admin token. It passes only with no server error and no answer outside the
//! document (its body schema, its status codes, its content types).
//!
//! Two operations are left out by design: `POST /v1/leave` stops the node under test, and
//! `POST /v1/pause` makes every job write answer 503 (Dkron's status for it), which
//! schemathesis counts as a server error. The jobs it creates stay on loopback: their HTTP
//! requests may only go to 127.0.0.1:9 (nothing listens), the shell may only run
//! `/bin/true`.

use crate::support::{Server, stderr, stdout, tool};

/// What each answer is checked for.
const CHECKS: &str = "not_a_server_error,response_schema_conformance,\
                      status_code_conformance,content_type_conformance";

/// Test cases per operation and phase: enough to reach every refusal, under two minutes.
const EXAMPLES: &str = "40";

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let schemathesis = tool("SANDCRON_TEST_SCHEMATHESIS", "schemathesis");
    let server = Server::sqlite(&[
        "--allow-host",
        "http://127.0.0.1:9",
        "--allow",
        "process=/bin/true",
    ]);
    // schemathesis keeps its example database in the working directory.
    let workdir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(schemathesis)
        .current_dir(workdir.path())
        .env("NO_COLOR", "1")
        .args([
            "run",
            &server.url("/v1/openapi.json"),
            "--url",
            &server.base,
        ])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", server.admin_token))
        .args([
            "--checks",
            CHECKS,
            "--mode",
            "all",
            "--max-examples",
            EXAMPLES,
        ])
        .args(["--workers", "2"])
        // Hypothesis's own complaint that it filtered out too many of the examples it
        // generated (for `PUT /v1/executors/{name}`, now and then) is about the
        // generator, not the server: not a failure of this test.
        .args(["--suppress-health-check", "filter_too_much"])
        .args([
            "--exclude-path",
            "/v1/leave",
            "--exclude-operation-id",
            "pause",
        ])
        .output()
        .expect("schemathesis runs");
    let report = stdout(&output);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}\nthe server's log:\n{}",
        stderr(&output),
        server.log()
    );
    assert!(
        report.contains(" passed") && !report.contains("Tested: 0"),
        "schemathesis tested nothing:\n{report}"
    );
}
