//! The `docker` executor and capability against a real engine: Podman's Docker-compatible
//! API on the unix socket that `scripts/peers up` starts (`DOCKER_HOST`), with the image
//! `localhost/busybox:test` it imports (no registry is reachable, so nothing is pulled).
//!
//! Every container a test starts carries a marker of its own in its command, so a test
//! lists only its own containers while others run in parallel.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptions, RemoveImageOptions};
use futures::StreamExt;
use serde_json::json;

use crate::support::{Server, run, sandcron, stderr, stdout};

/// The image `scripts/peers up` imports.
const IMAGE: &str = "localhost/busybox:test";
/// The grant the tests give unless they test the grant.
const ALLOW_IMAGE: &str = "docker=image:localhost/busybox:*";

/// A client of the engine the tests use; fails, saying what to do, when there is none.
async fn engine() -> Docker {
    let address = std::env::var("DOCKER_HOST").expect(
        "DOCKER_HOST is not set: run the suite with scripts/test, or `scripts/peers up` \
         and `eval \"$(scripts/peers env)\"` (it starts podman's Docker API)",
    );
    let docker = Docker::connect_with_host(&address)
        .unwrap_or_else(|e| panic!("no container engine at {address} ({e}): run scripts/peers up"));
    docker.ping().await.unwrap_or_else(|e| {
        panic!("the engine at {address} does not answer ({e}): run scripts/peers up")
    });
    docker
        .inspect_image(IMAGE)
        .await
        .unwrap_or_else(|e| panic!("the engine has no {IMAGE} ({e}): run scripts/peers up"));
    docker
}

/// A string no other test's container has in its command.
fn marker(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), fastrand::u32(..))
}

/// The containers, running or not, that Sandcron created with `marker` in their command.
async fn containers_with(docker: &Docker, marker: &str) -> Vec<String> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!(
                "{}=true",
                sandcron::capabilities::docker::MANAGED_LABEL
            )],
        )])),
        ..ListContainersOptions::default()
    };
    // Podman lists a container being stopped as `stopped`, a state bollard does not
    // know: list again until no container is in it.
    let mut attempts = 0;
    let listed = loop {
        match docker.list_containers(Some(options.clone())).await {
            Ok(listed) => break listed,
            Err(bollard::errors::Error::JsonDataError { .. }) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("listing containers failed: {e}"),
        }
    };
    listed
        .into_iter()
        .filter(|c| c.command.as_deref().is_some_and(|cmd| cmd.contains(marker)))
        .map(|c| c.id.unwrap_or_default())
        .collect()
}

/// Waits up to `timeout` for `marker`'s containers to be gone; returns those left.
async fn gone_within(docker: &Docker, marker: &str, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = containers_with(docker, marker).await;
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tag of the test image that only one test uses, so the engine's events show whether
/// any container of it was ever created. Untagged by [`UniqueTag::untag`].
struct UniqueTag {
    image: String,
    since: i64,
}

impl UniqueTag {
    async fn new(docker: &Docker, test: &str) -> Self {
        let tag = marker(test);
        docker
            .tag_image(
                IMAGE,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some("localhost/busybox".into()),
                    tag: Some(tag.clone()),
                }),
            )
            .await
            .unwrap();
        Self {
            image: format!("localhost/busybox:{tag}"),
            since: chrono::Utc::now().timestamp() - 1,
        }
    }

    /// How many container events (create, start, remove…) the engine recorded for this
    /// image since the tag was made.
    async fn container_events(&self, docker: &Docker) -> usize {
        let until = chrono::Utc::now().timestamp() + 1;
        let options = EventsOptions {
            since: Some(self.since.to_string()),
            until: Some(until.to_string()),
            filters: Some(HashMap::from([(
                "type".to_string(),
                vec!["container".to_string()],
            )])),
        };
        let events: Vec<_> = docker.events(Some(options)).collect().await;
        events
            .into_iter()
            .filter_map(Result::ok)
            .filter(|event| {
                event
                    .actor
                    .as_ref()
                    .and_then(|actor| actor.attributes.as_ref())
                    .and_then(|attributes| attributes.get("image"))
                    .is_some_and(|image| *image == self.image)
            })
            .count()
    }

    async fn untag(self, docker: &Docker) {
        let _ = docker
            .remove_image(&self.image, None::<RemoveImageOptions>, None)
            .await;
    }
}

/// `sandcron exec docker` with `config` entries and extra arguments.
fn exec_docker(config: &[&str], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["exec", "docker"];
    for entry in config {
        args.extend(["--config", entry]);
    }
    args.extend(extra);
    run(&args)
}

