//! Test support (cargo feature `testing`): a fresh schema per test on the test database,
//! and a plain SQL session to inspect or damage it.
//!
//! The test database is `$STEPPE_TEST_POSTGRES_URL`, else the URL `scripts/start-postgres.sh`
//! wrote to `target/postgres-url`. Without either a test says plainly that it skipped,
//! unless `CI` is set: there a test that needs PostgreSQL fails instead, so that CI can
//! never pass by running nothing.

use crate::PostgresOptions;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the test database.
pub const URL_VARIABLE: &str = "STEPPE_TEST_POSTGRES_URL";

/// The test database's URL, or `None` (after saying that `test` skipped). Panics under CI
/// when there is none.
pub fn test_url(test: &str) -> Option<String> {
    let from_file = || {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/postgres-url");
        std::fs::read_to_string(path).ok()
    };
    let url = std::env::var(URL_VARIABLE)
        .ok()
        .or_else(from_file)
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty());
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: needs PostgreSQL, and CI is set: start it with scripts/start-postgres.sh and set {URL_VARIABLE}"
        );
        eprintln!(
            "{test}: SKIPPED: no PostgreSQL ({URL_VARIABLE} is unset and target/postgres-url is missing; run scripts/start-postgres.sh)"
        );
    }
    url
}

/// Options for a schema no other test uses (not exclusive), or `None` as [`test_url`] says.
pub fn fresh_schema(test: &str) -> Option<PostgresOptions> {
    let url = test_url(test)?;
    Some(PostgresOptions {
        url,
        schema: Some(schema_name()),
        exclusive: false,
    })
}

/// A schema name unique to this process and moment: `t_<pid>_<micros>_<n>`.
pub fn schema_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() % 1_000_000_000_000);
    format!(
        "t_{}_{micros}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A plain connection to the test database with the options' schema as its search path,
/// for tests to look behind the store's back. Its methods block: call them from a plain
/// thread, not from inside an async runtime. Panics on any failure (it is test support).
pub struct Session {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Session {
    /// Connects.
    pub fn open(options: &PostgresOptions) -> Session {
        let config = crate::connection_config(options).expect("the options are usable");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let client = runtime.block_on(async {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("the test database answers");
            tokio::spawn(connection);
            client
        });
        Session { runtime, client }
    }

    /// Runs statements (simple query protocol; `;`-separated).
    pub fn execute(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// The first column of every row of a query, as i64 (use casts in the SQL).
    pub fn column_i64(&self, sql: &str) -> Vec<i64> {
        let rows = self
            .runtime
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        rows.iter().map(|row| row.get::<_, i64>(0)).collect()
    }
}

/// The schema as version 1 made it (tables and `steppe_transition`, without
/// `schema_version`), for tests of upgrading in place.
pub const SCHEMA_VERSION_1: &str = crate::schema::VERSION_1;

/// The migrations as each version made them (entry `n` takes a schema from version `n` to
/// `n + 1`), for tests of upgrading in place from any version.
pub const MIGRATIONS: &[&str] = crate::schema::MIGRATIONS;
