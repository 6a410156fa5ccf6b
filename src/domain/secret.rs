use std::fmt;

/// A value that must never be printed: API keys, signing secrets, the admin token.
/// It has no `Serialize` and its `Debug` is redacted, so it cannot leak into responses or logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Keys shorter than this show no characters in their hint.
pub const HINT_MIN_LEN: usize = 12;

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for telling keys apart (`…abcd`); nothing of a key shorter
    /// than [`HINT_MIN_LEN`], whose last four would be most or all of it.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < HINT_MIN_LEN {
            return "…".to_string();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
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
    }

    #[test]
    fn a_short_key_shows_nothing_in_its_hint() {
        assert_eq!(Secret::new("k2".into()).hint(), "…");
        assert_eq!(Secret::new("elevenchars".into()).hint(), "…");
        assert_eq!(Secret::new("twelve_chars".into()).hint(), "…hars");
    }
}