#[tokio::test]
async fn output_lines_stream_in_order_as_they_come() {
    engine().await;
    let mut child = sandcron()
        .args([
            "exec",
            "docker",
            "--allow",
            ALLOW_IMAGE,
            "--config",
            &format!("image={IMAGE}"),
            "--config",
            "command=sh -c 'for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; sleep 3; echo last'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((line.unwrap(), started.elapsed()));
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    let texts: Vec<&str> = lines.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, ["out-1", "out-2", "out-3", "last"]);
    assert_eq!(err, "err-1\nerr-2\nerr-3\n");
    // The first lines were printed while the container still ran, not at its end.
    let (first, last) = (lines[0].1, lines[3].1);
    assert!(
        last - first >= Duration::from_secs(2),
        "out-1 at {first:?}, last at {last:?}: the output was not streamed"
    );
}

#[tokio::test]
async fn exit_codes_decide_success() {
    engine().await;
    let ok = exec_docker(
        &[&format!("image={IMAGE}"), "command=true"],
        &["--allow", ALLOW_IMAGE],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let failed = exec_docker(
        &[
            &format!("image={IMAGE}"),
            "command=sh -c 'echo before; exit 3'",
        ],
        &["--allow", ALLOW_IMAGE],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(stdout(&failed), "before\n");
    assert!(
        stderr(&failed).contains("exit status 3"),
        "{}",
        stderr(&failed)
    );
    // A command the image does not have: the engine refuses to start it, which no retry
    // fixes, and the container is removed.
    let marker = marker("missing-command");
    let missing = exec_docker(
        &[
            &format!("image={IMAGE}"),
            &format!("command=/no/such/{marker}"),
        ],
        &["--allow", ALLOW_IMAGE],
    );
    assert_eq!(missing.status.code(), Some(1));
    let reason = stderr(&missing);
    assert!(reason.contains("starting the container failed"), "{reason}");
    assert!(!reason.contains("unavailable"), "{reason}");
    assert_eq!(
        containers_with(&engine().await, &marker).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn env_user_workdir_and_no_network_by_default() {
    engine().await;
    let out = exec_docker(
        &[
            &format!("image={IMAGE}"),
            "command=sh -c 'echo foo=$FOO job=$JOB_ENV; pwd; id -u; ls /sys/class/net'",
            "env=FOO=bar",
            "workdir=/tmp",
            "user=1234",
        ],
        &["--allow", ALLOW_IMAGE, "--env", "JOB_ENV=from-job"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "foo=bar job=from-job\n/tmp\n1234\nlo\n");

    let host_network = exec_docker(
        &[&format!("image={IMAGE}"), "command=true", "network=host"],
        &["--allow", ALLOW_IMAGE],
    );
    assert_eq!(host_network.status.code(), Some(1));
    assert!(
        stderr(&host_network).contains("network \"host\" is not allowed"),
        "{}",
        stderr(&host_network)
    );
}

#[tokio::test]
async fn the_memory_limit_is_enforced() {
    engine().await;
    // dd allocates its block: 200 MiB does not fit in 64 MiB, and does in 400 MiB.
    let command = "command=dd if=/dev/zero of=/dev/null bs=200M count=1";
    let small = exec_docker(
        &[&format!("image={IMAGE}"), command, "memory=64M"],
        &["--allow", ALLOW_IMAGE],
    );
    assert_eq!(small.status.code(), Some(1), "{}", stderr(&small));
    let reason = stderr(&small);
    assert!(
        reason.contains("exit status 137") || reason.contains("memory limit"),
        "{reason}"
    );
    let large = exec_docker(
        &[&format!("image={IMAGE}"), command, "memory=400M"],
        &["--allow", ALLOW_IMAGE],
    );
    assert!(large.status.success(), "{}", stderr(&large));

    let above_grant = exec_docker(
        &[&format!("image={IMAGE}"), "command=true", "memory=2G"],
        &["--allow", ALLOW_IMAGE, "--allow", "docker=memory:1G"],
    );
    assert_eq!(above_grant.status.code(), Some(1));
    assert!(
        stderr(&above_grant).contains("memory 2 GiB is more than the 1 GiB granted"),
        "{}",
        stderr(&above_grant)
    );
}

#[tokio::test]
async fn an_image_outside_the_policy_is_refused_before_any_container_exists() {
    let docker = engine().await;
    let tag = UniqueTag::new(&docker, "refused-image").await;
    let out = exec_docker(
        &[&format!("image={}", tag.image), "command=true"],
        &["--allow", "docker=image:localhost/busybox:test"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("image {} is not allowed", tag.image)),
        "{}",
        stderr(&out)
    );
    let nothing_granted = exec_docker(&[&format!("image={}", tag.image)], &[]);
    assert!(
        stderr(&nothing_granted).contains("no image is granted"),
        "{}",
        stderr(&nothing_granted)
    );
    assert_eq!(tag.container_events(&docker).await, 0);
    tag.untag(&docker).await;
}

#[tokio::test]
async fn a_mount_outside_the_policy_is_refused_before_any_container_exists() {
    let docker = engine().await;
    let tag = UniqueTag::new(&docker, "refused-mount").await;
    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("hello.txt"), "from the host\n").unwrap();
    let grant_mount = format!("docker=mount:{}:ro", granted.path().display());

    let outside = exec_docker(
        &[
            &format!("image={}", tag.image),
            "command=cat /host/hostname",
            "volumes=/etc:/host:ro",
        ],
        &["--allow", ALLOW_IMAGE, "--allow", &grant_mount],
    );
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        stderr(&outside).contains("mounting /etc is not allowed"),
        "{}",
        stderr(&outside)
    );
    let read_write = exec_docker(
        &[
            &format!("image={}", tag.image),
            "command=true",
            &format!("volumes={}:/data", granted.path().display()),
        ],
        &["--allow", ALLOW_IMAGE, "--allow", &grant_mount],
    );
    assert!(
        stderr(&read_write).contains("read-write is not allowed"),
        "{}",
        stderr(&read_write)
    );
    assert_eq!(tag.container_events(&docker).await, 0);

    // Within the grant the mount works, and the events of the tag show up.
    let inside = exec_docker(
        &[
            &format!("image={}", tag.image),
            "command=cat /data/hello.txt",
            &format!("volumes={}:/data:ro", granted.path().display()),
        ],
        &["--allow", ALLOW_IMAGE, "--allow", &grant_mount],
    );
    assert!(inside.status.success(), "{}", stderr(&inside));
    assert_eq!(stdout(&inside), "from the host\n");
    assert!(tag.container_events(&docker).await > 0);
    tag.untag(&docker).await;
}

#[tokio::test]
async fn the_timeout_key_stops_and_removes_the_container() {
    let docker = engine().await;
    let marker = marker("timeout-key");
    let started = Instant::now();
    let out = exec_docker(
        &[
            &format!("image={IMAGE}"),
            &format!("command=sh -c 'echo {marker}; sleep 300'"),
            "timeout=2s",
        ],
        &["--allow", ALLOW_IMAGE],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 2s"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        containers_with(&docker, &marker).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_execution_deadline_removes_the_container() {
    let docker = engine().await;
    let marker = marker("deadline");
    let out = exec_docker(
        &[
            &format!("image={IMAGE}"),
            &format!("command=sh -c 'echo {marker}; sleep 300'"),
        ],
        &["--allow", ALLOW_IMAGE, "--timeout", "3s"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains(&marker), "{}", stdout(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    // `exec` waits for the removal before it exits.
    assert_eq!(
        containers_with(&docker, &marker).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn killing_the_execution_removes_the_container() {
    let docker = engine().await;
    let marker = marker("kill");
    let server = Server::sqlite(&["--allow", ALLOW_IMAGE]);
    let job = json!({
        "name": "container",
        "schedule": "@manually",
        "executor": "docker",
        "executor_config": {
            "image": IMAGE,
            "command": format!("sh -c 'echo {marker}; sleep 300'"),
        },
    });
    let created = server.post("/v1/jobs", job).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let run = server.call("POST", "/v1/jobs/container/run", None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    let id = run.json()["id"].as_i64().unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_with(&docker, &marker).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the container never started\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kill = server
        .call(
            "POST",
            &format!("/v1/jobs/container/executions/{id}/kill"),
            None,
        )
        .await;
    assert_eq!(kill.status, 202, "{}", kill.text);
    assert_eq!(
        gone_within(&docker, &marker, Duration::from_secs(15)).await,
        Vec::<String>::new(),
        "the killed execution's container is still there"
    );
    let path = format!("/v1/jobs/container/executions/{id}");
    let execution = loop {
        let execution = server.get(&path).await.json();
        if !execution["finished_at"].is_null() {
            break execution;
        }
        assert!(
            Instant::now() < deadline,
            "the killed execution never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(execution["reason"], "killed", "{execution}");
}
