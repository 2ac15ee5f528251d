//! An upload cannot take the server's CPU and memory by being expensive to compile: what is
//! cheap to see is refused before compiling, naming the limit; the compile runs in a child
//! process within a budget of CPU time and memory, which a dropped request and the
//! server's shutdown end at once; and a tenant compiles at most two uploads at a time.
//! The hostile components are built here, from core modules written with `wasm-encoder`.

use std::time::Duration;

use wasm_encoder::{
    BlockType, CodeSection, Component, ComponentSectionId, ConstExpr, DataSection, Function,
    FunctionSection, Instruction, MemorySection, MemoryType, Module, RawSection, TypeSection,
    ValType,
};

use crate::support::{Reply, Server, eventually, process_alive};
use crate::uploads::upload;

/// What the hostile core module holds.
#[derive(Default)]
struct Hostile {
    /// Functions of one `nop` each.
    small_functions: u32,
    /// One function of this many bytes of `nop`s.
    long_function: Option<usize>,
    /// One function nesting this many blocks, each with a branch out of it: its compile
    /// time grows with the square of the count (20,000: 2 s of CPU, 40,000: 8 s,
    /// 80,000 — 560 KB —: 33 s in a debug build).
    nested_blocks: Option<usize>,
    /// One-byte data segments.
    data_segments: u32,
    /// The memory's initial size, in 64 KiB pages.
    initial_pages: u64,
}

impl Hostile {
    /// A component whose only content is the core module.
    fn component(&self) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        types.ty().function([ValType::I32], []);
        module.section(&types);
        let mut bodies = Vec::new();
        for _ in 0..self.small_functions {
            bodies.push((0, vec![Instruction::Nop]));
        }
        if let Some(bytes) = self.long_function {
            bodies.push((0, vec![Instruction::Nop; bytes]));
        }
        if let Some(depth) = self.nested_blocks {
            let mut body = Vec::with_capacity(depth * 4);
            for _ in 0..depth {
                body.push(Instruction::Block(BlockType::Empty));
                body.push(Instruction::LocalGet(0));
                body.push(Instruction::BrIf(0));
            }
            body.extend(std::iter::repeat_n(Instruction::End, depth));
            bodies.push((1, body));
        }
        let mut declared = FunctionSection::new();
        for (ty, _) in &bodies {
            declared.function(*ty);
        }
        module.section(&declared);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: self.initial_pages.max(1),
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        let mut code = CodeSection::new();
        for (_, instructions) in &bodies {
            let mut function = Function::new([]);
            for instruction in instructions {
                function.instruction(instruction);
            }
            function.instruction(&Instruction::End);
            code.function(&function);
        }
        module.section(&code);
        let mut data = DataSection::new();
        for offset in 0..self.data_segments {
            data.active(0, &ConstExpr::i32_const(offset as i32), [1u8]);
        }
        module.section(&data);
        let core = module.finish();
        let mut component = Component::new();
        component.section(&RawSection {
            id: ComponentSectionId::CoreModule as u8,
            data: &core,
        });
        component.finish()
    }
}

/// Uploads `wasm` as the executor `name`.
async fn put(server: &Server, name: &str, wasm: Vec<u8>) -> Reply {
    upload(server, name, wasm, "application/wasm").await
}

/// The compiler children of the server's process.
fn compiler_children(server: &Server) -> Vec<i32> {
    let parent = server.pid().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let ppid = after_name.split_whitespace().nth(1);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent.as_str())
                && String::from_utf8_lossy(&cmdline).contains("__sandcron_compile__")
        })
        .collect()
}

/// Sends an upload of `wasm` as `name` on a connection of its own, which the caller
/// closes by dropping it, as a client that goes away does.
async fn start_upload(server: &Server, name: &str, wasm: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = server.base.trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "PUT /v1/executors/{name} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/wasm\r\nContent-Length: {}\r\n\r\n",
        server.admin_token,
        wasm.len()
    );
    connection.write_all(head.as_bytes()).await.unwrap();
    connection.write_all(wasm).await.unwrap();
    connection
}

/// Waits until the server compiles no upload.
async fn until_compiling_none(server: &Server) {
    eventually("no upload compiling", Duration::from_secs(10), || async {
        let list = server.get("/v1/executors").await.json();
        let compiling = list
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["state"] == "compiling");
        (!compiling).then_some(())
    })
    .await;
}

/// Waits for the one compiler child of `server` (an upload is listed as compiling first,
/// then checked, then handed to its child); its pid, in a list of one.
async fn until_one_compiler_child(server: &Server) -> Vec<i32> {
    eventually("the compiler child", Duration::from_secs(30), || async {
        let children = compiler_children(server);
        (children.len() == 1).then_some(children)
    })
    .await
}

