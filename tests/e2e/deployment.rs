//! Shipping: the container image built from `Containerfile` and started with podman (the
//! first start of `podman run -p 8080:8080 -v sandcron:/data IMAGE` is that of
//! `sandcron serve`: the admin token printed once, SQLite in the volume), the same image
//! on PostgreSQL, `contrib/compose.yaml` (PostgreSQL and Sandcron) run by podman-compose,
//! and the systemd unit checked by `systemd-analyze verify`.
//!
//! No registry is reachable here, so the image is built as CI builds it: the binary under
//! test assembled into a root by `contrib/container/rootfs.sh`, then `podman build
//! --build-arg ROOTFS=prebuilt` (the Containerfile's stage that takes the root from the
//! build context instead of compiling). Nor can the official PostgreSQL image be pulled:
//! the compose file runs with a stand-in for it, built the same way from the host's
//! Debian PostgreSQL (`contrib/container/postgres-rootfs.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{eventually, fresh_postgres_database};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory of the peers script's podman: its storage and `containers.conf`.
fn podman_dir() -> String {
    std::env::var("SANDCRON_TEST_PODMAN_DIR").expect(
        "SANDCRON_TEST_PODMAN_DIR is not set: run the suite with scripts/test, which sets up \
         podman (scripts/peers up podman)",
    )
}

/// podman on the storage of the peers script's podman (where its images are).
fn podman(args: &[&str]) -> Output {
    let dir = podman_dir();
    Command::new("podman")
        .env("CONTAINERS_CONF", format!("{dir}/containers.conf"))
        .arg("--root")
        .arg(format!("{dir}/root"))
        .arg("--runroot")
        .arg(format!("{dir}/run"))
        .args(args)
        .output()
        .expect("podman runs")
}

/// Runs podman and returns its stdout; panics with its stderr when it fails.
fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes containers and volumes the test made, however it ends.
struct Cleanup(Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in &self.0 {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = podman(&args);
        }
    }
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Builds the image from the binary under test, once per test process; its name.
fn image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    const IMAGE: &str = "localhost/sandcron:test";
    BUILT.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        // The test binary carries debug line tables: strip them, as the release profile
        // does, so the image is what a release image weighs, give or take optimisation.
        let binary = context.path().join("sandcron");
        let stripped = Command::new("strip")
            .args(["--strip-all", "-o"])
            .arg(&binary)
            .arg(env!("CARGO_BIN_EXE_sandcron"))
            .status()
            .expect("strip runs (binutils)");
        assert!(stripped.success());
        assemble(
            "contrib/container/rootfs.sh",
            &[
                binary.as_os_str(),
                context.path().join("rootfs").as_os_str(),
            ],
        );
        build_image(
            "Containerfile",
            context.path(),
            IMAGE,
            &["--build-arg", "ROOTFS=prebuilt"],
        );
    });
    IMAGE
}

/// Runs the repository's `script` (a root-assembling script), panicking with its
/// stderr when it fails.
fn assemble(script: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(root().join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `podman build --format docker` (which keeps the HEALTHCHECK) of the repository's
/// `containerfile` in `context`, tagged `tag`, with `extra` arguments.
fn build_image(containerfile: &str, context: &Path, tag: &str, extra: &[&str]) {
    let containerfile = root().join(containerfile);
    let mut args = vec!["build", "--format", "docker"];
    args.extend(extra);
    args.extend([
        "-f",
        containerfile.to_str().unwrap(),
        "-t",
        tag,
        context.to_str().unwrap(),
    ]);
    podman_ok(&args);
}

/// Builds the stand-in for the official PostgreSQL image (which cannot be pulled here)
/// from the host's Debian PostgreSQL, once per test process; its name.
fn postgres_standin_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    const IMAGE: &str = "localhost/postgres-standin:test";
    BUILT.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        assemble(
            "contrib/container/postgres-rootfs.sh",
            &[context.path().as_os_str()],
        );
        build_image(
            "contrib/container/postgres.Containerfile",
            context.path(),
            IMAGE,
            &[],
        );
    });
    IMAGE
}

