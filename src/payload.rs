//! The webhook body, exactly as LoudCrowd's seed page defines it (`medias`), or as its later
//! help page does (`posts`, with each post's platform).

pub mod events;
pub mod samples;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    time, Creator, EventType, Invalid, Media, PayloadFormat, Platform, PostType, Problem,
};
use crate::error::Result;

/// The webhook body, as LoudCrowd's seed page defines it. Field order and names are the
/// contract; a missing value is written as `null`, never left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// The reward fulfillment's id (`/v1/fulfillments/{id}`): the same on every retry.
    pub lc_id: String,
    pub email: String,
    #[schema(required = true)]
    pub ig_username: Option<String>,
    #[schema(required = true)]
    pub tt_username: Option<String>,
    /// Unique per fulfillment; `null` when the reward is not code-based.
    #[schema(required = true)]
    pub discount_code: Option<String>,
    /// The posts that earned this reward, oldest first.
    pub medias: Vec<PayloadMedia>,
}

/// One post in a webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayloadMedia {
    /// The post's id, as `POST /v1/media` returned it.
    pub lc_id: String,
    /// UTC as the seed writes it: `YYYY-MM-DDTHH:MM:SS.ffffff`, six fractional digits, no offset.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$",
        examples("2022-04-12T11:18:20.902164")
    )]
    pub posted_at: String,
    pub post_type: PostType,
    /// Not in the seed's body; the `posts` format writes it.
    #[serde(skip)]
    pub platform: Platform,
}

/// The webhook body of an integration with `payloadFormat: "posts"`: the same keys, with
/// `posts` instead of `medias`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostsPayload {
    /// The reward fulfillment's id (`/v1/fulfillments/{id}`): the same on every retry.
    pub lc_id: String,
    pub email: String,
    #[schema(required = true)]
    pub ig_username: Option<String>,
    #[schema(required = true)]
    pub tt_username: Option<String>,
    #[schema(required = true)]
    pub discount_code: Option<String>,
    /// The posts that earned this reward, oldest first.
    pub posts: Vec<PayloadPost>,
}

/// One post in a `posts` body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayloadPost {
    pub lc_id: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SS.ffffff`, as in `medias`.
    pub posted_at: String,
    pub post_type: PostType,
    pub platform: PostPlatform,
}

/// A post's platform as LoudCrowd's later payload spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostPlatform {
    Instagram,
    TikTok,
}

impl From<Platform> for PostPlatform {
    fn from(p: Platform) -> Self {
        match p {
            Platform::Instagram => PostPlatform::Instagram,
            Platform::Tiktok => PostPlatform::TikTok,
        }
    }
}

impl From<PostPlatform> for Platform {
    fn from(p: PostPlatform) -> Self {
        match p {
            PostPlatform::Instagram => Platform::Instagram,
            PostPlatform::TikTok => Platform::Tiktok,
        }
    }
}

impl Payload {
    /// The body for one fulfillment; `medias` is sorted oldest first.
    pub fn for_fulfillment(
        fulfillment_id: &str,
        creator: &Creator,
        discount_code: Option<String>,
        medias: &[Media],
    ) -> Payload {
        let mut medias: Vec<&Media> = medias.iter().collect();
        medias.sort_by(|a, b| a.posted_at.cmp(&b.posted_at).then_with(|| a.id.cmp(&b.id)));
        Payload {
            lc_id: fulfillment_id.to_string(),
            email: creator.email.clone(),
            ig_username: creator.ig_username.clone(),
            tt_username: creator.tt_username.clone(),
            discount_code,
            medias: medias
                .into_iter()
                .map(|m| PayloadMedia {
                    lc_id: m.id.to_string(),
                    posted_at: time::seed_format(m.posted_at),
                    post_type: m.post_type,
                    platform: m.platform,
                })
                .collect(),
        }
    }

    /// The bytes that are stored once and sent on every attempt, in the seed's format.
    pub fn to_body(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// The bytes in the given format.
    pub fn to_body_as(&self, format: PayloadFormat) -> Result<String> {
        match format {
            PayloadFormat::Medias => self.to_body(),
            PayloadFormat::Posts => Ok(serde_json::to_string(&self.to_posts())?),
        }
    }

    /// The same body with `posts` instead of `medias`.
    pub fn to_posts(&self) -> PostsPayload {
        PostsPayload {
            lc_id: self.lc_id.clone(),
            email: self.email.clone(),
            ig_username: self.ig_username.clone(),
            tt_username: self.tt_username.clone(),
            discount_code: self.discount_code.clone(),
            posts: self
                .medias
                .iter()
                .map(|m| PayloadPost {
                    lc_id: m.lc_id.clone(),
                    posted_at: m.posted_at.clone(),
                    post_type: m.post_type,
                    platform: m.platform.into(),
                })
                .collect(),
        }
    }

    /// What the Test button sends when given nothing: the seed page's sample.
    pub fn sample() -> Payload {
        Payload {
            lc_id: "ABC123".into(),
            email: "creator@example.com".into(),
            ig_username: Some("instagram.username".into()),
            tt_username: Some("tiktok.username".into()),
            discount_code: Some("code123".into()),
            medias: vec![PayloadMedia {
                lc_id: "ABC123".into(),
                posted_at: "2022-04-12T11:18:20.902164".into(),
                post_type: PostType::Story,
                platform: Platform::Instagram,
            }],
        }
    }
}

/// The schema of a stored body in either format: what a delivery shows as its `payload`.
pub fn either_format() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::{OneOfBuilder, Ref, RefOr};
    let one_of = OneOfBuilder::new()
        .description(Some(
            "A reward's body: `Payload` for an integration with `payloadFormat: \"medias\"` \
             (the default), `PostsPayload` for `\"posts\"`. Other events' bodies (named by \
             `lc-event-type`): `ProgramEventBody` for `program.*`, `SaleEventBody` for \
             `sale.created`; a `post.tagged` body (`PostTaggedBody`) has `Payload`'s keys, \
             with one post and `discountCode: null`.",
        ))
        .item(Ref::from_schema_name(Payload::name()))
        .item(Ref::from_schema_name(PostsPayload::name()))
        .item(Ref::from_schema_name(events::ProgramEventBody::name()))
        .item(Ref::from_schema_name(events::SaleEventBody::name()))
        .build();
    RefOr::T(Schema::OneOf(one_of))
}

