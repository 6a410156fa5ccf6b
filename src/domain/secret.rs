use std::fmt;

/// A value that must never be printed: API keys, signing secrets, the admin token.
/// It has no `Serialize` and its `Debug` is redacted, so it cannot leak into responses or logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for telling keys apart (`…abcd`).
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("sk_live_very_secret".into());
        assert!(!format!("{s:?}").contains("secret"));
        assert_eq!(s.hint(), "…cret");
        assert_eq!(Secret::new("ab".into()).hint(), "…ab");
    }
}
