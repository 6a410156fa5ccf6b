use rand::Rng;

/// Letters and digits that cannot be misread for one another (no 0/O, 1/I/L, U).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const LENGTH: usize = 8;
pub const DEFAULT_PREFIX: &str = "LC-";

/// A fresh code such as `LC-7KQ2M9XA`. About 6.6e11 codes per prefix; the store's unique
/// constraint catches the rare collision and the evaluation is retried.
pub fn discount_code(prefix: Option<&str>) -> String {
    let mut rng = rand::thread_rng();
    let tail: String = (0..LENGTH)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{}{tail}", prefix.unwrap_or(DEFAULT_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_the_prefix_and_differ() {
        let a = discount_code(Some("SUMMER-"));
        assert!(a.starts_with("SUMMER-"));
        assert_eq!(a.len(), "SUMMER-".len() + LENGTH);
        assert_ne!(discount_code(None), discount_code(None));
        assert!(discount_code(None).starts_with("LC-"));
    }
}
