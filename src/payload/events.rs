//! The bodies of events other than rewards: the creator keys of the seed's body (`lcId` being
//! the event's id), and what the event is about.

use serde::Serialize;
use utoipa::ToSchema;

use super::PayloadMedia;
use crate::domain::{time, Creator, Media, Program, Sale};
use crate::error::Result;

/// The body of `program.signed_up`, `program.approved`, `program.rejected` and
/// `program.removed`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramEventBody {
    /// The event's id (`GET /v1/events`): the same on every retry.
    pub lc_id: String,
    pub email: String,
    #[schema(required = true)]
    pub ig_username: Option<String>,
    #[schema(required = true)]
    pub tt_username: Option<String>,
    pub program: ProgramRef,
}

/// The program a membership event is about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramRef {
    /// The program's id (`/v1/programs/{id}`).
    pub lc_id: String,
    pub name: String,
}

/// The body of `sale.created`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaleEventBody {
    /// The event's id (`GET /v1/events`): the same on every retry.
    pub lc_id: String,
    pub email: String,
    #[schema(required = true)]
    pub ig_username: Option<String>,
    #[schema(required = true)]
    pub tt_username: Option<String>,
    pub sale: SaleRef,
}

/// The sale a `sale.created` is about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaleRef {
    /// The sale's id (`GET /v1/sales`).
    pub lc_id: String,
    pub order_id: String,
    /// Exact, two decimal places.
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$", examples("12.50"))]
    pub amount: String,
    /// ISO 4217.
    #[schema(pattern = "^[A-Z]{3}$", examples("USD"))]
    pub currency: String,
    /// UTC as the seed writes it: `YYYY-MM-DDTHH:MM:SS.ffffff`.
    pub sold_at: String,
}

/// The body of `post.tagged`: the seed's body for that one post, with no code.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostTaggedBody {
    /// The event's id (`GET /v1/events`): the same on every retry. Not the post's id (that is
    /// `medias[0].lcId`).
    pub lc_id: String,
    pub email: String,
    #[schema(required = true)]
    pub ig_username: Option<String>,
    #[schema(required = true)]
    pub tt_username: Option<String>,
    /// Always `null`: a post is no reward. The key is kept so a reward receiver can read it.
    #[schema(schema_with = always_null, required = true)]
    pub discount_code: Option<String>,
    /// The post, alone.
    #[schema(min_items = 1, max_items = 1)]
    pub medias: Vec<PayloadMedia>,
}

fn always_null() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Null))
        .description(Some("Always `null`: a post is no reward."))
        .into()
}

impl PostTaggedBody {
    pub fn to_body(event_id: &str, creator: &Creator, post: &Media) -> Result<String> {
        Ok(serde_json::to_string(&PostTaggedBody {
            lc_id: event_id.to_string(),
            email: creator.email.clone(),
            ig_username: creator.ig_username.clone(),
            tt_username: creator.tt_username.clone(),
            discount_code: None,
            medias: vec![PayloadMedia {
                lc_id: post.id.to_string(),
                posted_at: time::seed_format(post.posted_at),
                post_type: post.post_type,
                platform: post.platform,
            }],
        })?)
    }
}

impl ProgramEventBody {
    pub fn to_body(event_id: &str, creator: &Creator, program: &Program) -> Result<String> {
        Ok(serde_json::to_string(&ProgramEventBody {
            lc_id: event_id.to_string(),
            email: creator.email.clone(),
            ig_username: creator.ig_username.clone(),
            tt_username: creator.tt_username.clone(),
            program: ProgramRef {
                lc_id: program.id.to_string(),
                name: program.name.clone(),
            },
        })?)
    }
}

impl SaleEventBody {
    pub fn to_body(event_id: &str, creator: &Creator, sale: &Sale) -> Result<String> {
        Ok(serde_json::to_string(&SaleEventBody {
            lc_id: event_id.to_string(),
            email: creator.email.clone(),
            ig_username: creator.ig_username.clone(),
            tt_username: creator.tt_username.clone(),
            sale: SaleRef {
                lc_id: sale.id.to_string(),
                order_id: sale.order_id.clone(),
                amount: sale.amount.to_decimal_string(),
                currency: sale.currency.as_str().to_string(),
                sold_at: time::seed_format(sale.sold_at),
            },
        })?)
    }
}
