//! Components compiled once: kept in memory by the SHA-256 of their bytes, and precompiled
//! on disk so that a restart does not compile again. Both are bounded in bytes; past the
//! bound, the least recently used go first.
//!
//! Compiling and keeping are two steps, so that only what is accepted is kept: a component
//! is compiled (or found compiled), checked by the caller (an upload against the executor
//! world, then stored), and only then kept ([`ComponentCache::keep`]). A refused upload
//! leaves nothing behind, in memory or on disk.
//!
//! Only artifacts this process wrote are ever loaded from disk: the file name carries the
//! SHA-256 of the source bytes and the engine's compatibility hash, the directory is the
//! operator's own (created `0700`, files `0600`), and nothing else reads a precompiled
//! artifact. An artifact that fails to load is deleted and the component compiled again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::Executable;

/// The default bound of the compiled components kept, in memory and on disk each: 1 GiB.
pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

/// The file name suffix of precompiled artifacts.
const ARTIFACT_SUFFIX: &str = ".cwasm";

/// The compiled-component cache of one engine.
pub struct ComponentCache {
    engine: Engine,
    dir: Option<PathBuf>,
    engine_hash: String,
    max_bytes: u64,
    memory: Mutex<Memory>,
}

/// The components kept in memory, with the order they were last used in.
#[derive(Default)]
struct Memory {
    entries: HashMap<String, Kept>,
    bytes: u64,
    clock: u64,
}

struct Kept {
    executable: Arc<Executable>,
    bytes: u64,
    used: u64,
}

impl ComponentCache {
    /// A cache for `engine`, keeping at most `max_bytes` of compiled code in memory and as
    /// much of precompiled artifacts in `dir`, when given.
    pub fn new(engine: Engine, dir: Option<PathBuf>, max_bytes: u64) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());
        Self {
            engine,
            dir,
            engine_hash,
            max_bytes,
            memory: Mutex::default(),
        }
    }

    /// The component kept in memory under `sha256`, marked as just used.
    pub fn lookup(&self, sha256: &str) -> Option<Arc<Executable>> {
        let mut memory = self.lock();
        memory.clock += 1;
        let now = memory.clock;
        let kept = memory.entries.get_mut(sha256)?;
        kept.used = now;
        Some(kept.executable.clone())
    }

    /// The precompiled artifact kept on disk for `sha256`, loaded, if there is one. Keeps
    /// nothing. Blocking: call it off the async threads.
    pub fn precompiled(&self, sha256: &str) -> Option<Component> {
        let path = self.artifact_path(sha256)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the artifact was written by `keep` below for this engine configuration
        // (its name carries the engine's compatibility hash), in the operator's cache
        // directory; nothing from outside is ever deserialized.
        match unsafe { Component::deserialize_file(&self.engine, &path) } {
            Ok(component) => {
                touch(&path);
                Some(component)
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "discarding a precompiled artifact");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps an accepted component: in memory, and precompiled on disk when there is a
    /// directory; then evicts the least recently used beyond the bound.
    pub fn keep(&self, executable: Arc<Executable>) {
        let range = executable.component.image_range();
        let bytes = (range.end as usize).saturating_sub(range.start as usize) as u64;
        let sha256 = executable.sha256.clone();
        if let Some(path) = self.artifact_path(&sha256)
            && !path.exists()
        {
            let written = executable
                .component
                .serialize()
                .and_then(|artifact| Ok(write_artifact(&path, &artifact)?));
            if let Err(error) = written {
                tracing::warn!(path = %path.display(), %error, "could not keep the precompiled artifact");
            }
            if let Some(dir) = &self.dir {
                evict_artifacts(dir, self.max_bytes, &path);
            }
        }
        let mut memory = self.lock();
        memory.clock += 1;
        let used = memory.clock;
        if let Some(previous) = memory.entries.insert(
            sha256.clone(),
            Kept {
                executable,
                bytes,
                used,
            },
        ) {
            memory.bytes -= previous.bytes;
        }
        memory.bytes += bytes;
        while memory.bytes > self.max_bytes && memory.entries.len() > 1 {
            let oldest = memory
                .entries
                .iter()
                .filter(|(key, _)| **key != sha256)
                .min_by_key(|(_, kept)| kept.used)
                .map(|(key, _)| key.clone());
            let Some(oldest) = oldest else { break };
            if let Some(evicted) = memory.entries.remove(&oldest) {
                memory.bytes -= evicted.bytes;
            }
        }
    }

    /// How many components are kept in memory, and their compiled bytes.
    pub fn kept_in_memory(&self) -> (usize, u64) {
        let memory = self.lock();
        (memory.entries.len(), memory.bytes)
    }

    fn artifact_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{}{ARTIFACT_SUFFIX}", self.engine_hash)))
    }

    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Marks an artifact as just used: its access time, set explicitly (whatever the mount's
/// `atime` options), orders the eviction; its modification time stays when it was written.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.set_times(std::fs::FileTimes::new().set_accessed(SystemTime::now()));
    }
}

/// Deletes the least recently used artifacts in `dir` until they take at most `max_bytes`,
/// never `keep` (the one just written).
fn evict_artifacts(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut artifacts: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .ends_with(ARTIFACT_SUFFIX)
        })
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((metadata.accessed().ok()?, metadata.len(), entry.path()))
        })
        .collect();
    let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
    artifacts.sort();
    for (_, len, path) in artifacts {
        if total <= max_bytes {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

/// Writes atomically: a temporary file renamed into place, so a crash leaves no half file;
/// the directory is created `0700` and the file `0600`.
fn write_artifact(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("artifact paths have a directory");
    crate::private_files::create_dir(dir)?;
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    crate::private_files::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
