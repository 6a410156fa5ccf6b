//! `lc-webhooks import`: posts from a JSON-lines file straight into the store. A running
//! service finds them in the inbox and evaluates them like any other post.

use std::path::Path;

use serde_json::Value;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::domain::{MediaInput, NewMedia, MAX_BATCH};
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

/// What an import wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// New posts, queued for evaluation.
    pub posts: usize,
    /// Lines whose `(platform, externalId)` was already stored (or came earlier in the file):
    /// not stored or counted again.
    pub already_stored: usize,
}

/// Validates every line first, then writes in batches of up to [`MAX_BATCH`] posts. A bad
/// line writes nothing.
pub async fn import_file(store: &Store, path: &Path) -> Result<Imported, ImportError> {
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
        posts.push(parse_line(&line).map_err(|message| ImportError::BadLine {
            line: number,
            message,
        })?);
    }
    let mut imported = Imported::default();
    let mut rest = posts;
    let mut batches = 0;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(MAX_BATCH));
        let posted = store.insert_media(rest).await?;
        let new = posted.iter().filter(|p| p.created).count();
        imported.posts += new;
        imported.already_stored += posted.len() - new;
        rest = tail;
        batches += 1;
        // No service may be running to keep SQLite's log short (or PostgreSQL's inbox vacuumed).
        if batches % MAINTAIN_EVERY == 0 {
            store.maintain().await?;
        }
    }
    Ok(imported)
}

/// One line: a JSON object, the body of `POST /v1/media`.
fn parse_line(line: &str) -> Result<NewMedia, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        // serde's text ends "at line 1 column N": every line is its own document.
        let what = e.to_string();
        let what = what.split(" at line ").next().unwrap_or(&what).to_string();
        format!("not valid JSON ({what}, at column {})", e.column())
    })?;
    let kind = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("an array"),
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("true or false"),
        Value::Null => Some("null"),
    };
    if let Some(kind) = kind {
        return Err(format!(
            "expected one post as a JSON object, such as {{\"creatorId\": \"…\", \"postType\": \"STORY\"}}, found {kind}"
        ));
    }
    let input: MediaInput = serde_json::from_value(value).map_err(|e| e.to_string())?;
    input.parse().map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn bad_lines_say_what_is_wrong_in_plain_words() {
        let syntax = parse_line("{creatorId: 1}").expect_err("not JSON");
        assert!(syntax.starts_with("not valid JSON"), "{syntax}");
        assert!(!syntax.contains("line 1"), "{syntax}");
        let array = parse_line("[1, 2]").expect_err("an array");
        assert!(array.contains("found an array"), "{array}");
        let missing = parse_line(r#"{"creatorId": "c"}"#).expect_err("no postType");
        assert!(missing.contains("postType"), "{missing}");
        let time = parse_line(r#"{"creatorId": "c", "postType": "STORY", "postedAt": "soon"}"#)
            .expect_err("bad time");
        assert!(time.contains("postedAt"), "{time}");
    }
}
