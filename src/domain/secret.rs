use std::fmt;

/// A value that must never be printed: API keys, signing secrets, the admin token.
/// It has no `Serialize` and its `Debug` is redacted, so it cannot leak into responses or logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Keys shorter than this show no characters in their hint.
pub const HINT_MIN_LEN: usize = 8;

/// How a key is shown wherever it must be recognised but not revealed (the API's
/// `apiKeyHint`, the delivery log's request headers, `listen`): `…` and its last
/// min(4, length / 4) characters, so never more than a quarter of it (8–11 characters show 2,
/// 12–15 show 3, 16 or more show 4); only `…` for a key shorter than [`HINT_MIN_LEN`].
pub fn key_hint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < HINT_MIN_LEN {
        return "…".to_string();
    }
    let shown = (chars.len() / 4).min(4);
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("…{tail}")
}

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its [`key_hint`]: enough of its end to tell keys apart, never the key.
    pub fn hint(&self) -> String {
        key_hint(&self.0)
    }

    /// Its length in characters, shown beside the hint (`11 characters, ending …23`).
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    fn a_key_under_eight_characters_shows_nothing_in_its_hint() {
        assert_eq!(key_hint(""), "…");
        assert_eq!(key_hint("k2"), "…");
        assert_eq!(key_hint("seven_7"), "…");
    }

    #[test]
    fn a_hint_shows_a_quarter_of_the_key_at_most_and_four_characters_at_most() {
        for (key, expected) in [
            ("eight__8", "…_8"),
            ("sk_test_123", "…23"),
            ("twelve_chars", "…ars"),
            ("fifteen_chars15", "…s15"),
            ("sixteen_chars_16", "…s_16"),
            ("sk_live_a_much_longer_key_1234", "…1234"),
        ] {
            let shown = key_hint(key);
            assert_eq!(shown, expected, "{key}");
            let revealed = shown.chars().count() - 1;
            assert!(revealed * 4 <= key.len(), "{key}: {shown}");
        }
        assert_eq!(Secret::new("sk_test_123".into()).len(), 11);
    }
}
