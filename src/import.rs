//! `lc-webhooks import`: posts from a JSON-lines file straight into the store. A running
//! service finds them in the inbox and evaluates them like any other post.

use std::path::Path;

use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::api::{MediaInput, MAX_BATCH};
use crate::store::Store;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    BadLine { line: usize, message: String },
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

/// Batches written between two runs of the store's housekeeping.
const MAINTAIN_EVERY: usize = 20;

/// Validates every line first, then writes in batches of up to [`MAX_BATCH`] posts; returns
/// how many were written. A bad line writes nothing.
pub async fn import_file(store: &Store, path: &Path) -> Result<usize, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(read_err)?;
    let mut lines = BufReader::new(file).lines();
    let mut posts = Vec::new();
    let mut number = 0;
    while let Some(line) = lines.next_line().await.map_err(read_err)? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| ImportError::BadLine {
            line: number,
            message,
        };
        let input: MediaInput = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        posts.push(input.validate().map_err(|e| bad(e.message))?);
    }
    let total = posts.len();
    let mut rest = posts;
    let mut batches = 0;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(MAX_BATCH));
        store.insert_media(rest).await?;
        rest = tail;
        batches += 1;
        // No service may be running to keep SQLite's log short (or PostgreSQL's inbox vacuumed).
        if batches % MAINTAIN_EVERY == 0 {
            store.maintain().await?;
        }
    }
    Ok(total)
}
