//! A statement both databases run: SQL with `$n` placeholders and its arguments. Where the two
//! spell a clause differently (a list of values to match, a row lock), the statement says what
//! it means and each backend writes it its own way (`backend/`).

use std::borrow::Cow;

/// One argument, bound as its own type on either database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    /// The values one `= ANY($n)` matches: an array on PostgreSQL, JSON on SQLite.
    List(Vec<Cow<'a, str>>),
}

/// What can be bound to a statement.
pub(crate) trait Arg<'a> {
    /// The NULL of this type: PostgreSQL wants to know a parameter's type even when it is NULL.
    const NULL: Value<'static>;
    fn value(self) -> Value<'a>;
}

/// What a list of values to match holds: text (ids, mostly).
pub(crate) trait Text<'a> {
    fn text(self) -> Cow<'a, str>;
}

impl<'a> Text<'a> for &'a str {
    fn text(self) -> Cow<'a, str> {
        Cow::Borrowed(self)
    }
}

impl<'a> Text<'a> for &'a String {
    fn text(self) -> Cow<'a, str> {
        Cow::Borrowed(self)
    }
}

impl<'a, T: ?Sized> Text<'a> for &'a &T
where
    &'a T: Text<'a>,
{
    fn text(self) -> Cow<'a, str> {
        (&**self).text()
    }
}

/// Text arguments.
macro_rules! text_arg {
    ($($ty:ty),+) => {$(
        impl<'a> Arg<'a> for $ty {
            const NULL: Value<'static> = Value::Text(None);
            fn value(self) -> Value<'a> {
                Value::Text(Some(Text::text(self)))
            }
        }
    )+};
}
pub(crate) use text_arg;

impl<'a> Text<'a> for String {
    fn text(self) -> Cow<'a, str> {
        Cow::Owned(self)
    }
}

text_arg!(&'a str, &'a String, String);

impl<'a> Arg<'a> for i64 {
    const NULL: Value<'static> = Value::Int(None);
    fn value(self) -> Value<'a> {
        Value::Int(Some(self))
    }
}

impl<'a> Arg<'a> for &i64 {
    const NULL: Value<'static> = Value::Int(None);
    fn value(self) -> Value<'a> {
        Value::Int(Some(*self))
    }
}

/// Both schemas keep flags as integers, 0 or 1.
impl<'a> Arg<'a> for bool {
    const NULL: Value<'static> = Value::Int(None);
    fn value(self) -> Value<'a> {
        Value::Int(Some(i64::from(self)))
    }
}

impl<'a, T: Arg<'a>> Arg<'a> for Option<T> {
    const NULL: Value<'static> = T::NULL;
    fn value(self) -> Value<'a> {
        match self {
            Some(v) => v.value(),
            None => T::NULL,
        }
    }
}

/// Where the databases write a clause differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    /// `= ANY($n)`: the value is one of the list bound as `$n`.
    AnyOf(usize),
    /// `<> ALL($n)`: the value is none of them.
    NoneOf(usize),
    /// The rows read are locked until the transaction ends (SQLite's one writer already is).
    ForUpdate,
    /// The rows read cannot change until the transaction ends.
    ForShare,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Sql(Cow<'static, str>),
    Clause(Clause),
}

/// SQL text and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pieces: Vec<Piece>,
    args: Vec<Value<'a>>,
}

impl<'a> Statement<'a> {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Statement {
            pieces: vec![Piece::Sql(sql.into())],
            args: Vec::new(),
        }
    }

    /// The next argument: `$1` for the first.
    pub(crate) fn bind(mut self, value: impl Arg<'a>) -> Self {
        self.args.push(value.value());
        self
    }

    /// More SQL after what is there.
    pub(crate) fn push(mut self, sql: impl Into<Cow<'static, str>>) -> Self {
        self.pieces.push(Piece::Sql(sql.into()));
        self
    }

    /// ` = ANY($n)` over `items`, bound as the next argument.
    pub(crate) fn any_of<T: Text<'a>>(self, items: impl IntoIterator<Item = T>) -> Self {
        self.list(items, Clause::AnyOf)
    }

    /// ` <> ALL($n)` over `items`, bound as the next argument.
    pub(crate) fn none_of<T: Text<'a>>(self, items: impl IntoIterator<Item = T>) -> Self {
        self.list(items, Clause::NoneOf)
    }

    /// `items` as the next argument, for a clause the statement spells itself (`backend/`).
    pub(crate) fn bind_list<T: Text<'a>>(mut self, items: impl IntoIterator<Item = T>) -> Self {
        self.args
            .push(Value::List(items.into_iter().map(Text::text).collect()));
        self
    }

    /// The rows read are locked for update until the transaction ends.
    pub(crate) fn for_update(mut self) -> Self {
        self.pieces.push(Piece::Clause(Clause::ForUpdate));
        self
    }

    /// The rows read cannot change until the transaction ends.
    pub(crate) fn for_share(mut self) -> Self {
        self.pieces.push(Piece::Clause(Clause::ForShare));
        self
    }

    pub(crate) fn args(&self) -> &[Value<'a>] {
        &self.args
    }

    /// The text, each clause written by `write` (the backend's spelling).
    pub(crate) fn text(&self, write: impl Fn(Clause, &mut String)) -> Cow<'_, str> {
        if let [Piece::Sql(sql)] = self.pieces.as_slice() {
            return Cow::Borrowed(sql);
        }
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Sql(sql) => text.push_str(sql),
                Piece::Clause(clause) => write(*clause, &mut text),
            }
        }
        Cow::Owned(text)
    }

    fn list<T: Text<'a>>(
        mut self,
        items: impl IntoIterator<Item = T>,
        clause: fn(usize) -> Clause,
    ) -> Self {
        let list = items.into_iter().map(Text::text).collect();
        self.args.push(Value::List(list));
        self.pieces.push(Piece::Clause(clause(self.args.len())));
        self
    }
}

/// A value already made, as a page query collects them.
impl<'a> Arg<'a> for Value<'a> {
    const NULL: Value<'static> = Value::Text(None);
    fn value(self) -> Value<'a> {
        self
    }
}
