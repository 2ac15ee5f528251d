//! The messaging peers the executor tests talk to: the shared ones `scripts/peers up`
//! starts (found through the variables `scripts/peers env` prints), dedicated ones a test
//! starts on a port of its own so that it can stop and restart them without disturbing
//! the tests running beside it, and the means to count a peer's connections and to run a
//! job many times through a server.
//!
//! A missing peer fails the test with a message saying how to start it: nothing is
//! skipped.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, eventually};

/// The value of a variable `scripts/peers env` sets; fails the test when it is missing.
pub fn peer_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the suite with scripts/test, or start the peers with \
             `scripts/peers up` and `eval \"$(scripts/peers env)\"`"
        )
    })
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A peer process this test owns, in its own process group; killed when dropped.
pub struct PeerProcess {
    name: String,
    command: Vec<String>,
    env: Vec<(String, String)>,
    /// The port it serves on.
    pub port: u16,
    child: Option<Child>,
}

impl PeerProcess {
    /// Starts `command` and waits (up to a minute) for it to listen on `port`.
    pub fn start(name: &str, command: &[String], env: &[(&str, &str)], port: u16) -> Self {
        let mut peer = Self {
            name: name.to_string(),
            command: command.to_vec(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            port,
            child: None,
        };
        peer.restart();
        peer
    }

    /// Starts it again (after [`PeerProcess::stop`]) on the same port.
    pub fn restart(&mut self) {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({}): {e}; install it with scripts/peers up",
                self.name, self.command[0]
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !listening(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("{} exited with {status} before listening", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {} within a minute",
                self.name,
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it (and its children) and waits until its port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the process group this test created; no memory involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while listening(self.port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listener that accepts and counts connections, to show that a denied call never
/// connected.
pub struct CountingListener {
    /// Its port.
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl CountingListener {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { port, accepted }
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        // A connection made just before the call returned may still be in the backlog.
        std::thread::sleep(Duration::from_millis(200));
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A TCP proxy on loopback in front of `upstream` (`HOST:PORT`) that counts the
/// connections made through it: what a peer would count of its clients' connections.
pub struct CountingProxy {
    /// Its port.
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl CountingProxy {
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                // Forward each write as it comes, as a direct connection would.
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Self { port, accepted }
    }

    /// How many connections were made through it.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// How many TCP sockets on this machine have `port` at either end, listening sockets
/// left out: each connection to a local peer counts twice (both ends), and a closed one
/// stays counted while in TIME_WAIT (a minute), so a run that connects per execution
/// leaves hundreds where a pooled one leaves a few.
pub fn sockets_on_port(port: u16) -> usize {
    const LISTEN: &str = "0A";
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] == LISTEN {
                continue;
            }
            let port_of = |address: &str| {
                address
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            };
            if port_of(fields[1]) == Some(port) || port_of(fields[2]) == Some(port) {
                count += 1;
            }
        }
    }
    count
}

/// Creates (or replaces) a job that runs when asked, with `executor` and `config`.
pub async fn manual_job(server: &Server, name: &str, executor: &str, config: Value) {
    let job = json!({
        "name": name,
        "schedule": "@manually",
        "executor": executor,
        "executor_config": config,
    });
    let reply = server.post("/v1/jobs", job).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

/// Runs `job` once and returns the finished execution.
pub async fn run_job(server: &Server, job: &str) -> Value {
    let reply = server
        .call("POST", &format!("/v1/jobs/{job}/run"), None)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json()["id"].as_i64().unwrap();
    crate::support::finished(server, job, id).await
}

/// Starts `job` `times` times, as fast as the API takes the requests, and waits until
/// all have ended; returns the job with its counters.
pub async fn run_many(server: &Server, job: &str, times: usize) -> Value {
    let path = format!("/v1/jobs/{job}/run");
    for _ in 0..times {
        let reply = server.call("POST", &path, None).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
    }
    let job_path = format!("/v1/jobs/{job}");
    eventually("every run to end", Duration::from_secs(300), || async {
        let job = server.get(&job_path).await.json();
        let ended =
            job["success_count"].as_u64().unwrap_or(0) + job["error_count"].as_u64().unwrap_or(0);
        (ended >= times as u64).then_some(job)
    })
    .await
}

/// A RabbitMQ node of the test's own on a free port, its state in `dir`, everything on
/// loopback. It runs as the test's user (not through the `rabbitmq-server` wrapper, which
/// switches users in a new session the test could not stop).
pub fn dedicated_rabbitmq(dir: &std::path::Path) -> PeerProcess {
    dedicated_rabbitmq_with(dir, "")
}

/// [`dedicated_rabbitmq`] with `config` (`rabbitmq.conf` lines, such as a TLS listener)
/// added to its configuration.
pub fn dedicated_rabbitmq_with(dir: &std::path::Path, config: &str) -> PeerProcess {
    let config_file = dir.join("rabbitmq.conf");
    std::fs::write(&config_file, config).unwrap();
    let config_file = config_file.display().to_string();
    let port = free_port();
    let dist_port = free_port();
    let node = format!("sandcron-test-{port}@localhost");
    let mnesia = dir.join("mnesia").display().to_string();
    let logs = dir.join("log").display().to_string();
    let port_text = port.to_string();
    let dist_text = dist_port.to_string();
    let env = [
        ("RABBITMQ_NODENAME", node.as_str()),
        ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"),
        ("RABBITMQ_NODE_PORT", port_text.as_str()),
        ("RABBITMQ_DIST_PORT", dist_text.as_str()),
        ("ERL_EPMD_ADDRESS", "127.0.0.1"),
        (
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}",
        ),
        ("RABBITMQ_MNESIA_BASE", mnesia.as_str()),
        ("RABBITMQ_LOG_BASE", logs.as_str()),
        ("RABBITMQ_CONFIG_FILE", config_file.as_str()),
    ];
    let command = ["/usr/lib/rabbitmq/bin/rabbitmq-server".to_string()];
    PeerProcess::start("rabbitmq-server", &command, &env, port)
}

/// Runs the built-in `executor` `times` times in a row in one runtime (as one `serve`
/// process would), with `config` and the grant `allow` (`CAPABILITY=PATTERN` entries);
/// fails the test at the first execution that does not succeed.
pub async fn run_in_a_row(executor: &str, config: &[(&str, &str)], allow: &[&str], times: usize) {
    use sandcron::runtime::{ExecutionInfo, ExecutionRequest, Limits, Runtime, RuntimeConfig};

    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_executions: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let built_in = sandcron::executors::built_in(executor).unwrap();
    let executable = runtime.load(Arc::from(built_in.wasm)).await.unwrap();
    let mut grants = sandcron::capabilities::Grants::default();
    grants.allow_all(allow).unwrap();
    let executor_config: Vec<(String, String)> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for run in 1..=times {
        let request = ExecutionRequest {
            info: ExecutionInfo {
                job_name: format!("{executor}-in-a-row"),
                execution_id: run.to_string(),
                attempt: 1,
                executor_config: executor_config.clone(),
                ..ExecutionInfo::default()
            },
            grants: grants.clone(),
            limits: Limits::default(),
            listener: None,
        };
        let outcome = runtime.execute(&executable, request).await;
        assert!(outcome.succeeded(), "run {run}: {:?}", outcome.result);
    }
}
