//! The `files` processor: the output in a file per execution, `<log_dir>/<key>.log` with
//! Dkron's key `<started_at in Unix nanoseconds>-<node>` (mode 0644), on the node that ran
//! it. Without `forward`, the stored output becomes the file's path (as in Dkron).
//!
//! Files go under the server's directory (`serve --processor-files-dir`), never elsewhere:
//! a relative `log_dir` is read from it, an absolute one must lie inside it (so Dkron's
//! `"log_dir": "/var/log/mydir"` works under `--processor-files-dir /var/log`). Another
//! tenant than the operator's is kept to `<dir>/tenants/<tenant>/`.

use std::path::{Component, Path, PathBuf};

use super::{Ended, dkron_key};
use crate::after_run::AfterRunConfig;
use crate::jobs::processors::ProcessorStep;

/// Writes the file; gives its path.
pub async fn write(
    config: &AfterRunConfig,
    ended: &Ended,
    step: &ProcessorStep,
    output: &[u8],
) -> Result<String, String> {
    let root = config
        .files_dir
        .as_deref()
        .ok_or("this server keeps no processor files: start it with --processor-files-dir DIR")?;
    let base = if ended.operators {
        root.to_path_buf()
    } else {
        root.join("tenants").join(&ended.tenant_name)
    };
    let dir = directory(&base, step.config.get("log_dir").map(String::as_str))?;
    let path = dir.join(format!("{}.log", dkron_key(ended)));
    let bytes = output.to_vec();
    let written = path.clone();
    tokio::task::spawn_blocking(move || write_file(&written, &bytes))
        .await
        .map_err(|e| format!("writing {} failed: {e}", path.display()))?
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// The directory `log_dir` names under `base`: `base` itself when not given.
fn directory(base: &Path, log_dir: Option<&str>) -> Result<PathBuf, String> {
    let Some(log_dir) = log_dir.filter(|dir| !dir.is_empty()) else {
        return Ok(base.to_path_buf());
    };
    let given = Path::new(log_dir);
    if given
        .components()
        .any(|part| matches!(part, Component::ParentDir))
    {
        return Err(format!("log_dir {log_dir:?} may not contain \"..\""));
    }
    let relative = if given.is_absolute() {
        given.strip_prefix(base).map_err(|_| {
            format!(
                "log_dir {log_dir:?} is outside this server's processor files directory {}",
                base.display()
            )
        })?
    } else {
        given
    };
    Ok(base.join(relative))
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_dir_stays_inside_the_server_s_directory() {
        let base = Path::new("/var/log");
        assert_eq!(directory(base, None).unwrap(), base);
        assert_eq!(
            directory(base, Some("/var/log/mydir")).unwrap(),
            Path::new("/var/log/mydir")
        );
        assert_eq!(
            directory(base, Some("out")).unwrap(),
            Path::new("/var/log/out")
        );
        assert!(directory(base, Some("/etc")).is_err());
        assert!(directory(base, Some("../etc")).is_err());
        assert!(directory(base, Some("/var/log/../../etc")).is_err());
    }
}
