//! The sample body of each event type: what the Test button sends (with the keys it is given
//! put in), and the examples the reference shows.

use super::events::{ProgramEventBody, ProgramRef, SaleEventBody, SaleRef};
use super::Payload;
use crate::domain::EventType;
use crate::error::Result;

/// The sample `program` of membership events.
pub fn sample_program() -> ProgramRef {
    ProgramRef {
        lc_id: "ABC123".into(),
        name: "Summer creators".into(),
    }
}

/// The sample `sale` of `sale.created`.
pub fn sample_sale() -> SaleRef {
    SaleRef {
        lc_id: "ABC123".into(),
        order_id: "order-1001".into(),
        amount: "12.50".into(),
        currency: "USD".into(),
        sold_at: "2022-04-12T11:18:20.902164".into(),
    }
}

/// The creator keys of `payload` around what a non-reward event is about.
pub fn program_body(payload: &Payload) -> ProgramEventBody {
    ProgramEventBody {
        lc_id: payload.lc_id.clone(),
        email: payload.email.clone(),
        ig_username: payload.ig_username.clone(),
        tt_username: payload.tt_username.clone(),
        program: sample_program(),
    }
}

pub fn sale_body(payload: &Payload) -> SaleEventBody {
    SaleEventBody {
        lc_id: payload.lc_id.clone(),
        email: payload.email.clone(),
        ig_username: payload.ig_username.clone(),
        tt_username: payload.tt_username.clone(),
        sale: sample_sale(),
    }
}

/// The sample of `event_type` in the seed's (`medias`) format, as JSON.
pub fn sample_body(event_type: EventType) -> Result<String> {
    let mut payload = Payload::sample();
    if event_type == EventType::PostTagged {
        payload.discount_code = None;
    }
    body_of(event_type, &payload)
}

/// `payload`'s creator keys (and, for rewards and posts, its code and posts) as the body of
/// `event_type`, in the seed's format.
pub fn body_of(event_type: EventType, payload: &Payload) -> Result<String> {
    Ok(match event_type {
        EventType::RewardInstant | EventType::RewardMonthly | EventType::PostTagged => {
            payload.to_body()?
        }
        EventType::ProgramSignedUp
        | EventType::ProgramApproved
        | EventType::ProgramRejected
        | EventType::ProgramRemoved => serde_json::to_string(&program_body(payload))?,
        EventType::SaleCreated => serde_json::to_string(&sale_body(payload))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_sample_with_the_creator_keys_first() {
        for t in EventType::ALL {
            let body = sample_body(t).expect("serialises");
            assert!(
                body.starts_with(r#"{"lcId":"ABC123","email":"creator@example.com","#),
                "{t:?}: {body}"
            );
        }
        assert!(sample_body(EventType::PostTagged)
            .expect("body")
            .contains(r#""discountCode":null"#));
        assert!(sample_body(EventType::SaleCreated)
            .expect("body")
            .contains(r#""amount":"12.50""#));
    }
}
