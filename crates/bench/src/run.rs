//! The benchmark sequence: floors, the scenario matrix per backend, and the
//! scaling runs, each on a fresh database and a freshly started server.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::Method;

use crate::load::{self, Kind, Plan};
use crate::report::{BackendReport, Floor, Machine, Report, Row, ScaleRow};
use crate::request_log;
use crate::seed::{self, Backend, CANCEL_PREFIX, STATUS_PREFIX};
use crate::server::{self, Credentials, Server};
use crate::{Args, Settings};

pub async fn all(args: &Args, settings: &Settings) -> Result<Report, String> {
    let started = Instant::now();
    let machine = Machine::probe(&args.jpstart);
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("jpstart-bench-")
        .tempdir_in(&base)
        .map_err(|e| {
            format!(
                "cannot make a temporary directory in {}: {e}",
                base.display()
            )
        })?;
    let mut backends = Vec::new();
    if !args.no_sqlite {
        let floor_db = dir.path().join("floor.db");
        progress("SQLite: insert floor");
        let floor = seed::sqlite_insert_floor(&floor_db, settings.duration)
            .await
            .map_err(|e| format!("SQLite insert floor: {e}"))?;
        let url = format!("sqlite://{}", dir.path().join("matrix.db").display());
        let mut report = matrix(
            args,
            settings,
            Backend::Sqlite,
            &url,
            Floor::new(&floor, None),
            dir.path(),
        )
        .await?;
        progress("SQLite: insert floor again");
        let after = seed::sqlite_insert_floor(&floor_db, settings.duration)
            .await
            .map_err(|e| format!("SQLite insert floor: {e}"))?;
        report.insert_floor = Floor::new(&floor, Some(&after));
        backends.push(report);
    }
    if let Some(admin_url) = &args.postgres_url {
        let name = format!("jpstart_bench_{}", std::process::id());
        let url = seed::create_postgres_database(admin_url, &name)
            .await
            .map_err(|e| format!("PostgreSQL: cannot create database {name}: {e}"))?;
        let result = async {
            progress("PostgreSQL: insert floor");
            let floor = seed::postgres_insert_floor(&url, settings.duration)
                .await
                .map_err(|e| format!("PostgreSQL insert floor: {e}"))?;
            let mut report = matrix(
                args,
                settings,
                Backend::Postgres,
                &url,
                Floor::new(&floor, None),
                dir.path(),
            )
            .await?;
            progress("PostgreSQL: insert floor again");
            let after = seed::postgres_insert_floor(&url, settings.duration)
                .await
                .map_err(|e| format!("PostgreSQL insert floor: {e}"))?;
            report.insert_floor = Floor::new(&floor, Some(&after));
            Ok::<_, String>(report)
        }
        .await;
        if let Err(e) = seed::drop_postgres_database(admin_url, &name).await {
            eprintln!("jpstart-bench: could not drop database {name}: {e}");
        }
        backends.push(result?);
    }
    let webhooks = if args.no_webhooks || !settings.scenarios.contains(&Kind::Provision) {
        None
    } else {
        Some(crate::webhooks::compare(args, settings, dir.path()).await?)
    };
    let request_log = if args.no_request_log_cost || request_log::kinds(settings).is_empty() {
        None
    } else {
        Some(request_log::run(args, settings, dir.path()).await?)
    };
    let mut scaling = Vec::new();
    for &size in &settings.scales {
        scaling.push(scale(args, settings, size, dir.path()).await?);
    }
    Ok(Report {
        machine,
        settings: settings.clone(),
        backends,
        scaling,
        webhooks,
        request_log,
        elapsed: started.elapsed(),
        load_after: crate::report::loadavg(),
    })
}

pub fn progress(what: &str) {
    eprintln!("jpstart-bench: {what}");
}

async fn matrix(
    args: &Args,
    settings: &Settings,
    backend: Backend,
    url: &str,
    insert_floor: Floor,
    dir: &Path,
) -> Result<BackendReport, String> {
    let creds = server::create_partner(&args.jpstart, url).await?;
    // Enough activations for every cancel the windows could ask for. The
    // insert floor is one writer; concurrent commits can go faster (the
    // database may sync several at once), hence the minimum rate.
    let cancel_secs =
        (settings.duration + settings.warmup).as_secs_f64() * settings.connections.len() as f64;
    let cancel_pool = (insert_floor.rate.max(3000.0) * cancel_secs * 1.5) as u64 + 1000;
    progress(&format!(
        "{}: seeding {} sites for status, {cancel_pool} for cancel",
        backend.name(),
        settings.status_sites
    ));
    seed::seed(
        backend,
        url,
        creds.key_id,
        STATUS_PREFIX,
        settings.status_sites,
    )
    .await
    .map_err(|e| format!("seeding: {e}"))?;
    seed::seed(backend, url, creds.key_id, CANCEL_PREFIX, cancel_pool)
        .await
        .map_err(|e| format!("seeding: {e}"))?;
    let log = dir.join(format!("server-{}.log", backend.name()));
    let srv = Server::start(&args.jpstart, url, &log).await?;
    let result = async {
        let plan = plan(&srv, &creds, settings.status_sites, cancel_pool).await?;
        let mut rows = Vec::new();
        for &kind in &settings.scenarios {
            for &conns in &settings.connections {
                progress(&format!("{}: {} × {conns}", backend.name(), kind.name()));
                rows.push(measure(&srv, &plan, kind, conns, settings).await);
            }
        }
        Ok::<_, String>(rows)
    }
    .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => return Err(format!("{e}\nserver log:\n{}", srv.log_tail())),
    };
    srv.stop().await;
    Ok(BackendReport {
        backend,
        insert_floor,
        status_sites: settings.status_sites,
        cancel_pool,
        rows,
    })
}

