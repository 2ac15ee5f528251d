//! The built-in executors: components from `executors-wasm/`, built by `build.rs` and
//! embedded in the binary. They run in the same sandbox as any upload.
//!
//! The `executors-wasm` workspace is their one list: `build.rs` reads each member's
//! manifest (its `description`, and `names` and `capabilities` in
//! `[package.metadata.sandcron]`) and generates [`DECLARED`] and [`BUILT_INS`]. The tests
//! below check that each built-in's declared capabilities are what its component
//! imports, and that the docs list exactly these built-ins.

use crate::capabilities;

/// A built-in executor as the `executors-wasm` workspace declares it.
#[derive(Debug)]
pub struct Declared {
    /// The name a job's `executor` uses.
    pub name: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// The capabilities it needs (`http`, `process`…), as `--allow` names them.
    pub capabilities: &'static [&'static str],
    /// Its folder in `executors-wasm/`, which names its page in `docs/executors/`.
    pub folder: &'static str,
}

/// One built-in executor this build offers.
#[derive(Debug)]
pub struct BuiltIn {
    /// The name a job's `executor` uses.
    pub name: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// The capabilities it needs (`http`, `process`…), as `--allow` names them.
    pub capabilities: &'static [&'static str],
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// Its page in `docs/executors/` (named after its folder), whose `## Keys` table
    /// lists its config keys.
    pub doc: &'static str,
}

impl BuiltIn {
    /// The config keys its documentation lists.
    pub fn keys(&self) -> Vec<crate::executor_keys::ConfigKey> {
        crate::executor_keys::from_doc(self.doc)
    }
}

include!(concat!(env!("OUT_DIR"), "/built_ins.rs"));

/// The built-in executor called `name`.
pub fn built_in(name: &str) -> Option<&'static BuiltIn> {
    BUILT_INS.iter().find(|b| b.name == name)
}

/// The names of all built-in executors, for messages.
pub fn names() -> Vec<&'static str> {
    BUILT_INS.iter().map(|b| b.name).collect()
}

/// Why `name` is not a built-in of this build, when it is one another build offers: the
/// capabilities it needs that this build leaves out.
pub fn left_out(name: &str) -> Option<String> {
    if built_in(name).is_some() {
        return None;
    }
    let declared = DECLARED.iter().find(|d| d.name == name)?;
    let missing: Vec<&str> = declared
        .capabilities
        .iter()
        .copied()
        .filter(|capability| capabilities::LEFT_OUT.contains(capability))
        .collect();
    Some(format!(
        "the built-in executor {name} is left out of this build of sandcron: it needs the \
         capability {} (built without the cargo feature of that name)",
        missing.join(", ")
    ))
}

/// The long help of `sandcron exec`'s EXECUTOR argument: each built-in with its summary
/// and the capabilities it needs.
pub fn help() -> String {
    let mut help =
        String::from("A built-in executor, or the path of a component (.wasm). The built-ins:\n");
    for built_in in BUILT_INS {
        help.push_str(&format!("\n  {:<10} {}", built_in.name, built_in.summary));
        if !built_in.capabilities.is_empty() {
            help.push_str(&format!(" [{}]", built_in.capabilities.join(", ")));
        }
    }
    help
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::runtime::{Runtime, RuntimeConfig};

    fn repository() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    /// The table of every declared built-in that `docs/architecture.md` holds between
    /// its `built-ins` markers.
    fn markdown_table() -> String {
        let mut table = String::from("| built-in | what it does | capabilities |\n|---|---|---|\n");
        for declared in DECLARED {
            let capabilities: Vec<String> = declared
                .capabilities
                .iter()
                .map(|c| format!("`{c}`"))
                .collect();
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                declared.name,
                declared.summary,
                if capabilities.is_empty() {
                    "-".to_string()
                } else {
                    capabilities.join(", ")
                }
            ));
        }
        table
    }

    #[test]
    fn every_member_has_its_page_in_docs_executors() {
        let folders: BTreeSet<&str> = DECLARED.iter().map(|d| d.folder).collect();
        let pages: BTreeSet<String> = std::fs::read_dir(repository().join("docs/executors"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "md"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        let pages: BTreeSet<&str> = pages.iter().map(String::as_str).collect();
        assert_eq!(
            folders, pages,
            "docs/executors/ must hold one page per executors-wasm member, named after its folder"
        );
    }

    #[test]
    fn the_architecture_doc_lists_exactly_the_built_ins() {
        let path = repository().join("docs/architecture.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (start, end) = ("<!-- built-ins -->\n", "<!-- /built-ins -->");
        let listed = doc
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(table, _)| table)
            .unwrap_or_else(|| panic!("{} has no {start:?} … {end:?} markers", path.display()));
        let expected = markdown_table();
        assert!(
            listed == expected,
            "{}: the built-ins' table is not the executors-wasm workspace's; put this \
             between the markers:\n{expected}",
            path.display()
        );
    }

    #[test]
    fn built_ins_this_build_leaves_out_need_a_capability_it_leaves_out() {
        for declared in DECLARED {
            let offered = built_in(declared.name).is_some();
            let needs_left_out = declared
                .capabilities
                .iter()
                .any(|c| capabilities::LEFT_OUT.contains(c));
            assert_eq!(offered, !needs_left_out, "{}", declared.name);
            assert_eq!(left_out(declared.name).is_some(), needs_left_out);
        }
    }

    #[test]
    fn every_built_in_loads_and_needs_what_it_imports() {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        for built_in in BUILT_INS {
            let loaded = runtime
                .load_blocking(built_in.wasm)
                .unwrap_or_else(|e| panic!("the built-in {} does not load: {e}", built_in.name));
            assert_eq!(
                capabilities::requested(&loaded.imports),
                built_in.capabilities,
                "{}: `capabilities` in its [package.metadata.sandcron] is not what it imports",
                built_in.name
            );
        }
    }
}
