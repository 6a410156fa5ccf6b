//! The leaves of the store: statements and their arguments, the rows the databases return and
//! the rows written in batches, column lists and the reads several modules share. Nothing here
//! imports anything above it.

pub(crate) mod claim;
pub(crate) mod ids;
pub(crate) mod inbox;
pub(crate) mod program_rows;
pub(crate) mod rows;
pub(crate) mod statement;
pub(crate) mod write;

pub(crate) use statement::Statement;
pub(crate) use write::{write_row, Row, Writes};
