//! Why the store named by `--database-url` could not be used, in one sentence a user can act
//! on: what failed, where (never the password), and what to do.

use crate::error::Error;

const FLAG: &str = "--database-url / DATABASE_URL";

pub fn describe_connect_failure(url: &str, e: &Error) -> String {
    if super::postgres::names(url) {
        postgres(url, e)
    } else {
        sqlite(url, e)
    }
}

/// The database a URL names, for the start-up line: the SQLite file, or PostgreSQL's database,
/// host and port. Never the password.
pub fn describe_database(url: &str) -> String {
    if super::postgres::names(url) {
        let t = PostgresTarget::of(url);
        format!(
            "PostgreSQL database \"{}\" at {}:{} as {}",
            t.database, t.host, t.port, t.user
        )
    } else {
        format!("SQLite {}", sqlite_path(url))
    }
}

/// Where a `postgres://` URL points, with libpq's defaults for what it leaves out.
struct PostgresTarget {
    host: String,
    port: u16,
    database: String,
    user: String,
}

impl PostgresTarget {
    fn of(url: &str) -> PostgresTarget {
        let parsed = url::Url::parse(url).ok();
        // `?host=/var/run/postgresql` (a socket folder) overrides the URL's host.
        let host_param = parsed.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "host")
                .map(|(_, v)| v.into_owned())
        });
        let host = host_param
            .or_else(|| {
                parsed
                    .as_ref()
                    .and_then(|u| u.host_str().map(str::to_string))
            })
            .unwrap_or_else(|| "localhost".into());
        let port = parsed.as_ref().and_then(url::Url::port).unwrap_or(5432);
        let database = parsed
            .as_ref()
            .map(|u| u.path().trim_start_matches('/').to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "postgres".into());
        let user = parsed
            .as_ref()
            .map(|u| u.username().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres".into());
        PostgresTarget {
            host,
            port,
            database,
            user,
        }
    }
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
        .split('?')
        .next()
        .unwrap_or(url)
}

fn postgres(url: &str, e: &Error) -> String {
    let PostgresTarget {
        host,
        port,
        database,
        user,
    } = PostgresTarget::of(url);
    let at = format!("PostgreSQL at {host}:{port} ({FLAG})");
    match e {
        Error::Database(sqlx::Error::Io(io)) => format!(
            "cannot reach {at}: {io}; is the server running? Start it, or point {FLAG} at one"
        ),
        Error::Database(sqlx::Error::PoolTimedOut) => {
            format!("{at} did not answer within 10 s; is the address right and the server up?")
        }
        Error::Database(sqlx::Error::Database(db)) => match db.code().as_deref() {
            Some("3D000") => format!(
                "database \"{database}\" does not exist on {at}; create it with \
                 `createdb -h {host} -p {port} -U {user} {database}` \
                 (or `psql -h {host} -p {port} -U {user} -c 'CREATE DATABASE {database}'`)"
            ),
            Some("28P01" | "28000") => format!(
                "{at} refused user \"{user}\": check the user and password in the URL ({})",
                db.message()
            ),
            _ => format!("{at} refused: {}", db.message()),
        },
        Error::Database(sqlx::Error::Configuration(why)) => {
            format!("{FLAG} is not a database URL this service can use: {why}")
        }
        Error::Migration(m) => format!("applying the migrations to {at} failed: {m}"),
        other => format!("cannot use {at}: {other}"),
    }
}

fn sqlite(url: &str, e: &Error) -> String {
    let path = sqlite_path(url);
    let at = format!("the SQLite database {path} ({FLAG})");
    match e {
        Error::Database(sqlx::Error::Io(io)) => {
            format!("cannot create the folder of {at}: {io}; choose a path this user can write")
        }
        Error::Database(sqlx::Error::Database(db)) => format!(
            "cannot open {at}: {}; check that its folder exists and is writable, or that the \
             file is an SQLite database",
            db.message()
        ),
        Error::Database(sqlx::Error::Configuration(why)) => format!("cannot use {at}: {why}"),
        Error::Migration(m) => format!("applying the migrations to {at} failed: {m}"),
        other => format!("cannot use {at}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_postgres_connection_says_where_and_hides_the_password() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let text = describe_connect_failure(
            "postgres://app:s3cret@db.internal:6543/lc",
            &Error::Database(sqlx::Error::Io(io)),
        );
        assert!(text.contains("db.internal:6543"), "{text}");
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn the_database_is_described_without_its_password() {
        assert_eq!(
            describe_database("postgres://app:s3cret@db.internal:6543/lc"),
            "PostgreSQL database \"lc\" at db.internal:6543 as app"
        );
        assert_eq!(
            describe_database("postgres://postgres@localhost/lc_st?host=/var/run/postgresql"),
            "PostgreSQL database \"lc_st\" at /var/run/postgresql:5432 as postgres"
        );
        assert_eq!(
            describe_database("sqlite://data/lc-webhooks.db"),
            "SQLite data/lc-webhooks.db"
        );
    }
}
