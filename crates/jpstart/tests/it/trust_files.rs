//! Issue 12, finding 6 (SPEC §11): the SQLite database, its WAL and SHM
//! files and backups are readable by the server's user only (0600), whatever
//! the umask. SQLite only: PostgreSQL keeps its own files.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn db_path(db: &Db) -> PathBuf {
    PathBuf::from(db.url.strip_prefix("sqlite://").unwrap())
}

/// The database, `-wal` and `-shm` (which SQLite keeps while a connection is open).
fn sqlite_files(db: &Db) -> Vec<PathBuf> {
    let path = db_path(db);
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", path.display())))
        .collect()
}

fn assert_private(files: &[PathBuf]) {
    for f in files {
        assert_eq!(mode(f), 0o600, "{} is {:04o}", f.display(), mode(f));
    }
}

/// A write through the server: a token row and a provisioned site.
async fn write_something(app: &TestApp, partner: &str) {
    let p = app.partner(partner).await;
    let siteurl = format!(
        "https://{}.example",
        partner.replace(' ', "-").to_lowercase()
    );
    let (status, body) = app
        .provision(
            &p.token,
            &[
                ("siteurl", siteurl.as_str()),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_is_private_whatever_the_umask() {
    let db = Db::sqlite();
    let app = TestApp::spawn_with(db.share(), Opts::default().shell("umask 022")).await;
    write_something(&app, "Partner 1").await;
    // The server still holds its connections: WAL and SHM exist.
    assert_private(&sqlite_files(&db));
    // The key generated beside the database (positive control: was already 0600).
    assert_private(&[PathBuf::from(format!("{}.key", db_path(&db).display()))]);
    // A backup written under the same umask, while the server runs.
    let (file, _) = db.sibling("copy.db").unwrap();
    let out = admin_in_shell("umask 022", &db.url, &["backup", file.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(out["database"], file.to_str().unwrap(), "{out}");
    assert_private(&[
        file.clone(),
        PathBuf::from(format!("{}.key", file.display())),
    ]);
    // The server keeps working (positive control).
    write_something(&app, "Partner 2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_command_creating_the_database_makes_it_private() {
    let db = Db::sqlite();
    admin_in_shell(
        "umask 000",
        &db.url,
        &["partner", "create", "--name", "First"],
    )
    .await
    .unwrap();
    assert_private(&sqlite_files(&db)[..1]);
    for f in &sqlite_files(&db)[1..] {
        if f.exists() {
            assert_private(std::slice::from_ref(f));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_left_world_readable_is_made_private_on_start() {
    let db = Db::sqlite();
    let app = TestApp::spawn_with(db.share(), Opts::default().shell("umask 022")).await;
    write_something(&app, "Partner 3").await;
    // As an older release (or a careless copy) left them.
    for f in sqlite_files(&db) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    app.kill9().await;
    let app = TestApp::spawn_with(db.share(), Opts::default().shell("umask 022")).await;
    write_something(&app, "Partner 4").await;
    assert_private(&sqlite_files(&db));
}
