//! `Option<Option<T>>` fields: absent = leave alone, `null` = clear, a value = set.

use serde::{Deserialize, Deserializer};

pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
