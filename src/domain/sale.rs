//! Sales of a creator's storefront: an order id that makes a resent sale the same sale, an
//! exact amount (never a float) and an ISO 4217 currency.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::invalid::{chars, printable_ascii};
use super::time::serde_rfc3339;
use super::{CreatorId, Invalid, Problem, SaleId};

/// The longest `orderId`, in characters.
pub const MAX_ORDER_ID: usize = 200;
/// The largest amount, in cents: 10^15 units, well inside `i64` and any receiver's decimal.
const MAX_CENTS: i64 = 100_000_000_000_000_000;

/// A shop's own order id: 1–200 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || chars(raw) > MAX_ORDER_ID || !printable_ascii(raw) {
            return Err(Invalid::new(
                Problem::OrderId,
                format!("orderId must be 1 to {MAX_ORDER_ID} printable ASCII characters"),
            ));
        }
        Ok(OrderId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount of money, exact: a whole number of hundredths. Written with two decimal places
/// (`"12.50"`), read from a decimal string with at most two (`"12.5"`, `"12"`, `"0.99"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount {
    cents: i64,
}

impl Amount {
    /// `raw` as a non-negative decimal with at most two places; anything else (a sign, an
    /// exponent, a third place, spaces) is refused rather than rounded.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                Problem::Amount,
                format!(
                    "amount `{}` is not a decimal string with at most two places, such as \"12.50\"",
                    raw.escape_debug()
                ),
            )
        };
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > 2
            || (raw.contains('.') && fraction.is_empty())
            || whole.len() > 15
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(fraction))
            .filter(|c| *c < MAX_CENTS)
            .ok_or_else(bad)?;
        Ok(Amount { cents })
    }

    /// As stored and sent: two decimal places.
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:02}", self.cents / 100, self.cents % 100)
    }

    pub fn cents(self) -> i64 {
        self.cents
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.to_decimal_string())
    }
}

/// An ISO 4217 alphabetic code: three upper-case letters (`USD`, `EUR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.len() != 3 || !raw.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Invalid::new(
                Problem::Currency,
                format!(
                    "currency `{}` is not an ISO 4217 code (three upper-case letters, such as USD)",
                    raw.escape_debug()
                ),
            ));
        }
        Ok(Currency(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated sale to record.
#[derive(Debug, Clone)]
pub struct NewSale {
    pub creator_id: CreatorId,
    pub order_id: OrderId,
    pub amount: Amount,
    pub currency: Currency,
    pub sold_at: DateTime<Utc>,
}

/// A sale as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sale {
    /// Also the `sale.lcId` of its `sale.created` webhook.
    pub id: SaleId,
    pub creator_id: CreatorId,
    /// The shop's order id: a second sale with it is this one.
    pub order_id: String,
    /// Exact, two decimal places.
    #[schema(value_type = String, pattern = "^[0-9]+\\.[0-9]{2}$", examples("12.50"))]
    pub amount: Amount,
    /// ISO 4217.
    #[schema(value_type = String, pattern = "^[A-Z]{3}$", examples("USD"))]
    pub currency: Currency,
    #[serde(with = "serde_rfc3339")]
    pub sold_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_with_two_places() {
        for (raw, shown) in [
            ("12.50", "12.50"),
            ("12.5", "12.50"),
            ("12", "12.00"),
            ("0.99", "0.99"),
            ("0.1", "0.10"),
            ("100000000000000.01", "100000000000000.01"),
        ] {
            assert_eq!(
                Amount::parse(raw).expect(raw).to_decimal_string(),
                shown,
                "{raw}"
            );
        }
        // 0.1 + 0.2 is 0.30 here, as it is not in binary floating point.
        let sum =
            Amount::parse("0.1").expect("a").cents() + Amount::parse("0.2").expect("b").cents();
        assert_eq!(sum, 30);
    }

    #[test]
    fn amounts_that_are_not_plain_decimals_are_refused() {
        for raw in [
            "",
            "-1.00",
            "+1",
            "1.234",
            "1e3",
            " 1.00",
            "1.",
            ".5",
            "1,00",
            "NaN",
            "1.0.0",
            "9999999999999999",
        ] {
            assert!(Amount::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("USD").is_ok());
        for raw in ["usd", "US", "USDT", "U$D", ""] {
            assert!(Currency::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn order_ids_are_printable_and_bounded() {
        assert!(OrderId::parse("order-1 #42").is_ok());
        assert!(OrderId::parse("").is_err());
        assert!(OrderId::parse("a\nb").is_err());
        assert!(OrderId::parse(&"x".repeat(201)).is_err());
    }
}
