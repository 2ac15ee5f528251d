//! Generated bindings of the `sandcron:executor/executor` world.
//!
//! Everything here is produced by `wit-bindgen` from `wit/executor.wit` and the WASI
//! packages it imports. Executor authors rarely need it directly: the crate root re-exports
//! the types of the world, and the `output`, `process` and `http` modules wrap the imports.

// The generated export glue takes the flattened `execution` record as 11 arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    path: "wit",
    world: "sandcron:executor/executor",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "export_executor_world",
    default_bindings_module: "sandcron_sdk::bindings",
});
