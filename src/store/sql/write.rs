//! Rows written many at a time. Each table write has a row type declared with [`write_row!`],
//! its columns beside its fields; a backend writes a batch of them in a statement or a few
//! (`Conn::insert`, `Conn::with_rows`).

use std::borrow::Cow;

use super::statement::Value;

/// One row of a table write: its columns, in order, and their values in that order.
pub(crate) trait Row {
    const COLUMNS: &'static [&'static str];
    /// Each column's PostgreSQL type, for the arrays a batch of rows is sent as.
    const PG_TYPES: &'static [&'static str];
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>);
}

/// The PostgreSQL type a field is written as.
pub(crate) trait PgType {
    const NAME: &'static str;
}

impl PgType for str {
    const NAME: &'static str = "text";
}
impl PgType for String {
    const NAME: &'static str = "text";
}
impl PgType for i64 {
    const NAME: &'static str = "bigint";
}
impl<T: PgType + ?Sized> PgType for &T {
    const NAME: &'static str = T::NAME;
}
impl<T: PgType> PgType for Option<T> {
    const NAME: &'static str = T::NAME;
}

/// A field of a written row: its value, borrowed.
pub(crate) trait Field {
    fn value(&self) -> Value<'_>;
}

impl Field for &str {
    fn value(&self) -> Value<'_> {
        Value::Text(Some(Cow::Borrowed(self)))
    }
}

impl Field for Option<&str> {
    fn value(&self) -> Value<'_> {
        Value::Text(self.map(Cow::Borrowed))
    }
}

impl Field for Option<String> {
    fn value(&self) -> Value<'_> {
        Value::Text(self.as_deref().map(Cow::Borrowed))
    }
}

impl Field for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(Some(*self))
    }
}

impl Field for Option<i64> {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

/// A batch of rows of one table, whatever their type: what [`Writes`] holds.
pub(crate) trait Rows: Send + Sync {
    fn table(&self) -> &'static str;
    /// What follows the rows (`ON CONFLICT …`).
    fn tail(&self) -> &'static str;
    fn columns(&self) -> &'static [&'static str];
    fn pg_types(&self) -> &'static [&'static str];
    fn len(&self) -> usize;
    fn values<'v>(&'v self, out: &mut Vec<Value<'v>>);
}

struct Batch<R> {
    table: &'static str,
    tail: &'static str,
    rows: Vec<R>,
}

impl<R: Row + Send + Sync> Rows for Batch<R> {
    fn table(&self) -> &'static str {
        self.table
    }
    fn tail(&self) -> &'static str {
        self.tail
    }
    fn columns(&self) -> &'static [&'static str] {
        R::COLUMNS
    }
    fn pg_types(&self) -> &'static [&'static str] {
        R::PG_TYPES
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn values<'v>(&'v self, out: &mut Vec<Value<'v>>) {
        for row in &self.rows {
            row.values(out);
        }
    }
}

/// Inserts into several tables that a transaction makes together, gathered so that a backend
/// can send them at once (PostgreSQL: one statement, one round trip).
#[derive(Default)]
pub(crate) struct Writes<'a> {
    batches: Vec<Box<dyn Rows + 'a>>,
}

impl<'a> Writes<'a> {
    /// `INSERT INTO {table} (R's columns) <rows> {tail}`; nothing for no rows.
    pub(crate) fn insert<R: Row + Send + Sync + 'a>(
        &mut self,
        table: &'static str,
        tail: &'static str,
        rows: Vec<R>,
    ) {
        if !rows.is_empty() {
            self.batches.push(Box::new(Batch { table, tail, rows }));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The batches, in the order they were added.
    pub(crate) fn batches(&self) -> impl Iterator<Item = &(dyn Rows + 'a)> {
        self.batches.iter().map(|b| b.as_ref())
    }
}

/// Declares a row type whose columns are its field names, in order.
macro_rules! write_row {
    ($(#[$doc:meta])* struct $name:ident<$lt:lifetime> { $($field:ident: $ty:ty,)+ }) => {
        $(#[$doc])*
        pub(crate) struct $name<$lt> {
            $(pub(crate) $field: $ty,)+
        }

        impl<$lt> $crate::store::sql::write::Row for $name<$lt> {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const PG_TYPES: &'static [&'static str] =
                &[$(<$ty as $crate::store::sql::write::PgType>::NAME),+];

            fn values<'v>(&'v self, out: &mut Vec<$crate::store::sql::statement::Value<'v>>) {
                $(out.push($crate::store::sql::write::Field::value(&self.$field));)+
            }
        }
    };
}
pub(crate) use write_row;

#[cfg(test)]
mod tests {
    use super::*;

    write_row! {
        /// A row for the test below.
        struct Pair<'a> {
            name: &'a str,
            count: i64,
            note: Option<String>,
        }
    }

    #[test]
    fn a_row_lists_its_columns_and_values_in_field_order() {
        assert_eq!(Pair::COLUMNS, ["name", "count", "note"]);
        assert_eq!(Pair::PG_TYPES, ["text", "bigint", "text"]);
        let row = Pair {
            name: "n",
            count: 1,
            note: None,
        };
        let mut values = Vec::new();
        row.values(&mut values);
        assert_eq!(
            values,
            [
                Value::Text(Some("n".into())),
                Value::Int(Some(1)),
                Value::Text(None)
            ]
        );
    }
}
