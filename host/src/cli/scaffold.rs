//! Executor projects: `sandcron executor new NAME --lang rust|python|js` writes one from
//! the templates embedded in this binary, and `sandcron executor build` builds the one in
//! a directory with its language's tool.
//!
//! The templates are the repository's own files (`sdk/template/`, `sdk-python/template/`
//! with the `sandcron_sdk` package, `sdk-js/template/` with the `@sandcron/sdk` package, and
//! `wit/`), embedded with `include_str!`; a unit test checks that the lists below name
//! every file of those folders. A Python or JavaScript project carries a copy of its SDK
//! and of the WIT contract, so it builds offline; a Rust project depends on the
//! `sandcron-sdk` crate, taken from the checkout this binary was built from when there is
//! one (`[patch.crates-io]`).
//!
//! | language | build command                                          | component            |
//! |----------|--------------------------------------------------------|----------------------|
//! | rust     | `cargo build --target wasm32-wasip2 --release`         | `target/wasm32-wasip2/release/NAME.wasm` |
//! | python   | `componentize-py -d wit -w sandcron:executor/portable-executor componentize app -p . -o executor.wasm` | `executor.wasm` |
//! | js       | `npm run build` (componentize-js)                      | `executor.wasm`      |

use std::path::{Path, PathBuf};
use std::process::Command;

use super::CliError;

/// The languages an executor project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the `sandcron-sdk` crate (cargo, target wasm32-wasip2).
    Rust,
    /// Python, with the `sandcron_sdk` package (componentize-py).
    Python,
    /// JavaScript, with the `@sandcron/sdk` package (componentize-js).
    Js,
}

/// One embedded file: where it sits in the repository, and its text.
struct Embedded {
    source: &'static str,
    text: &'static str,
}

/// A [`Folder`] of the repository, each of the files named embedded (paths relative to it).
macro_rules! folder {
    ($folder:literal into $into:literal: $($file:literal),* $(,)?) => {
        Folder {
            path: $folder,
            into: $into,
            files: &[$(Embedded {
                source: $file,
                text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $folder, "/", $file)),
            }),*],
        }
    };
}

/// A repository folder whose files go, under `into`, into a new project.
struct Folder {
    /// The folder in the repository (read by the test that checks the lists).
    #[cfg_attr(not(test), allow(dead_code))]
    path: &'static str,
    into: &'static str,
    files: &'static [Embedded],
}

const RUST_TEMPLATE: Folder = folder!("sdk/template" into "":
    ".gitignore", "Cargo.toml", "rust-toolchain.toml", "src/lib.rs",
);

const PYTHON_TEMPLATE: Folder =
    folder!("sdk-python/template" into "": ".gitignore", "app.py", "requirements.txt");

const PYTHON_SDK: Folder = folder!("sdk-python/sandcron_sdk" into "sandcron_sdk":
    "__init__.py", "config.py", "execution.py", "failure.py", "http.py", "output.py",
    "process.py", "secrets.py",
);

const JS_TEMPLATE: Folder =
    folder!("sdk-js/template" into "": ".gitignore", "index.js", "package.json");

const JS_SDK: Folder = folder!("sdk-js" into "sandcron-sdk":
    "package.json", "src/config.js", "src/execution.js", "src/failure.js", "src/http.js",
    "src/index.d.ts", "src/index.js", "src/output.js", "src/process.js", "src/secrets.js",
    "src/wit.js",
);

/// The contract, copied into Python and JavaScript projects, whose build tools read it.
const WIT: Folder = folder!("wit" into "wit":
    "amqp.wit", "docker.wit", "executor.wit", "grpc.wit", "http-cleanup.wit", "kafka.wit",
    "nats.wit", "processor.wit", "deps/cli/cli.wit", "deps/clocks/clocks.wit",
    "deps/filesystem/filesystem.wit", "deps/http/http.wit", "deps/io/io.wit",
    "deps/random/random.wit", "deps/sockets/sockets.wit",
);

/// The name the templates carry, replaced by the project's.
const TEMPLATE_NAME: &str = "my-executor";

/// The component a Python or JavaScript build writes, in the project's folder.
const SCRIPT_ARTIFACT: &str = "executor.wasm";

/// The world Python and JavaScript projects build for (`wit/executor.wit`): `executor`'s
/// run, with only the imports their SDKs call and every build of Sandcron serves.
const WORLD: &str = "sandcron:executor/portable-executor";

impl Lang {
    fn folders(self) -> &'static [Folder] {
        match self {
            Lang::Rust => &[RUST_TEMPLATE],
            Lang::Python => &[PYTHON_TEMPLATE, PYTHON_SDK, WIT],
            Lang::Js => &[JS_TEMPLATE, JS_SDK, WIT],
        }
    }

    /// The command that builds a project of this language, as the user would type it.
    fn build_command(self) -> String {
        match self {
            Lang::Rust => "cargo build --target wasm32-wasip2 --release".to_string(),
            Lang::Python => format!(
                "componentize-py -d wit -w {WORLD} componentize app -p . -o {SCRIPT_ARTIFACT}"
            ),
            Lang::Js => "npm run build".to_string(),
        }
    }
}

