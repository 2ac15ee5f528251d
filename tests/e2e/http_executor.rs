//! The built-in `http` executor against a real server on loopback, and the http
//! capability's allow-list: a denied request makes no connection.

use crate::peers::{CountingProxy, run_in_a_row};
use crate::support::{RecordingServer, hostile, run, stderr, stdout};

#[test]
fn sends_method_headers_and_body_and_prints_the_response() {
    let server = RecordingServer::start(200, "all ok");
    let url = server.url("/hook?x=1");
    let out = run(&[
        "exec",
        "http",
        "--allow-host",
        &server.allow(),
        "--config",
        "method=POST",
        "--config",
        &format!("url={url}"),
        "--config",
        r#"headers=["X-Test: yes", "Content-Type: text/plain"]"#,
        "--config",
        "body=hello server",
        "--config",
        "expectCode=200,201",
        "--config",
        "expectBody=^all",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "all ok");
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/hook?x=1");
    assert_eq!(seen[0].body, b"hello server");
    assert!(
        seen[0].headers.contains(&("x-test".into(), "yes".into())),
        "{:?}",
        seen[0].headers
    );
}

#[test]
fn an_unexpected_status_fails() {
    let server = RecordingServer::start(500, "broken");
    let out = run(&[
        "exec",
        "http",
        "--allow-host",
        &server.allow(),
        "--config",
        "method=GET",
        "--config",
        &format!("url={}", server.url("/")),
        "--config",
        "expectCode=200",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("500"), "{}", stderr(&out));
}

#[test]
fn a_body_that_does_not_match_fails() {
    let server = RecordingServer::start(200, "nope");
    let out = run(&[
        "exec",
        "http",
        "--allow-host",
        &server.allow(),
        "--config",
        "method=GET",
        "--config",
        &format!("url={}", server.url("/")),
        "--config",
        "expectBody=^yes$",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("^yes$"), "{}", stderr(&out));
}

#[test]
fn without_a_grant_the_request_is_denied_and_never_sent() {
    let server = RecordingServer::start(200, "should not be seen");
    let url = server.url("/secret");
    let out = run(&[
        "exec",
        "http",
        "--config",
        "method=GET",
        "--config",
        &format!("url={url}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        printed.contains(&format!("http: request to {url} denied")),
        "{printed}"
    );
    assert!(server.requests().is_empty(), "the server saw a request");
}

#[test]
fn a_wildcard_grant_does_not_reach_loopback() {
    let server = RecordingServer::start(200, "should not be seen");
    let port = server.addr.port();
    let out = run(&[
        "exec",
        "http",
        "--allow-host",
        &format!("http://*:{port}"),
        "--config",
        "method=GET",
        "--config",
        &format!("url={}", server.url("/")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopback"), "{}", stderr(&out));
    assert!(server.requests().is_empty(), "the server saw a request");
}

#[test]
fn a_private_address_is_denied_before_any_connection() {
    let out = run(&[
        "exec",
        "http",
        "--allow-host",
        "http://*",
        "--config",
        "method=GET",
        "--config",
        "url=http://10.0.0.1/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("http: request to http://10.0.0.1/ denied"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_component_given_by_path_gets_only_what_the_flags_grant() {
    let server = RecordingServer::start(200, "hello component");
    let component = hostile();
    let component = component.to_str().unwrap();
    let url = format!("url={}", server.url("/"));
    let out = run(&["exec", component, "--config", "mode=http", "--config", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(server.requests().is_empty());

    let out = run(&[
        "exec",
        component,
        "--allow-host",
        &server.allow(),
        "--config",
        "mode=http",
        "--config",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hello component"), "{}", stdout(&out));

    let out = run(&[
        "exec",
        component,
        "--config",
        "mode=sleep",
        "--config",
        "seconds=1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("process"), "{}", stderr(&out));
}

#[test]
fn a_thousand_runs_in_a_row_reuse_one_pooled_connection() {
    let server = RecordingServer::start(200, "ok");
    let proxy = CountingProxy::start(&server.addr.to_string());
    let url = format!("http://127.0.0.1:{}/hook", proxy.port);
    let allow = format!("http=http://127.0.0.1:{}", proxy.port);
    let config = [("method", "POST"), ("url", url.as_str()), ("body", "b")];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run_in_a_row("http", &config, &[&allow], 1000));
    drop(runtime);
    assert_eq!(server.requests().len(), 1000);
    let connections = proxy.accepted();
    eprintln!("1000 http runs made {connections} connection(s) to the server");
    assert_eq!(
        connections, 1,
        "every run after the first reuses the kept connection"
    );
}
