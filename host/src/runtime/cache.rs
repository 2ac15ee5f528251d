//! Components compiled once: kept in memory by the SHA-256 of their bytes, and precompiled
//! on disk so that a restart does not compile again.
//!
//! Only artifacts this process wrote are ever loaded from disk: the file name carries the
//! SHA-256 of the source bytes and the engine's compatibility hash, the directory is the
//! operator's own, and nothing else reads a precompiled artifact. An artifact that fails
//! to load is deleted and the component compiled again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A compiled component and its identity.
pub struct Compiled {
    /// SHA-256 of the component's bytes, lower-case hex.
    pub sha256: String,
    /// The compiled component.
    pub component: Component,
}

/// The compiled-component cache of one engine.
pub struct ComponentCache {
    engine: Engine,
    dir: Option<PathBuf>,
    engine_hash: String,
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

impl ComponentCache {
    /// A cache for `engine`, keeping precompiled artifacts in `dir` when given.
    pub fn new(engine: Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());
        Self {
            engine,
            dir,
            engine_hash,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled form of `wasm`, from memory, from disk, or compiled now. Blocking: call
    /// it off the async threads.
    pub fn get_or_compile(&self, wasm: &[u8]) -> anyhow::Result<Arc<Compiled>> {
        let sha256 = hex::encode(Sha256::digest(wasm));
        if let Some(compiled) = self.lock().get(&sha256) {
            return Ok(compiled.clone());
        }
        let component = match self.artifact_path(&sha256) {
            Some(path) => self.load_or_compile(wasm, &path)?,
            None => Component::new(&self.engine, wasm)?,
        };
        let compiled = Arc::new(Compiled { sha256, component });
        self.lock()
            .insert(compiled.sha256.clone(), compiled.clone());
        Ok(compiled)
    }

    fn load_or_compile(&self, wasm: &[u8], path: &Path) -> anyhow::Result<Component> {
        if path.exists() {
            // SAFETY: the artifact was written by `write_artifact` below for this engine
            // configuration (its name carries the engine's compatibility hash), in the
            // operator's cache directory; nothing from outside is ever deserialized.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "discarding a precompiled artifact");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let component = Component::new(&self.engine, wasm)?;
        if let Err(error) = write_artifact(path, &component.serialize()?) {
            tracing::warn!(path = %path.display(), %error, "could not keep the precompiled artifact");
        }
        Ok(component)
    }

    fn artifact_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{}.cwasm", self.engine_hash)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Compiled>>> {
        self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes atomically: a temporary file renamed into place, so a crash leaves no half file.
fn write_artifact(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("artifact paths have a directory");
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