async fn scale(
    args: &Args,
    settings: &Settings,
    size: u64,
    dir: &Path,
) -> Result<ScaleRow, String> {
    let path = dir.join(format!("scale-{size}.db"));
    let url = format!("sqlite://{}", path.display());
    let creds = server::create_partner(&args.jpstart, &url).await?;
    progress(&format!("scaling: seeding {size} activations"));
    let t = Instant::now();
    seed::seed(Backend::Sqlite, &url, creds.key_id, STATUS_PREFIX, size)
        .await
        .map_err(|e| format!("seeding: {e}"))?;
    let seed_time = t.elapsed();
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let log = dir.join(format!("server-scale-{size}.log"));
    let srv = Server::start(&args.jpstart, &url, &log).await?;
    let conns = settings.connections[0];
    let result = async {
        let plan = plan(&srv, &creds, size, 0).await?;
        progress(&format!("scaling {size}: status × {conns}"));
        let status = measure(&srv, &plan, Kind::Status, conns, settings).await;
        progress(&format!("scaling {size}: provision × {conns}"));
        let provision = measure(&srv, &plan, Kind::Provision, conns, settings).await;
        Ok::<_, String>((status, provision))
    }
    .await;
    let (status, provision) = match result {
        Ok(r) => r,
        Err(e) => return Err(format!("{e}\nserver log:\n{}", srv.log_tail())),
    };
    srv.stop().await;
    Ok(ScaleRow {
        size,
        seed_time,
        db_bytes,
        status,
        provision,
    })
}

/// Gets a token the documented way and prepares the request data.
pub(crate) async fn plan(
    srv: &Server,
    creds: &Credentials,
    status_sites: u64,
    cancel_sites: u64,
) -> Result<Arc<Plan>, String> {
    let token_form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &creds.client_id)
        .append_pair("client_secret", &creds.client_secret)
        .append_pair("scope", "jetpack-partner")
        .finish();
    let (status, body) = load::once(
        srv.addr,
        Method::POST,
        "/oauth2/token",
        Some(token_form.clone()),
    )
    .await?;
    if status != 200 {
        return Err(format!("token request answered {status}: {body}"));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("token answer: {e}"))?;
    let token = v["access_token"]
        .as_str()
        .ok_or_else(|| "token answer without access_token".to_string())?;
    let (status, body) = load::once(srv.addr, Method::GET, "/bench/hello", None).await?;
    if status != 200 {
        return Err(format!(
            "GET /bench/hello answered {status} ({body}): is the server built with --bench-routes support?"
        ));
    }
    Ok(Arc::new(Plan {
        addr: srv.addr,
        bearer: format!("Bearer {token}"),
        token_form,
        status_sites,
        cancel_sites,
        cancel_next: AtomicU64::new(0),
        provision_next: AtomicU64::new(1),
    }))
}

#[derive(Default)]
struct Snap {
    cpu_start: Option<u64>,
    cpu_end: Option<u64>,
    peak_kib: Option<u64>,
}

pub(crate) async fn measure(
    srv: &Server,
    plan: &Arc<Plan>,
    kind: Kind,
    conns: usize,
    settings: &Settings,
) -> Row {
    let pid = srv.pid;
    let snap = Arc::new(Mutex::new(Snap::default()));
    let (s1, s2) = (snap.clone(), snap.clone());
    let r = load::run(
        plan.clone(),
        kind,
        conns,
        settings.warmup,
        settings.duration,
        move || {
            server::reset_peak(pid);
            if let Ok(mut s) = s1.lock() {
                s.cpu_start = server::cpu_us(pid);
            }
        },
        move || {
            if let Ok(mut s) = s2.lock() {
                s.cpu_end = server::cpu_us(pid);
                s.peak_kib = server::peak_rss_kib(pid);
            }
        },
    )
    .await;
    let s = snap.lock().map(|s| (s.cpu_start, s.cpu_end, s.peak_kib));
    let (cpu_start, cpu_end, peak_kib) = s.unwrap_or((None, None, None));
    let cpu_per_req = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) if r.ok > 0 => Some(b.saturating_sub(a) as f64 / r.ok as f64),
        _ => None,
    };
    Row {
        kind,
        conns,
        rate: r.rate(),
        ok: r.ok,
        sent: r.sent,
        p50_us: r.hist.value_at_quantile(0.50),
        p99_us: r.hist.value_at_quantile(0.99),
        cpu_us_per_req: cpu_per_req,
        peak_rss_kib: peak_kib,
        errors: r.errors,
        first_error: r.first_error,
        exhausted: r.exhausted,
    }
}
