//! The files of an SQLite database are readable by the server's user only
//! (SPEC §11): they hold partner names, site URLs, token and secret
//! digests and sealed credentials.
//!
//! Why the database file is created here, 0600, before SQLite opens it,
//! rather than by narrowing the process umask:
//! - SQLite creates `-wal`, `-shm` and `-journal` with the mode of the
//!   database file itself, whatever the umask (its unix VFS `fchmod`s a new
//!   companion file to the database's mode), so one private database file
//!   makes every companion private;
//! - a umask is process-wide state: setting it needs `unsafe` (forbidden in
//!   this workspace) or a new dependency, races with threads already running
//!   (the runtime is up before the store opens), and would change the mode
//!   of every other file the process writes;
//! - files left wider by an older release (or a careless copy) are
//!   tightened here at every start, which no umask would do.
//!
//! Backups (`admin backup`) are pre-created 0600 the same way, in
//! [`crate::admin`], before `VACUUM INTO` fills them.

use std::path::{Path, PathBuf};

use super::StoreError;

/// Creates the database file of `sqlite://PATH` 0600 if it is not there,
/// and narrows it and its `-wal`/`-shm` to 0600 if they are wider. Nothing
/// for an in-memory or read-only database.
pub fn make_private(database_url: &str) -> Result<(), StoreError> {
    let Some(path) = database_file(database_url) else {
        return Ok(());
    };
    let err = |p: &Path, e: std::io::Error| {
        StoreError::Config(format!("cannot make {} private: {e}", p.display()))
    };
    create_private(&path).map_err(|e| err(&path, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let file = PathBuf::from(name);
        narrow(&file).map_err(|e| err(&file, e))?;
    }
    Ok(())
}

/// The file `sqlite://PATH` / `sqlite:PATH` names, unless SQLite is not to
/// create or write it (`:memory:`, `mode=memory`, `mode=ro`).
pub(super) fn database_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let read_only_or_memory = query
        .split('&')
        .any(|kv| matches!(kv, "mode=ro" | "mode=memory"));
    if path.is_empty() || path == ":memory:" || read_only_or_memory {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        // An empty file is a valid new database for SQLite.
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn narrow(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        tracing::warn!(path = %path.display(), was = format!("{:04o}", mode & 0o7777), "narrowed to owner-only permissions");
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_and_narrows() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        make_private(&url).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.path().join("x.db-wal");
        std::fs::write(&wal, b"x").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        make_private(&url).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }

    #[test]
    fn leaves_memory_and_read_only_databases_alone() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
            "sqlite://nowhere/x.db?mode=ro",
            "postgres://h/d",
        ] {
            assert_eq!(database_file(url), None, "{url}");
            make_private(url).unwrap();
        }
        assert_eq!(
            database_file("sqlite:///var/lib/jp.db"),
            Some(PathBuf::from("/var/lib/jp.db"))
        );
        assert_eq!(database_file("sqlite:jp.db"), Some(PathBuf::from("jp.db")));
    }
}
