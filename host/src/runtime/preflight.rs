//! The cheap checks of a component before it is compiled: one pass of `wasmparser` over
//! the bytes (no validation, no compilation) that bounds what makes compiling expensive.
//!
//! Cranelift's time grows with the square of a function's size (a 551 KB function of
//! 280,000 instructions compiles for 55 s of CPU), and each data or element segment costs
//! memory while the module is translated (100,000 one-byte segments took the server to
//! 2.1 GiB). So before anything is compiled, the largest function body, the number of
//! functions, the number of segments and the memory the component declares are counted,
//! over every core module the component nests, and an upload past a limit is refused
//! naming it. Malformed bytes are left to the compiler's validation, which says more.
//!
//! The limits are well above what real components need. Measured on the templates
//! (`sandcron executor new x --lang …`, then `executor build`):
//!
//! | component                        | size     | largest function | functions | segments | initial memory |
//! |----------------------------------|----------|------------------|-----------|----------|----------------|
//! | Python (componentize-py, libpython) | 18.8 MB | 426,843 bytes  | 13,481    | 2,358    | 12.6 MiB       |
//! | JavaScript (componentize-js, SpiderMonkey) | 13.5 MB | 171,628 bytes | 12,823 | 10,002 | 10.1 MiB  |
//! | limit (`ShapeLimits::default`)   |          | 1 MiB (2.4×)     | 100,000 (7×) | 50,000 (5×) | 1 GiB (80×) |
//!
//! A function's size alone does not make its compile slow (libpython's interpreter loop
//! is 427 KB and compiles in seconds); its shape does, and the budget of
//! [`super::compiler`] stops what these checks let through.

use wasmparser::{Parser, Payload};

/// What a component may hold before it is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeLimits {
    /// The largest function body, in bytes of code (every instruction is at least one).
    pub function_bytes: u64,
    /// Functions defined, over all the core modules.
    pub functions: u64,
    /// Data and element segments, over all the core modules.
    pub segments: u64,
    /// The initial size of all the memories declared, in bytes.
    pub initial_memory_bytes: u64,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        Self {
            function_bytes: DEFAULT_FUNCTION_BYTES,
            functions: DEFAULT_FUNCTIONS,
            segments: DEFAULT_SEGMENTS,
            initial_memory_bytes: DEFAULT_INITIAL_MEMORY_BYTES,
        }
    }
}

/// The default of [`ShapeLimits::function_bytes`].
pub const DEFAULT_FUNCTION_BYTES: u64 = 1 << 20;
/// The default of [`ShapeLimits::functions`].
pub const DEFAULT_FUNCTIONS: u64 = 100_000;
/// The default of [`ShapeLimits::segments`].
pub const DEFAULT_SEGMENTS: u64 = 50_000;
/// The default of [`ShapeLimits::initial_memory_bytes`].
pub const DEFAULT_INITIAL_MEMORY_BYTES: u64 = 1 << 30;

/// What was counted in a component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// The largest function body, in bytes.
    pub largest_function_bytes: u64,
    /// Functions defined.
    pub functions: u64,
    /// Data and element segments.
    pub segments: u64,
    /// The initial size of all the memories, in bytes.
    pub initial_memory_bytes: u64,
}

/// A limit of [`ShapeLimits`] a component goes past.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} ({found}) is more than the limit `{limit}` of {max}: {why}")]
pub struct ShapeExceeded {
    /// The limit's name: `function_bytes`, `functions`, `segments`, `initial_memory_bytes`.
    pub limit: &'static str,
    /// What was counted, in words.
    pub what: &'static str,
    /// The count.
    pub found: u64,
    /// The limit.
    pub max: u64,
    /// Why the limit is there.
    pub why: &'static str,
}