/// Waits until the server compiles `count` uploads of the default tenant.
async fn until_compiling(server: &Server, count: usize) {
    eventually(
        "the uploads listed as compiling",
        Duration::from_secs(30),
        || async {
            let list = server.get("/v1/executors").await.json();
            let compiling = list
                .as_array()
                .unwrap()
                .iter()
                .filter(|entry| entry["state"] == "compiling")
                .count();
            (compiling >= count).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_upload_past_a_cheap_limit_is_refused_before_compiling_naming_the_limit() {
    let server = Server::sqlite(&[]);
    let cases = [
        (
            "function_bytes",
            Hostile {
                long_function: Some(1_100_000),
                ..Hostile::default()
            },
        ),
        (
            "functions",
            Hostile {
                small_functions: 100_001,
                ..Hostile::default()
            },
        ),
        (
            // The example: 100,000 one-byte segments took the server to 2.1 GiB.
            "segments",
            Hostile {
                data_segments: 100_000,
                ..Hostile::default()
            },
        ),
        (
            "initial_memory_bytes",
            Hostile {
                initial_pages: 20_000,
                ..Hostile::default()
            },
        ),
    ];
    for (limit, hostile) in cases {
        let refused = put(&server, "hostile", hostile.component()).await;
        assert_eq!(refused.status, 400, "{limit}: {}", refused.text);
        assert_eq!(refused.field(), "body", "{limit}");
        assert!(
            refused.text.contains("refused before compiling")
                && refused.text.contains(&format!("`{limit}`")),
            "{limit}: {}",
            refused.text
        );
    }
    // Nothing was compiled, and nothing is left.
    assert!(compiler_children(&server).is_empty());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    assert_eq!(server.get("/health").await.status, 200);
}

#[tokio::test]
async fn a_compile_past_its_cpu_budget_is_refused_while_the_server_answers() {
    let server = Server::sqlite(&["--max-compile-time", "1s"]);
    let slow = Hostile {
        nested_blocks: Some(40_000),
        ..Hostile::default()
    }
    .component();
    let upload = put(&server, "slow", slow);
    tokio::pin!(upload);
    // While it compiles, in a child of its own, the server answers.
    tokio::select! {
        reply = &mut upload => panic!("the upload ended before it was seen compiling: {}", reply.text),
        () = until_compiling(&server, 1) => {}
    }
    until_one_compiler_child(&server).await;
    assert_eq!(server.get("/health").await.status, 200);
    let refused = upload.await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.field(), "body");
    assert!(
        refused.text.contains("compile exceeded 1 s of CPU"),
        "{}",
        refused.text
    );
    assert!(compiler_children(&server).is_empty());
    assert_eq!(server.get("/v1/executors/slow").await.status, 404);
}

#[tokio::test]
async fn a_compile_past_its_memory_budget_is_refused() {
    let server = Server::sqlite(&["--max-compile-memory", "100M"]);
    let large = Hostile {
        nested_blocks: Some(80_000),
        ..Hostile::default()
    }
    .component();
    let refused = put(&server, "large", large).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("compile exceeded") && refused.text.contains("of memory"),
        "{}",
        refused.text
    );
    assert!(compiler_children(&server).is_empty());
    assert_eq!(server.get("/health").await.status, 200);
}

#[tokio::test]
async fn a_dropped_upload_and_a_stopping_server_end_the_compile_at_once() {
    let mut server = Server::sqlite(&[]);
    // 33 s of CPU: within the 1 MiB function limit, past the 30 s budget.
    let slow = Hostile {
        nested_blocks: Some(80_000),
        ..Hostile::default()
    }
    .component();
    {
        let connection = start_upload(&server, "dropped", &slow).await;
        until_compiling(&server, 1).await;
        let children = until_one_compiler_child(&server).await;
        // The client goes away: the request is dropped, and the compile with it.
        drop(connection);
        eventually(
            "the dropped upload's compiler gone",
            Duration::from_secs(10),
            || async { (!process_alive(children[0])).then_some(()) },
        )
        .await;
        until_compiling_none(&server).await;
    }
    let upload = server
        .request(reqwest::Method::PUT, "/v1/executors/stopped")
        .header("Content-Type", "application/wasm")
        .header("Connection", "close")
        .body(slow)
        .send();
    tokio::pin!(upload);
    tokio::select! {
        reply = &mut upload => panic!("the upload ended before it was seen compiling: {reply:?}"),
        () = until_compiling(&server, 1) => {}
    }
    let children = until_one_compiler_child(&server).await;
    // SAFETY: `kill` has no memory effects; the pid is our own child's.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    // The upload is refused as the server stops (or its connection closes with it).
    if let Ok(reply) = upload.await {
        let status = reply.status().as_u16();
        assert_eq!(status, 503, "{}", reply.text().await.unwrap_or_default());
    }
    // It stops without waiting for the compile (33 s of CPU), which it ends.
    let status = server
        .wait_exit(Duration::from_secs(25))
        .unwrap_or_else(|| panic!("the server still runs:\n{}", server.log()));
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(!process_alive(children[0]));
}

#[tokio::test]
async fn a_tenant_compiles_two_uploads_at_a_time_and_a_third_is_refused() {
    let server = Server::sqlite(&["--max-compile-time", "4s"]);
    let slow = Hostile {
        nested_blocks: Some(40_000),
        ..Hostile::default()
    }
    .component();
    let first = put(&server, "first", slow.clone());
    let second = put(&server, "second", slow.clone());
    tokio::pin!(first, second);
    tokio::select! {
        reply = &mut first => panic!("an upload ended before two were compiling: {}", reply.text),
        reply = &mut second => panic!("an upload ended before two were compiling: {}", reply.text),
        () = until_compiling(&server, 2) => {}
    }
    let third = put(&server, "third", slow).await;
    assert_eq!(third.status, 429, "{}", third.text);
    assert_eq!(third.field(), "max_tenant_compiles");
    let (first, second) = tokio::join!(first, second);
    for reply in [first, second] {
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(
            reply.text.contains("compile exceeded 4 s of CPU"),
            "{}",
            reply.text
        );
    }
}
