//! What PostgreSQL's answers mean to the server: the one mapping from client, pool and row
//! errors to [`steppe_store::Error`].

use steppe_store::Error;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

/// The SQLSTATE `steppe_transition` raises when a transition does not follow the last committed
/// one (class `ST`, steppe's own; see `schema.rs`).
pub(crate) const OUT_OF_ORDER: &str = "ST001";

/// The SQLSTATE `steppe_expect_resource` raises when a resource is not what a group expected.
pub(crate) const RESOURCE_CHANGED: &str = "ST002";

/// A statement's error: a refused transition or a duplicate key is a conflict, damage the
/// server reports is corruption, everything else (a lost connection, a timeout, a full disk,
/// a server shutting down) a database error that may pass.
pub(crate) fn statement_error(error: &tokio_postgres::Error) -> Error {
    let Some(db) = error.as_db_error() else {
        // tokio-postgres's message ("error connecting to server") leaves the reason (refused,
        // unknown host, timed out) to its source.
        return Error::Database(match std::error::Error::source(error) {
            Some(source) => format!("PostgreSQL: {error}: {source}"),
            None => format!("PostgreSQL: {error}"),
        });
    };
    let code = db.code();
    if code.code() == OUT_OF_ORDER || code.code() == RESOURCE_CHANGED {
        return Error::Conflict(db.message().to_string());
    }
    if *code == SqlState::UNIQUE_VIOLATION
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        return Error::Conflict(format!("PostgreSQL: {}", db.message()));
    }
    if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        return Error::Corrupt(format!("PostgreSQL: {}", db.message()));
    }
    Error::Database(format!("PostgreSQL: {error}"))
}

/// A pool's error: no connection could be had (or made) in time.
pub(crate) fn pool_error(error: deadpool_postgres::PoolError) -> Error {
    match error {
        deadpool_postgres::PoolError::Backend(error) => statement_error(&error),
        deadpool_postgres::PoolError::Closed => Error::Closed,
        // The writer's new connection could not take the exclusive lock: another server
        // took the database while this one's connection was gone.
        deadpool_postgres::PoolError::PostCreateHook(deadpool_postgres::HookError::Message(
            message,
        )) => Error::Database(message.into_owned()),
        other => Error::Database(format!("no PostgreSQL connection: {other}")),
    }
}

/// Column `index` of `row`; a value that is not what the schema wrote (a NULL where there
/// must be none, another type) is a damaged row.
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, Error> {
    row.try_get(index).map_err(|error| {
        let name = row.columns().get(index).map_or("?", |column| column.name());
        Error::Decode(format!("column {name}: {error}"))
    })
}

/// A BIGINT column holding a u64 (stored as its bits: ids, seeds).
pub(crate) fn u64_column(row: &Row, index: usize) -> Result<u64, Error> {
    column::<i64>(row, index).map(|value| value as u64)
}

/// A BYTEA column holding text (error names and causes may hold NUL, which TEXT refuses).
pub(crate) fn text_bytes_column(row: &Row, index: usize) -> Result<Option<String>, Error> {
    column::<Option<Vec<u8>>>(row, index)?
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|error| {
                let name = row.columns().get(index).map_or("?", |column| column.name());
                Error::Decode(format!("column {name}: {error}"))
            })
        })
        .transpose()
}