/// Test data for the Test button: any subset of the payload's keys; the rest are the sample's
/// (`creator@example.com`, `instagram.username`, …).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestData {
    /// The event type whose sample is sent (and named in `lc-event-type`); default
    /// `reward.instant`. `discountCode` and `medias` are keys of reward and `post.tagged` bodies
    /// only.
    #[schema(value_type = Option<EventType>)]
    pub event_type: Option<String>,
    pub lc_id: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    pub ig_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    pub tt_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    pub discount_code: Option<Option<String>>,
    /// Also accepted as `posts`, the key of the `posts` format.
    #[serde(
        alias = "posts",
        default,
        deserialize_with = "crate::domain::object::option_vec::deserialize"
    )]
    pub medias: Option<Vec<TestMedia>>,
}

/// One post of the test body; missing keys take the sample's values.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestMedia {
    pub lc_id: Option<String>,
    /// RFC 3339 or the seed's format; written in the seed's format.
    #[schema(schema_with = sample_posted_at)]
    pub posted_at: Option<String>,
    pub post_type: Option<PostType>,
    /// Sent only in the `posts` format; default `instagram`.
    pub platform: Option<PostPlatform>,
}

fn sample_posted_at() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    time::timestamp_input_schema("the sample's")
}

/// What the Test button sends: an event type and the body of its sample with the given keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    pub event_type: EventType,
    /// The creator keys, code and posts; for other events, its creator keys are used.
    pub payload: Payload,
}

impl TestEvent {
    /// The body sent to an integration taking `format` (rewards only come in `posts`).
    pub fn body(&self, format: PayloadFormat) -> Result<String> {
        match self.event_type {
            EventType::RewardInstant | EventType::RewardMonthly => self.payload.to_body_as(format),
            other => samples::body_of(other, &self.payload),
        }
    }
}

impl TestData {
    /// The event type named (default `reward.instant`) and its sample with the given keys put in.
    pub fn into_event(self) -> Result<TestEvent> {
        let event_type = match self.event_type.as_deref() {
            None => EventType::RewardInstant,
            Some(name) => EventType::parse(name).ok_or_else(|| {
                Invalid::new(
                    Problem::EventType,
                    format!(
                        "eventType: `{}` is not an event type (one of {})",
                        name.escape_debug(),
                        EventType::ALL.map(EventType::as_str).join(", ")
                    ),
                )
            })?,
        };
        let rewardish = matches!(
            event_type,
            EventType::RewardInstant | EventType::RewardMonthly | EventType::PostTagged
        );
        // `null` stands for a key left out.
        if !rewardish && (matches!(self.discount_code, Some(Some(_))) || self.medias.is_some()) {
            return Err(Invalid::new(
                Problem::EventType,
                format!(
                    "a {} body has no discountCode nor medias",
                    event_type.as_str()
                ),
            )
            .into());
        }
        let code_given = self.discount_code.is_some();
        let mut payload = self.into_payload()?;
        if event_type == EventType::PostTagged && !code_given {
            // post.tagged is no reward: its code is null unless the caller gave one.
            payload.discount_code = None;
        }
        Ok(TestEvent {
            event_type,
            payload,
        })
    }

