//! The built-in executors: components from `executors-wasm/`, built by `build.rs` and
//! embedded in the binary. They run in the same sandbox as any upload.

/// One built-in executor.
#[derive(Debug)]
pub struct BuiltIn {
    /// The name a job's `executor` uses.
    pub name: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// Its page in `docs/executors/`, whose `## Keys` table lists its config keys.
    pub doc: &'static str,
}

impl BuiltIn {
    /// The config keys its documentation lists.
    pub fn keys(&self) -> Vec<crate::executor_keys::ConfigKey> {
        crate::executor_keys::from_doc(self.doc)
    }
}

macro_rules! doc {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/executors/",
            $file
        ))
    };
}

macro_rules! component {
    ($file:literal) => {
        include_bytes!(concat!(env!("SANDCRON_EXECUTORS_DIR"), "/", $file))
    };
}

/// Every built-in executor.
pub static BUILT_INS: &[BuiltIn] = &[
    BuiltIn {
        name: "shell",
        summary: "runs a command (Dkron's shell executor)",
        wasm: component!("executor_shell.wasm"),
        doc: doc!("shell.md"),
    },
    BuiltIn {
        name: "http",
        summary: "sends an HTTP request (Dkron's http executor)",
        wasm: component!("executor_http.wasm"),
        doc: doc!("http.md"),
    },
    BuiltIn {
        name: "docker",
        summary: "runs a container on the host's engine (Dkron Pro's docker executor)",
        wasm: component!("executor_docker.wasm"),
        doc: doc!("docker.md"),
    },
    BuiltIn {
        name: "ecs",
        summary: "runs an AWS ECS task and waits for it (Dkron Pro's ecs executor)",
        wasm: component!("executor_ecs.wasm"),
        doc: doc!("ecs.md"),
    },
    BuiltIn {
        name: "nats",
        summary: "publishes a message to NATS, core or JetStream (Dkron's nats executor)",
        wasm: component!("executor_nats.wasm"),
        doc: doc!("nats.md"),
    },
    BuiltIn {
        name: "rabbitmq",
        summary: "publishes a message to RabbitMQ with publisher confirms (Dkron's rabbitmq executor)",
        wasm: component!("executor_rabbitmq.wasm"),
        doc: doc!("rabbitmq.md"),
    },
    BuiltIn {
        name: "kafka",
        summary: "produces a record to Kafka with acks=all (Dkron's kafka executor)",
        wasm: component!("executor_kafka.wasm"),
        doc: doc!("kafka.md"),
    },
    BuiltIn {
        name: "grpc",
        summary: "calls a unary gRPC method with a JSON body, through server reflection (Dkron's grpc executor)",
        wasm: component!("executor_grpc.wasm"),
        doc: doc!("grpc.md"),
    },
    BuiltIn {
        name: "gcppubsub",
        summary: "publishes a message to Google Pub/Sub over its REST API (Dkron's gcppubsub executor)",
        wasm: component!("executor_pubsub.wasm"),
        doc: doc!("pubsub.md"),
    },
    BuiltIn {
        name: "pubsub",
        summary: "the gcppubsub executor under a shorter name",
        wasm: component!("executor_pubsub.wasm"),
        doc: doc!("pubsub.md"),
    },
    BuiltIn {
        name: "echo",
        summary: "writes executor_config.message to the output",
        wasm: component!("executor_echo.wasm"),
        doc: doc!("echo.md"),
    },
];

/// The built-in executor called `name`.
pub fn built_in(name: &str) -> Option<&'static BuiltIn> {
    BUILT_INS.iter().find(|b| b.name == name)
}

/// The names of all built-in executors, for messages.
pub fn names() -> Vec<&'static str> {
    BUILT_INS.iter().map(|b| b.name).collect()
}
