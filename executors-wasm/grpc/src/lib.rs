//! The `grpc` executor: calls one unary method as Dkron's grpc executor does, through the
//! `grpc` capability (which reads the method's types with server reflection), and writes
//! the response, as JSON, to the output (Dkron drops it).
//!
//! Keys: `url` (`host:port/package.Service/Method`, required), `body`, `headers`,
//! `timeout`, `expectCode`, and Sandcron's `tls` and `tlsCa`. See
//! `docs/executors/grpc.md`.

mod config;

use sandcron_sdk::grpc::{self, Request, Target, code_name};
use sandcron_sdk::{Execution, Executor, Failure, output};

use crate::config::GrpcConfig;

struct Grpc;

impl Executor for Grpc {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = GrpcConfig::from_execution(&execution)?;
        let target = Target {
            address: config.address.clone(),
            tls: config.tls,
            tls_ca: config.tls_ca.clone(),
        };
        let request = Request {
            method: config.method.clone(),
            body_json: config.body.clone(),
            metadata: config.headers.clone(),
        };
        let response = grpc::invoke(&target, &request, execution.bound_timeout(config.timeout))?;
        match &response.body_json {
            Some(json) => output::print(&format!("{json}\n")),
            None => output::print(&format!(
                "status {} ({}): {}\n",
                code_name(response.code),
                response.code,
                response.message
            )),
        }
        if response.code != config.expect_code {
            return Err(Failure::Failed(format!(
                "grpc: {} answered {} ({}), expected {} ({}){}",
                config.method,
                code_name(response.code),
                response.code,
                code_name(config.expect_code),
                config.expect_code,
                if response.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", response.message)
                }
            )));
        }
        Ok(())
    }
}

sandcron_sdk::export_executor!(Grpc);