    /// The sample payload with the given keys put in; `postedAt` is normalised to the seed format.
    pub fn into_payload(self) -> Result<Payload> {
        let mut p = Payload::sample();
        let sample_media = p.medias[0].clone();
        if let Some(v) = self.lc_id {
            p.lc_id = v;
        }
        if let Some(v) = self.email {
            p.email = v;
        }
        if let Some(v) = self.ig_username {
            p.ig_username = v;
        }
        if let Some(v) = self.tt_username {
            p.tt_username = v;
        }
        if let Some(v) = self.discount_code {
            p.discount_code = v;
        }
        if let Some(medias) = self.medias {
            p.medias = medias
                .into_iter()
                .map(|m| {
                    let posted_at = match m.posted_at {
                        Some(s) => {
                            time::seed_format(time::parse_flexible(&s).ok_or_else(|| {
                                Invalid::new(
                                    Problem::PostedAt,
                                    format!("postedAt `{s}` is not a timestamp"),
                                )
                            })?)
                        }
                        None => sample_media.posted_at.clone(),
                    };
                    Ok(PayloadMedia {
                        lc_id: m.lc_id.unwrap_or_else(|| sample_media.lc_id.clone()),
                        posted_at,
                        post_type: m.post_type.unwrap_or(sample_media.post_type),
                        platform: m.platform.map_or(sample_media.platform, Platform::from),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreatorId, MediaId};

    fn creator(ig: Option<&str>) -> Creator {
        Creator {
            id: CreatorId::named("c1"),
            email: "creator@example.com".into(),
            ig_username: ig.map(str::to_string),
            tt_username: None,
            created_at: time::now(),
        }
    }

    fn media(id: &str, at: &str) -> Media {
        let t = time::parse_flexible(at).expect("time");
        Media {
            id: MediaId::named(id),
            creator_id: CreatorId::named("c1"),
            platform: crate::domain::Platform::Instagram,
            post_type: PostType::Story,
            posted_at: t,
            ingested_at: t,
            external_id: None,
            media_type: None,
        }
    }

    #[test]
    fn body_has_exactly_the_seed_keys_in_order_with_nulls() {
        let m = [
            media("m2", "2022-04-12T11:18:20.902164"),
            media("m1", "2022-04-11T09:00:00"),
        ];
        let body = Payload::for_fulfillment("f1", &creator(Some("ig.user")), None, &m)
            .to_body()
            .expect("serialises");
        let (m1, m2) = (MediaId::named("m1"), MediaId::named("m2"));
        assert_eq!(
            body,
            format!(
                r#"{{"lcId":"f1","email":"creator@example.com","igUsername":"ig.user","ttUsername":null,"discountCode":null,"medias":[{{"lcId":"{m1}","postedAt":"2022-04-11T09:00:00.000000","postType":"STORY"}},{{"lcId":"{m2}","postedAt":"2022-04-12T11:18:20.902164","postType":"STORY"}}]}}"#
            )
        );
    }

    #[test]
    fn the_posts_format_has_the_same_keys_with_posts_and_platforms() {
        let mut tiktok = media("m2", "2022-04-12T11:18:20.902164");
        tiktok.platform = Platform::Tiktok;
        let m = [tiktok, media("m1", "2022-04-11T09:00:00")];
        let body = Payload::for_fulfillment("f1", &creator(Some("ig.user")), None, &m)
            .to_body_as(PayloadFormat::Posts)
            .expect("serialises");
        let (m1, m2) = (MediaId::named("m1"), MediaId::named("m2"));
        assert_eq!(
            body,
            format!(
                r#"{{"lcId":"f1","email":"creator@example.com","igUsername":"ig.user","ttUsername":null,"discountCode":null,"posts":[{{"lcId":"{m1}","postedAt":"2022-04-11T09:00:00.000000","postType":"STORY","platform":"instagram"}},{{"lcId":"{m2}","postedAt":"2022-04-12T11:18:20.902164","postType":"STORY","platform":"tik_tok"}}]}}"#
            )
        );
    }

    #[test]
    fn test_data_takes_posts_with_platforms() {
        let data: TestData =
            serde_json::from_str(r#"{"posts":[{"platform":"tik_tok"}]}"#).expect("parses");
        let body = data
            .into_payload()
            .expect("valid")
            .to_body_as(PayloadFormat::Posts)
            .expect("serialises");
        assert!(body.contains(r#""platform":"tik_tok""#), "{body}");
        assert!(serde_json::from_str::<TestData>(r#"{"posts":[{"platform":"TIKTOK"}]}"#).is_err());
    }

    #[test]
    fn test_data_overrides_the_sample() {
        let data: TestData = serde_json::from_str(
            r#"{"email":"me@brand.com","igUsername":null,"medias":[{"postType":"REEL","postedAt":"2023-01-02T03:04:05Z"}]}"#,
        )
        .expect("parses");
        let p = data.into_payload().expect("valid");
        assert_eq!(p.email, "me@brand.com");
        assert_eq!(p.ig_username, None);
        assert_eq!(p.tt_username.as_deref(), Some("tiktok.username"));
        assert_eq!(p.medias[0].post_type, PostType::Reel);
        assert_eq!(p.medias[0].posted_at, "2023-01-02T03:04:05.000000");
    }

    #[test]
    fn unknown_test_keys_are_refused() {
        assert!(serde_json::from_str::<TestData>(r#"{"emial":"x"}"#).is_err());
    }
}
