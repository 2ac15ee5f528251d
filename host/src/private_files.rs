//! Files and directories only the server's user can read: every data file Sandcron
//! writes (the SQLite database and its `-wal` and `-shm` files, the admin token, the
//! secrets key, precompiled components) is `0600`, and every directory it creates `0700`,
//! whatever the process's umask.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of a data file: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a directory Sandcron creates: the owner only.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and its missing parents, each `0700`; a directory that exists is left
/// as it is.
pub fn create_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Writes `bytes` to `path`, created or truncated, `0600` (an existing file is made
/// `0600` first).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(bytes)
}

/// Creates `path` empty and `0600` if it does not exist, and makes it `0600` if it does:
/// so that a program that creates it later (SQLite) finds it private, and one that
/// creates files next to it with the same mode (SQLite's `-wal` and `-shm`) makes them
/// private too. An existing file is never opened, only changed by path: closing a
/// descriptor of a SQLite database would drop the POSIX locks SQLite holds on it in this
/// process.
pub fn create_or_restrict(path: &Path) -> std::io::Result<()> {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
        }
        Err(error) => Err(error),
    }
}

/// Makes `path` `0600` when it exists.
pub fn restrict_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE)) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), DIR_MODE);
        assert_eq!(mode(&dir), DIR_MODE);

        let file = dir.join("token");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(std::fs::read(&file).unwrap(), b"new");

        let db = dir.join("db");
        create_or_restrict(&db).unwrap();
        assert_eq!(mode(&db), FILE_MODE);
        std::fs::write(&db, "data").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_or_restrict(&db).unwrap();
        assert_eq!(mode(&db), FILE_MODE);
        assert_eq!(std::fs::read(&db).unwrap(), b"data", "nothing is truncated");

        restrict_if_present(&dir.join("absent")).unwrap();
    }
}
