//! Test support: throw-away PostgreSQL clusters and fresh stores for the generic test-suites.
//!
//! A cluster is created with `initdb` in a temporary directory, started with `pg_ctl` on a free
//! loopback port, and removed when the test process exits (a small watchdog process stops it
//! even if the tests panic or are killed). Each test gets its own database in that cluster.
//!
//! Without PostgreSQL binaries the PostgreSQL tests print a loud skip line; with
//! `HOMELAB_REQUIRE_POSTGRES=1` (set by CI) their absence is a failure instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::{OpenOptions, Store};

/// Set to `1` to turn a missing PostgreSQL into a test failure.
pub const REQUIRE_POSTGRES_ENV: &str = "HOMELAB_REQUIRE_POSTGRES";

/// A running throw-away cluster.
pub struct PostgresCluster {
    port: u16,
    bin: PathBuf,
    run_as: Option<String>,
    next_database: AtomicU32,
}

/// Directory holding `initdb` and `pg_ctl`: from `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

impl PostgresCluster {
    fn command(&self, program: &str) -> Command {
        command_as(&self.run_as, &self.bin.join(program))
    }

    fn start() -> Result<PostgresCluster, String> {
        let bin = postgres_bin_dir().ok_or("no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin")?;
        // PostgreSQL refuses to run as root; use its own account (or nobody) instead.
        let run_as = is_root().then(|| {
            if Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success()) {
                "postgres".to_owned()
            } else {
                "nobody".to_owned()
            }
        });
        let dir = std::env::temp_dir().join(format!("homelab-pg-{}-{}", std::process::id(), free_port().unwrap_or(0)));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Some(user) = &run_as {
            run(Command::new("chown").arg(user).arg(&dir))?;
        }
        let data = dir.join("data");
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let cluster = PostgresCluster { port, bin, run_as, next_database: AtomicU32::new(0) };
        run(cluster.command("initdb").args(["-D"]).arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]))?;
        run(cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
                 -c max_connections=200",
                dir.display()
            ))
            .arg("start"))?;
        spawn_watchdog(&cluster, &dir, &data);
        Ok(cluster)
    }

    /// A fresh, empty database in this cluster; returns its URL.
    pub async fn create_database(&self) -> Result<String, String> {
        let name = format!("test_{}", self.next_database.fetch_add(1, Ordering::Relaxed));
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the test cluster: {e}"))?;
        let driver = tokio::spawn(connection);
        // The name is generated above, never user input.
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.map_err(|e| format!("CREATE DATABASE: {e}"))?;
        drop(client);
        let _ = driver.await;
        Ok(format!("postgres://postgres@127.0.0.1:{}/{name}", self.port))
    }
}

fn command_as(run_as: &Option<String>, program: &Path) -> Command {
    match run_as {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Stops the cluster and deletes its directory once this test process is gone, however it ends.
fn spawn_watchdog(cluster: &PostgresCluster, dir: &Path, data: &Path) {
    let pg_ctl = cluster.bin.join("pg_ctl");
    let stop = match &cluster.run_as {
        Some(user) => format!("runuser -u {user} -- {} -D {} -m immediate stop", pg_ctl.display(), data.display()),
        None => format!("{} -D {} -m immediate stop", pg_ctl.display(), data.display()),
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// The shared cluster of this test process, started on first use. `None` (after a loud skip
/// line) when PostgreSQL is not installed and not required; panics when it is required.
pub fn postgres_cluster() -> Option<Arc<PostgresCluster>> {
    static CLUSTER: OnceLock<Result<Arc<PostgresCluster>, String>> = OnceLock::new();
    let outcome = CLUSTER.get_or_init(|| PostgresCluster::start().map(Arc::new));
    match outcome {
        Ok(cluster) => Some(Arc::clone(cluster)),
        Err(reason) => {
            if std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required ({REQUIRE_POSTGRES_ENV}=1) but unavailable: {reason}");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPING POSTGRESQL TEST: {reason}. Install PostgreSQL (Debian: apt-get install postgresql) \
                 or set {REQUIRE_POSTGRES_ENV}=1 to make this a failure. !!!!!!!!\n"
            );
            None
        }
    }
}

/// A store on a fresh database of the shared cluster, or `None` when PostgreSQL is skipped.
pub async fn postgres_store() -> Option<(Arc<dyn Store>, String)> {
    let cluster = postgres_cluster()?;
    let url = match cluster.create_database().await {
        Ok(url) => url,
        Err(error) => panic!("cannot create a test database: {error}"),
    };
    match crate::open(&url, &OpenOptions::default()).await {
        Ok(store) => Some((store, url)),
        Err(error) => panic!("cannot open the PostgreSQL test store: {error}"),
    }
}

/// A store on a new SQLite file in `dir`.
pub async fn sqlite_store(dir: &Path) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.join("homelab.db").display());
    match crate::open(&url, &OpenOptions::default()).await {
        Ok(store) => store,
        Err(error) => panic!("cannot open the SQLite test store: {error}"),
    }
}