/// Writes a new project called `name` in the new directory `dir`. `sdk_checkout` is the
/// Rust SDK's folder in a Sandcron checkout, for a Rust project to build against.
pub fn new_project(
    dir: &Path,
    name: &str,
    lang: Lang,
    sdk_checkout: Option<&Path>,
) -> Result<(), CliError> {
    crate::jobs::check_name(name).map_err(|e| {
        CliError::Usage(format!(
            "{name:?} is not a valid executor name: {}",
            e.message
        ))
    })?;
    if dir.exists() {
        return Err(CliError::Usage(format!(
            "{} already exists; choose another name or remove it",
            dir.display()
        )));
    }
    for folder in lang.folders() {
        for file in folder.files {
            let path = dir.join(folder.into).join(file.source);
            let text = personalize(file.source, file.text, name, sdk_checkout);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
            }
            std::fs::write(&path, text).map_err(|e| write_error(&path, e))?;
        }
    }
    Ok(())
}

fn write_error(path: &Path, error: std::io::Error) -> CliError {
    CliError::Error(format!("cannot write {}: {error}", path.display()))
}

/// A template file made the project's: its name in place of the template's, and a Rust
/// project's SDK taken from `sdk_checkout` (or the registry when there is none).
fn personalize(source: &str, text: &str, name: &str, sdk_checkout: Option<&Path>) -> String {
    let text = text
        .replace(TEMPLATE_NAME, name)
        .replace(&TEMPLATE_NAME.replace('-', "_"), &name.replace('-', "_"));
    if source != "Cargo.toml" {
        return text;
    }
    const PATCH: &str = "sandcron-sdk = { path = \"..\" }";
    match sdk_checkout {
        Some(sdk) => text.replace(
            PATCH,
            &format!(
                "sandcron-sdk = {{ path = {:?} }}",
                sdk.display().to_string()
            ),
        ),
        // No checkout: the crate comes from the registry; drop the patch and its comment.
        None => match text.find("\n# The SDK from a Sandcron checkout") {
            Some(start) => {
                let end = text[start..]
                    .find(PATCH)
                    .map_or(text.len(), |at| start + at + PATCH.len());
                format!("{}{}", &text[..start], &text[end..])
            }
            None => text,
        },
    }
}

/// The Rust SDK's folder in the checkout this binary was built from, if it is still there.
pub fn sdk_checkout() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("sdk");
    sdk.join("Cargo.toml").is_file().then_some(sdk)
}

/// An executor project on disk.
#[derive(Debug)]
pub struct Project {
    /// Its folder.
    pub dir: PathBuf,
    /// Its language, told by the files it has.
    pub lang: Lang,
    /// Its name: the package's (Rust, JavaScript) or the folder's (Python).
    pub name: String,
}

impl Project {
    /// The project in `dir`: a `Cargo.toml` is Rust, a `package.json` JavaScript, an
    /// `app.py` Python.
    pub fn find(dir: &Path) -> Result<Self, CliError> {
        let dir = dir.canonicalize().map_err(|e| {
            CliError::Usage(format!("cannot open the folder {}: {e}", dir.display()))
        })?;
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
        let (lang, name) = if let Some(manifest) = read("Cargo.toml") {
            (Lang::Rust, toml_package_name(&manifest))
        } else if let Some(manifest) = read("package.json") {
            let name = serde_json::from_str::<serde_json::Value>(&manifest)
                .ok()
                .and_then(|json| json["name"].as_str().map(str::to_string));
            (Lang::Js, name)
        } else if dir.join("app.py").is_file() {
            (Lang::Python, None)
        } else {
            return Err(CliError::Usage(format!(
                "{} is not an executor project (no Cargo.toml, package.json or app.py); \
                 make one with `sandcron executor new NAME --lang rust|python|js`",
                dir.display()
            )));
        };
        let name = name
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "executor".to_string());
        Ok(Self { dir, lang, name })
    }

    /// Where the built component is.
    pub fn artifact(&self) -> PathBuf {
        match self.lang {
            Lang::Rust => {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| self.dir.join("target"));
                target
                    .join("wasm32-wasip2/release")
                    .join(format!("{}.wasm", self.name.replace('-', "_")))
            }
            Lang::Python | Lang::Js => self.dir.join(SCRIPT_ARTIFACT),
        }
    }

    /// Builds the component with the language's tool, its output passed through, and
    /// returns where it is.
    pub fn build(&self) -> Result<PathBuf, CliError> {
        let mut command = match self.lang {
            Lang::Rust => {
                let mut command = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
                command.args(["build", "--target", "wasm32-wasip2", "--release"]);
                command
            }
            Lang::Python => {
                let mut command = Command::new(self.tool(
                    "componentize-py",
                    &[".venv/bin/componentize-py"],
                    "pip install -r requirements.txt (in a virtual environment)",
                )?);
                command
                    .args(["-d", "wit", "-w", WORLD, "componentize", "app", "-p", "."])
                    .args(["-o", SCRIPT_ARTIFACT])
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
            Lang::Js => {
                self.tool(
                    "componentize-js",
                    &["node_modules/.bin/componentize-js"],
                    "npm install",
                )?;
                let mut command = Command::new("npm");
                command.args(["run", "--silent", "build"]);
                command
            }
        };
        eprintln!("sandcron: building with `{}`", self.lang.build_command());
        let status = command
            .current_dir(&self.dir)
            .status()
            .map_err(|e| CliError::Error(format!("cannot run the build: {e}")))?;
        if !status.success() {
            return Err(CliError::Error(format!(
                "the build failed ({status}): `{}` in {}",
                self.lang.build_command(),
                self.dir.display()
            )));
        }
        let artifact = self.artifact();
        if !artifact.is_file() {
            return Err(CliError::Error(format!(
                "the build succeeded but wrote no {}",
                artifact.display()
            )));
        }
        Ok(artifact)
    }

    /// A build tool: one of the project's own `local` copies, else `program` on `PATH`;
    /// an error saying how to install it otherwise.
    fn tool(&self, program: &str, local: &[&str], install: &str) -> Result<PathBuf, CliError> {
        if let Some(path) = local.iter().map(|l| self.dir.join(l)).find(|p| p.is_file()) {
            return Ok(path);
        }
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file());
        on_path.ok_or_else(|| {
            CliError::Error(format!(
                "{program} is not installed: run `{install}` in {}",
                self.dir.display()
            ))
        })
    }
}

