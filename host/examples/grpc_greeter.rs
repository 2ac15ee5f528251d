//! A demo gRPC server with server reflection, `sandcron.demo.Greeter`, for trying the
//! `grpc` executor (`docs/executors/grpc.md`); `scripts/peers up` starts it on
//! 127.0.0.1:50051. It is the server the e2e tests use.
//!
//! ```sh
//! cargo run -p sandcron --example grpc_greeter -- 127.0.0.1:50051
//! ```

#[path = "../../tests/e2e/greeter.rs"]
mod greeter;

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:50051".to_string());
    let listener = std::net::TcpListener::bind(&address).unwrap_or_else(|e| {
        eprintln!("grpc_greeter: cannot listen on {address}: {e}");
        std::process::exit(2);
    });
    eprintln!("grpc_greeter: serving {} on {address}", greeter::SERVICE);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if let Err(e) = runtime.block_on(greeter::serve(listener, greeter::Seen::default(), None)) {
        eprintln!("grpc_greeter: {e}");
        std::process::exit(1);
    }
}