/// A project of `contrib/compose.yaml` run by podman-compose on the peers' podman, with
/// the environment the file reads. Dropped, it takes the project down however the test
/// ends: containers, volumes, network, and the image tag it was given.
struct Compose {
    project: String,
    env: Vec<(&'static str, String)>,
    /// The Sandcron image's name for this project alone.
    tag: String,
}

impl Compose {
    /// Runs `podman-compose -f contrib/compose.yaml -p PROJECT ARGS`.
    fn run(&self, args: &[&str]) -> Output {
        let dir = podman_dir();
        Command::new("podman-compose")
            .env("CONTAINERS_CONF", format!("{dir}/containers.conf"))
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .arg("-f")
            .arg(root().join("contrib/compose.yaml"))
            .args(["-p", &self.project])
            // Given to every podman command it runs, after the command's name (podman
            // takes its global flags there too).
            .args([
                "--podman-args",
                &format!("--root '{dir}/root' --runroot '{dir}/run'"),
            ])
            .args(args)
            .output()
            .expect("podman-compose runs (scripts/peers up podman installs it)")
    }

    /// The container of `service`.
    fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for service in ["postgres", "sandcron"] {
                let logs = podman(&["logs", &self.container(service)]);
                eprintln!(
                    "--- logs of {service}:\n{}{}",
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
        }
        let _ = self.run(&["down", "-v"]);
        // What `down` left: podman-compose 1.0.3 (Debian 12) removes no network, and a
        // failed `up` may have left anything.
        let project = &self.project;
        let (postgres, sandcron) = (self.container("postgres"), self.container("sandcron"));
        let _ = podman(&["rm", "-f", "-t", "0", &sandcron, &postgres]);
        let (data, pgdata) = (format!("{project}_sandcron"), format!("{project}_postgres"));
        let _ = podman(&["volume", "rm", "-f", &data, &pgdata]);
        let _ = podman(&["network", "rm", "-f", &format!("{project}_default")]);
        let _ = podman(&["untag", &self.tag, &self.tag]);
    }
}

/// Waits for a line of the container's logs holding `text`; all the logs.
async fn logs_with(container: &str, text: &str) -> String {
    eventually(
        &format!("{text:?} in the logs of {container}"),
        std::time::Duration::from_secs(60),
        || async {
            let out = podman(&["logs", container]);
            let logs = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            logs.contains(text).then_some(logs)
        },
    )
    .await
}

#[tokio::test]
async fn the_image_starts_like_sandcron_serve_with_its_data_in_the_volume() {
    let image = image();
    let size: u64 = podman_ok(&["image", "inspect", "--format", "{{.Size}}", image])
        .parse()
        .unwrap();
    assert!(size <= 100_000_000, "the image weighs {size} bytes");
    let config = podman_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}} {{json .Config.Volumes}} {{json .Config.Healthcheck.Test}}",
        image,
    ]);
    assert!(config.starts_with("10001:10001 {\"/data\":{}}"), "{config}");
    assert!(config.contains("sandcron\",\"health\""), "{config}");

    let unique = format!("sandcron-test-{}-{}", std::process::id(), free_port());
    let (container, volume) = (unique.clone(), format!("{unique}-data"));
    let _cleanup = Cleanup(vec![
        vec![
            "rm".into(),
            "-f".into(),
            "-t".into(),
            "0".into(),
            container.clone(),
        ],
        vec!["volume".into(), "rm".into(), "-f".into(), volume.clone()],
    ]);
    let port = free_port();
    // The README's command, published on loopback only.
    let run = |detach: bool| {
        let publish = format!("127.0.0.1:{port}:8080");
        let mount = format!("{volume}:/data");
        let mut args = vec!["run", "--name", &container, "--network", "bridge"];
        if detach {
            args.push("-d");
        }
        args.extend(["-p", &publish, "-v", &mount, image]);
        podman_ok(&args)
    };
    run(true);
    let logs = logs_with(&container, "sandcron: listening on http://0.0.0.0:8080").await;
    let token = logs
        .lines()
        .find_map(|line| line.split("kept in /data/admin-token): ").nth(1))
        .unwrap_or_else(|| panic!("no admin token in\n{logs}"))
        .trim()
        .to_string();
    let base = format!("http://127.0.0.1:{port}");
    let health = health_at(&base, std::time::Duration::from_secs(30)).await;
    assert_eq!(health["status"], "healthy");
    let client = crate::support::client_with_token(&token);
    let job = serde_json::json!({"name": "hello", "schedule": "@manually", "executor": "shell",
        "executor_config": {"command": "echo hello from the image"}});
    let created = client
        .post(format!("{base}/v1/jobs"))
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ran = client
        .post(format!("{base}/v1/jobs/hello/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 202);
    let output = eventually(
        "the job's output",
        std::time::Duration::from_secs(30),
        || async {
            finished_execution(&client, &base, "hello")
                .await
                .map(|execution| execution["output"].to_string())
        },
    )
    .await;
    assert_eq!(output, "\"hello from the image\\n\"");
    // The health check of the image passes; the data is in the volume, owned by 10001.
    podman_ok(&["healthcheck", "run", &container]);
    let listing = podman_ok(&["exec", &container, "ls", "-ln", "/data"]);
    assert!(listing.contains("sandcron.db"), "{listing}");
    assert!(listing.contains(" 10001 "), "{listing}");

    // A new container on the same volume: same data, no new token printed.
    podman_ok(&["rm", "-f", "-t", "10", &container]);
    run(true);
    let logs = logs_with(&container, "sandcron: listening on").await;
    assert!(!logs.contains("shown once"), "{logs}");
    assert!(
        logs.contains("the admin token is in /data/admin-token"),
        "{logs}"
    );
    let jobs = eventually(
        "the API of the second container",
        std::time::Duration::from_secs(30),
        || async {
            let reply = client.get(format!("{base}/v1/jobs")).send().await.ok()?;
            reply.json::<serde_json::Value>().await.ok()
        },
    )
    .await;
    assert_eq!(jobs[0]["name"], "hello", "{jobs}");
}

#[tokio::test]
async fn the_image_runs_on_postgresql() {
    let image = image();
    let database = fresh_postgres_database().await;
    let port = free_port();
    let container = format!("sandcron-test-pg-{}-{port}", std::process::id());
    // `-v`: and the anonymous volume of the image's /data.
    let _cleanup = Cleanup(vec![vec![
        "rm".into(),
        "-f".into(),
        "-v".into(),
        "-t".into(),
        "0".into(),
        container.clone(),
    ]]);
    // The test's PostgreSQL listens on the host's loopback: share the host's network,
    // and listen on loopback only.
    podman_ok(&[
        "run",
        "-d",
        "--name",
        &container,
        "--network",
        "host",
        "-e",
        &format!("SANDCRON_DATABASE_URL={database}"),
        "-e",
        &format!("SANDCRON_LISTEN=127.0.0.1:{port}"),
        // The health check asks the API where it now listens.
        "-e",
        &format!("SANDCRON_SERVER=http://127.0.0.1:{port}"),
        "-e",
        "SANDCRON_ADMIN_TOKEN=sca_compose-test-token",
        image,
    ]);
    let logs = logs_with(&container, "sandcron: listening on").await;
    assert!(logs.contains("(database postgres://"), "{logs}");
    let client = crate::support::client_with_token("sca_compose-test-token");
    let agent: serde_json::Value = eventually(
        "the API on PostgreSQL",
        std::time::Duration::from_secs(30),
        || async {
            let reply = client
                .get(format!("http://127.0.0.1:{port}/v1"))
                .send()
                .await
                .ok()?;
            reply.json().await.ok()
        },
    )
    .await;
    assert_eq!(agent["caller"]["admin"], true, "{agent}");
    podman_ok(&["healthcheck", "run", &container]);
}

#[tokio::test]
async fn the_compose_file_runs_sandcron_on_postgresql_with_podman_compose() {
    let postgres_image = postgres_standin_image();
    let (port, metrics_port) = (free_port(), free_port());
    let project = format!("sandcron-compose-{}-{port}", std::process::id());
    // Another test process may build localhost/sandcron:test anew meanwhile: this
    // project's containers run the image under a name of its own.
    let tag = format!("localhost/sandcron:{project}");
    podman_ok(&["tag", image(), &tag]);
    let token = "sca_compose-file-token";
    let compose = Compose {
        env: vec![
            ("POSTGRES_IMAGE", postgres_image.to_string()),
            ("SANDCRON_IMAGE", tag.clone()),
            ("SANDCRON_PORT", port.to_string()),
            ("SANDCRON_METRICS_PORT", metrics_port.to_string()),
            ("POSTGRES_PASSWORD", format!("pw-{project}")),
            ("SANDCRON_ADMIN_TOKEN", token.to_string()),
        ],
        project,
        tag,
    };
    let up = compose.run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "podman-compose up -d:\n{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let sandcron = compose.container("sandcron");

    // podman-compose 1.0.3 starts Sandcron without waiting for PostgreSQL to be healthy
    // (it ignores `condition: service_healthy`): Sandcron waits for the database itself.
    let base = format!("http://127.0.0.1:{port}");
    let health = health_at(&base, std::time::Duration::from_secs(120)).await;
    assert_eq!(health["status"], "healthy", "{health}");
    let logs = logs_with(&sandcron, "sandcron: listening on").await;
    assert!(
        logs.contains("(database postgres://sandcron:***@postgres/sandcron)"),
        "{logs}"
    );
    let client = crate::support::client_with_token(token);
    let agent: serde_json::Value = client
        .get(format!("{base}/v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agent["agent"]["name"], "node-1", "{agent}");
    assert_eq!(agent["caller"]["admin"], true, "{agent}");
    // Both ports are published on loopback only.
    let ports = podman_ok(&["port", &sandcron]);
    assert_eq!(ports.lines().count(), 2, "{ports}");
    assert!(
        ports.lines().all(|line| line.contains(" -> 127.0.0.1:")),
        "{ports}"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);

    let job = serde_json::json!({"name": "compose-tick", "schedule": "@every 1s",
        "executor": "shell", "executor_config": {"command": "echo hello from compose"}});
    let created = client
        .post(format!("{base}/v1/jobs"))
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let execution = eventually(
        "an execution of the job",
        std::time::Duration::from_secs(60),
        || finished_execution(&client, &base, "compose-tick"),
    )
    .await;
    assert_eq!(execution["success"], true, "{execution}");
    assert_eq!(execution["output"], "hello from compose\n", "{execution}");
    // It is a row of the compose file's PostgreSQL.
    let postgres = compose.container("postgres");
    let rows = podman_ok(&[
        "exec",
        &postgres,
        "psql",
        "-U",
        "sandcron",
        "-d",
        "sandcron",
        "-tAc",
        "SELECT count(*) FROM executions WHERE job_name = 'compose-tick' \
         AND finished_at IS NOT NULL AND node = 'node-1'",
    ]);
    assert!(rows.parse::<u64>().unwrap() >= 1, "{rows}");
    // The compose file's health check of PostgreSQL (pg_isready) and the image's own.
    podman_ok(&["healthcheck", "run", &postgres]);
    podman_ok(&["healthcheck", "run", &sandcron]);

    // Taken down: nothing of the project is left.
    let (project, label) = (
        compose.project.clone(),
        format!("label=io.podman.compose.project={}", compose.project),
    );
    drop(compose);
    let containers = podman_ok(&["ps", "-a", "-q", "--filter", &label]);
    assert_eq!(containers, "");
    let volumes = podman_ok(&["volume", "ls", "-q", "--filter", &label]);
    assert_eq!(volumes, "");
    let network = podman(&["network", "exists", &format!("{project}_default")]);
    assert!(!network.status.success(), "the network is left");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(root().join("contrib/systemd/sandcron.service")).unwrap();
    // `verify` checks that ExecStart's program exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandcron.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/sandcron", env!("CARGO_BIN_EXE_sandcron")),
    )
    .unwrap();
    let verified = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (Debian: systemd)");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    for hardening in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
}

/// A finished execution of the job `name` on the server at `base`, if there is one.
async fn finished_execution(
    client: &reqwest::Client,
    base: &str,
    name: &str,
) -> Option<serde_json::Value> {
    let list: serde_json::Value = client
        .get(format!("{base}/v1/jobs/{name}/executions"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    list.as_array()?
        .iter()
        .find(|execution| execution["finished_at"].is_string())
        .cloned()
}

/// What `/health` answers at `base` once it answers, within `within`.
async fn health_at(base: &str, within: std::time::Duration) -> serde_json::Value {
    eventually(
        &format!("{base}/health on the published port"),
        within,
        || async {
            reqwest::get(format!("{base}/health"))
                .await
                .ok()?
                .json()
                .await
                .ok()
        },
    )
    .await
}