impl Shape {
    /// Counts `wasm`'s functions, segments and memories, over every nested core module.
    /// Stops at the first malformed section: what was counted until there is kept, and
    /// the compiler's validation refuses the rest.
    pub fn of(wasm: &[u8]) -> Self {
        let mut shape = Shape::default();
        for payload in Parser::new(0).parse_all(wasm) {
            let Ok(payload) = payload else { break };
            match payload {
                Payload::CodeSectionStart { count, .. } => shape.functions += u64::from(count),
                Payload::CodeSectionEntry(body) => {
                    let bytes = body.range().len() as u64;
                    shape.largest_function_bytes = shape.largest_function_bytes.max(bytes);
                }
                Payload::DataSection(reader) => shape.segments += u64::from(reader.count()),
                Payload::ElementSection(reader) => shape.segments += u64::from(reader.count()),
                Payload::MemorySection(reader) => {
                    for memory in reader.into_iter().flatten() {
                        let bytes = memory.initial.saturating_mul(memory.page_size().into());
                        shape.initial_memory_bytes =
                            shape.initial_memory_bytes.saturating_add(bytes);
                    }
                }
                _ => {}
            }
        }
        shape
    }

    /// The first limit this shape goes past, if any.
    pub fn check(&self, limits: &ShapeLimits) -> Result<(), ShapeExceeded> {
        let checks = [
            (
                "function_bytes",
                "the largest function's code in bytes",
                self.largest_function_bytes,
                limits.function_bytes,
                "compiling a function takes time that grows with the square of its size",
            ),
            (
                "functions",
                "the number of functions",
                self.functions,
                limits.functions,
                "each function is compiled",
            ),
            (
                "segments",
                "the number of data and element segments",
                self.segments,
                limits.segments,
                "each segment takes memory while the component is compiled",
            ),
            (
                "initial_memory_bytes",
                "the initial memory the component declares, in bytes",
                self.initial_memory_bytes,
                limits.initial_memory_bytes,
                "every execution would start with that much memory",
            ),
        ];
        for (limit, what, found, max, why) in checks {
            if found > max {
                return Err(ShapeExceeded {
                    limit,
                    what,
                    found,
                    max,
                    why,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with `functions` functions of `body_bytes` `nop`s each and
    /// `segments` one-byte data segments, in the binary format.
    fn module(functions: u32, body_bytes: usize, segments: u32) -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ConstExpr, DataSection, Function, FunctionSection, Instruction,
            MemorySection, MemoryType, Module, TypeSection,
        };
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut declared = FunctionSection::new();
        (0..functions).for_each(|_| {
            declared.function(0);
        });
        module.section(&declared);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        let mut code = CodeSection::new();
        for _ in 0..functions {
            let mut body = Function::new([]);
            (0..body_bytes).for_each(|_| {
                body.instruction(&Instruction::Nop);
            });
            body.instruction(&Instruction::End);
            code.function(&body);
        }
        module.section(&code);
        let mut data = DataSection::new();
        for index in 0..segments {
            data.active(0, &ConstExpr::i32_const(index as i32), [1u8]);
        }
        module.section(&data);
        module.finish()
    }

    #[test]
    fn functions_segments_and_memory_are_counted() {
        let shape = Shape::of(&module(3, 1000, 7));
        assert_eq!(shape.functions, 3);
        // The locals' count and the `end` are part of the body.
        assert_eq!(shape.largest_function_bytes, 1002);
        assert_eq!(shape.segments, 7);
        assert_eq!(shape.initial_memory_bytes, 64 << 10);
        assert_eq!(shape.check(&ShapeLimits::default()), Ok(()));
    }

    #[test]
    fn the_first_limit_past_is_named() {
        let shape = Shape::of(&module(2, 5000, 20));
        let limits = ShapeLimits {
            function_bytes: 4096,
            ..ShapeLimits::default()
        };
        let refused = shape.check(&limits).unwrap_err();
        assert_eq!(refused.limit, "function_bytes");
        assert_eq!(refused.found, 5002);
        assert!(
            refused.to_string().contains("`function_bytes` of 4096"),
            "{refused}"
        );
        let limits = ShapeLimits {
            segments: 10,
            ..ShapeLimits::default()
        };
        assert_eq!(shape.check(&limits).unwrap_err().limit, "segments");
    }

    #[test]
    fn malformed_bytes_count_what_comes_before() {
        let mut wasm = module(1, 10, 0);
        wasm.extend_from_slice(&[0x0b, 0xff, 0xff]);
        assert_eq!(Shape::of(&wasm).functions, 1);
    }
}