/// `name = "…"` of a Cargo manifest's `[package]`.
fn toml_package_name(manifest: &str) -> Option<String> {
    let package = manifest.split("[package]").nth(1)?;
    let section = package.split("\n[").next()?;
    section.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files of a folder that a template never carries: build output and tools' caches.
    fn is_build_output(path: &Path) -> bool {
        path.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("target" | "node_modules" | "__pycache__" | "package-lock.json")
            )
        }) || path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "lock")
    }

    fn files_under(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap();
            if is_build_output(relative) {
                continue;
            }
            if path.is_dir() {
                files_under(root, &path, found);
            } else {
                found.push(relative.display().to_string());
            }
        }
    }

    #[test]
    fn every_file_of_the_template_folders_is_embedded() {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for folder in [
            RUST_TEMPLATE,
            PYTHON_TEMPLATE,
            PYTHON_SDK,
            JS_TEMPLATE,
            JS_SDK,
            WIT,
        ] {
            let root = repository.join(folder.path);
            let mut on_disk = Vec::new();
            files_under(&root, &root, &mut on_disk);
            // The JS SDK's folder also holds its template, embedded on its own.
            on_disk.retain(|file| !(folder.path == "sdk-js" && file.starts_with("template/")));
            on_disk.sort();
            let mut embedded: Vec<String> = folder.files.iter().map(|f| f.source.into()).collect();
            embedded.sort();
            assert_eq!(embedded, on_disk, "the files embedded from {}", folder.path);
        }
    }

    #[test]
    fn a_rust_project_builds_against_the_checkout_or_the_registry() {
        let manifest = RUST_TEMPLATE
            .files
            .iter()
            .find(|file| file.source == "Cargo.toml")
            .unwrap()
            .text;
        let with_checkout = personalize(
            "Cargo.toml",
            manifest,
            "nightly-backup",
            Some(Path::new("/src/sandcron/sdk")),
        );
        assert!(with_checkout.contains("name = \"nightly-backup\""));
        assert!(with_checkout.contains("sandcron-sdk = { path = \"/src/sandcron/sdk\" }"));
        assert!(with_checkout.contains("nightly_backup.wasm"));

        let from_registry = personalize("Cargo.toml", manifest, "nightly-backup", None);
        assert!(from_registry.contains("sandcron-sdk = \"0.1\""));
        assert!(
            !from_registry.contains("[patch.crates-io]"),
            "{from_registry}"
        );
        assert!(!from_registry.contains("path ="), "{from_registry}");
        assert_eq!(
            toml_package_name(&from_registry).as_deref(),
            Some("nightly-backup")
        );
    }

    #[test]
    fn a_new_project_is_written_and_found_again() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("hello-py");
        new_project(&dir, "hello-py", Lang::Python, None).unwrap();
        assert!(dir.join("app.py").is_file());
        assert!(dir.join("sandcron_sdk/__init__.py").is_file());
        assert!(dir.join("wit/deps/http/http.wit").is_file());
        let project = Project::find(&dir).unwrap();
        assert_eq!(
            (project.lang, project.name.as_str()),
            (Lang::Python, "hello-py")
        );

        let error = new_project(&dir, "hello-py", Lang::Python, None).unwrap_err();
        assert!(matches!(error, CliError::Usage(text) if text.contains("already exists")));
        let error = new_project(&parent.path().join("x"), "Bad Name", Lang::Js, None).unwrap_err();
        assert!(
            matches!(error, CliError::Usage(text) if text.contains("not a valid executor name"))
        );
    }
}
