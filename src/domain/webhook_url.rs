use utoipa::openapi::schema::KnownFormat;

use super::invalid::{chars, Invalid, Problem};
use super::schema::{format, input_schema, string};

const MAX: usize = 2048;

/// Where an integration's webhooks go: an absolute `http` or `https` URL with a host, written
/// with only the characters a URI may hold (RFC 3986), at most 2048 of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<WebhookUrl, Invalid> {
        let bad = |why: &str| Invalid::new(Problem::Url, format!("url {why}"));
        if chars(raw) > MAX {
            return Err(bad("is longer than 2048 characters"));
        }
        if let Some(c) = raw.chars().find(|c| !uri_char(*c)) {
            return Err(bad(&format!(
                "holds {c:?}, which a URL cannot carry unescaped"
            )));
        }
        let parsed =
            url::Url::parse(raw).map_err(|e| bad(&format!("is not an absolute URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("must use http or https"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        Ok(WebhookUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 3986's unreserved and reserved characters, and `%` (escapes are checked by the parser).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

input_schema!(WebhookUrl, || string(
    "An absolute `http` or `https` URL; webhooks are POSTed to it."
)
.format(format(KnownFormat::Uri))
.max_length(Some(MAX))
.examples(["http://127.0.0.1:9000/loudcrowd"]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_with_a_host() {
        assert!(WebhookUrl::parse("https://shop.example.com/hooks/lc?x=1").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/loudcrowd").is_ok());
        for bad in [
            "",
            "shop.example.com/hook",
            "ftp://shop.example.com/",
            "http://",
            "http:// spaced.example.com/",
            " http://example.com/",
            "http://example.com/é",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX));
        assert!(WebhookUrl::parse(&long).is_err());
    }
}
