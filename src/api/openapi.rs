//! The OpenAPI 3.1 document. Operations and schemas come from the handlers' `#[utoipa::path]`
//! and the types' `ToSchema`; this module adds what every operation shares (the admin token,
//! the error answers) and the outbound webhook itself, so a receiver can be generated from it.

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, InfoBuilder, LicenseBuilder, OpenApi, PathItem, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorBody;
use crate::domain::EventType;
use crate::domain::Order;
use crate::payload::events::{PostTaggedBody, ProgramEventBody, SaleEventBody};
use crate::payload::{Payload, PostsPayload};

const SECURITY: &str = "adminToken";

const DESCRIPTION: &str = "\
lc-webhooks watches creators' social posts, evaluates reward rules such as \"2 Story posts\", and \
when a creator earns a reward pushes LoudCrowd's webhook payload to every registered integration, \
with durable retries and a delivery log.

* **Errors** are `{\"error\": {\"code\": \"snake_case\", \"message\": \"…\"}}`: `400` a malformed \
request (JSON that does not parse, a query parameter the operation does not take, a cursor that is \
not an id), `401` a missing or wrong admin token, `404` no such thing, `409` a conflict (an email \
taken, a delivery still pending, an id in the body that names nothing), `413` a \
body over 1 MiB, `422` well-formed input with a value that is refused, `503` the database is not \
answering.
* **Lists** are `{\"items\": [...], \"nextCursor\": \"…\"|null}`: pass `nextCursor` back as \
`?cursor=` until it is `null`. `?limit=` is 1 to 500 (default 50).
* **Timestamps** are RFC 3339 in UTC, with microseconds.
* With an admin token configured (`--admin-token`), every `/v1` request needs \
`Authorization: Bearer <token>`; `/healthz`, `/metrics`, this document and `/docs` never do.
* The outbound webhook (its body, headers and signature) is described under `webhooks`.";

/// Completes the document the routers collected.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("lc-webhooks")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(DESCRIPTION))
        .license(Some(LicenseBuilder::new().name("MIT").build()))
        .build();
    doc.tags = Some(
        [
            (
                "integrations",
                "Outbound webhooks: where rewards are sent, and the Test button",
            ),
            ("creators", "The creators whose posts are watched"),
            (
                "media",
                "Creators' posts: each is evaluated against the rules exactly once",
            ),
            ("rules", "Reward rules, e.g. \"2 Story posts\""),
            (
                "programs",
                "Programs creators sign up for, and their members: approve, reject, remove",
            ),
            (
                "fulfillments",
                "Rewards granted, with the payload sent for each",
            ),
            (
                "deliveries",
                "The delivery log: every webhook, its attempts, and retry",
            ),
            (
                "events",
                "Every event sent as a webhook (`lc-event-type`), rewards included",
            ),
            (
                "sales",
                "Sales of creators' storefronts: each sends `sale.created`",
            ),
            ("operations", "Health and metrics, without the admin token"),
        ]
        .into_iter()
        .map(|(name, about)| {
            TagBuilder::new()
                .name(name)
                .description(Some(about))
                .build()
        })
        .collect(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SECURITY,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The admin token given with `--admin-token` / `LC_ADMIN_TOKEN`; without one \
                     configured the API is open (and listens only on loopback).",
                ))
                .build(),
        ),
    );
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    schemas.push((Payload::name().into_owned(), Payload::schema()));
    // Named by a query parameter only, which does not collect its schema.
    schemas.push((Order::name().into_owned(), Order::schema()));
    Payload::schemas(&mut schemas);
    schemas.push((PostsPayload::name().into_owned(), PostsPayload::schema()));
    PostsPayload::schemas(&mut schemas);
    schemas.push((
        ProgramEventBody::name().into_owned(),
        ProgramEventBody::schema(),
    ));
    ProgramEventBody::schemas(&mut schemas);
    schemas.push((SaleEventBody::name().into_owned(), SaleEventBody::schema()));
    SaleEventBody::schemas(&mut schemas);
    schemas.push((
        PostTaggedBody::name().into_owned(),
        PostTaggedBody::schema(),
    ));
    PostTaggedBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    if let Some(test_data) = components.schemas.remove("TestData") {
        components
            .schemas
            .insert("TestData".into(), with_reward_keys(test_data));
    }
    if let Some(create_rule) = components.schemas.remove("CreateRule") {
        components.schemas.insert(
            "CreateRule".into(),
            super::rules::with_option_pairs(create_rule),
        );
    }
    for (name, description) in ERRORS {
        components.responses.insert(
            name.to_string(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
            add_shared(path, operation);
        }
    }
    doc.webhooks = Some(webhooks());
    doc
}

/// The error answers operations share, by status, and what each means there.
const ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed: the body is not JSON or cannot be read, or a query parameter is unknown, repeated, or an id (`cursor`, `creatorId`, …) that is not one (`malformed_json`, `unreadable_body`, `invalid_path`, `unknown_parameter`, `repeated_parameter`, `invalid_cursor`, `invalid_parameter`)"),
    ("401", "The admin token is missing or wrong (`unauthorized`)"),
    ("404", "No such thing (`not_found`)"),
    ("413", "The body is larger than 1 MiB (`payload_too_large`)"),
    ("422", "Well-formed, but a value is refused: the code names it (`invalid_url`, `invalid_count`, `invalid_creator_id`, `invalid_limit`, …)"),
    ("500", "Something failed inside the service (`internal`); details are in its log"),
    ("503", "The database is not answering (`store_unavailable`); try again"),
];

fn error_response(status: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::Ref(Ref::from_response_name(status))
}

/// The token, and the error answers an operation can give by what it takes.
fn add_shared(path: &str, op: &mut Operation) {
    let mut statuses = Vec::new();
    if path.starts_with("/v1/") {
        op.security = Some(vec![SecurityRequirement::new(
            SECURITY,
            Vec::<String>::new(),
        )]);
        statuses.extend(["400", "401", "500", "503"]);
    }
    if op.request_body.is_some() {
        statuses.extend(["413", "422"]);
    }
    let takes = |name: &str| {
        op.parameters
            .iter()
            .flatten()
            .any(|p| matches!(p, RefOr::T(p) if p.name == name))
    };
    if takes("limit") {
        statuses.push("422");
    }
    if path.contains('{') {
        statuses.push("404");
    }
    for status in statuses {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(status));
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.patch,
        &mut item.put,
        &mut item.delete,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The webhooks a receiver gets: one entry per event type (named by it, as `lc-event-type`
/// says), each with its body's schema and an example.
fn webhooks() -> utoipa::openapi::Paths {
    EventType::ALL
        .into_iter()
        .fold(PathsBuilder::new(), |paths, t| {
            paths.path(t.as_str(), PathItem::new(HttpMethod::Post, webhook(t)))
        })
        .build()
}

/// What a webhook of `event_type` is, in a sentence, and its operation id.
fn about(event_type: EventType) -> (&'static str, &'static str) {
    match event_type {
        EventType::RewardInstant => (
            "rewardInstant",
            "A creator reached an instant rule's threshold",
        ),
        EventType::RewardMonthly => (
            "rewardMonthly",
            "A monthly rule's month was run and the creator reached a tier",
        ),
        EventType::ProgramSignedUp => ("programSignedUp", "A creator signed up for a program"),
        EventType::ProgramApproved => (
            "programApproved",
            "A member was approved (at once under AUTOMATIC approval)",
        ),
        EventType::ProgramRejected => ("programRejected", "A pending member was rejected"),
        EventType::ProgramRemoved => ("programRemoved", "An approved member was removed"),
        EventType::PostTagged => ("postTagged", "A creator made a post (once per post)"),
        EventType::SaleCreated => ("saleCreated", "A creator's storefront made a sale"),
    }
}

/// The schema of `event_type`'s body.
fn body_schema(event_type: EventType) -> RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{OneOfBuilder, Schema};
    let named = |name: std::borrow::Cow<'static, str>| RefOr::Ref(Ref::from_schema_name(name));
    match event_type {
        EventType::RewardInstant | EventType::RewardMonthly => RefOr::T(Schema::OneOf(
            OneOfBuilder::new()
                .description(Some(
                    "`Payload` (the seed's body) for an integration with `payloadFormat: \
                     \"medias\"` (the default), `PostsPayload` for `\"posts\"`.",
                ))
                .item(named(Payload::name()))
                .item(named(PostsPayload::name()))
                .build(),
        )),
        EventType::ProgramSignedUp
        | EventType::ProgramApproved
        | EventType::ProgramRejected
        | EventType::ProgramRemoved => named(ProgramEventBody::name()),
        EventType::PostTagged => named(PostTaggedBody::name()),
        EventType::SaleCreated => named(SaleEventBody::name()),
    }
}

/// A webhook of `event_type`.
fn webhook(event_type: EventType) -> Operation {
    let header = |name: &str, required: bool, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(description))
            .schema(Some(String::schema()))
            .build()
    };
    let (operation_id, summary) = about(event_type);
    let example = crate::payload::samples::sample_body(event_type)
        .ok()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok());
    utoipa::openapi::path::OperationBuilder::new()
        .operation_id(Some(operation_id))
        .summary(Some(summary))
        .description(Some(
            "POSTed to the `url` of every integration whose `eventTypes` include this type, \
             once per event, and again on each retry with \
             the same `webhook-id` and identical bytes. Any 2xx answer is success; anything \
             else (another status, a timeout, a refused connection, a TLS error) is a failed \
             attempt, retried on the schedule (`--retry-schedule`, default 5s, 5m, 30m, 2h, \
             5h, 10h, 10h). A `Retry-After` on 429 or 503 lengthens the wait. Redirects are \
             not followed. Treat `webhook-id` as an idempotency key: after a crash a webhook \
             may arrive twice.\n\n\
             **Signature** (only when the integration has a `signingSecret`): \
             `webhook-signature: v1,<base64 HMAC-SHA256>`, keyed with the base64-decoded part \
             of the secret after `whsec_`, over `<webhook-id>.<webhook-timestamp>.<body>` (the \
             raw body bytes), as Standard Webhooks specifies. Compare in constant time and \
             refuse a `webhook-timestamp` more than a few minutes from your clock.",
        ))
        .parameter(header(
            "Authorization",
            false,
            "The integration's API key as `<authPrefix><apiKey>` (default `Bearer <apiKey>`); \
             sent in the header named by `authHeader` (default `Authorization`).",
        ))
        .parameter(header(
            "webhook-id",
            true,
            "The delivery's id: the same on every retry of this webhook.",
        ))
        .parameter(header(
            "webhook-timestamp",
            true,
            "Unix seconds at which this attempt was sent.",
        ))
        .parameter(header(
            "webhook-signature",
            false,
            "`v1,<base64 HMAC-SHA256>`; present when the integration has a signing secret.",
        ))
        .parameter(header(
            "lc-event-type",
            true,
            "What the webhook is about (`EventType`): this entry's name. The Test send names \
             the type whose sample it sends (default `reward.instant`).",
        ))
        .parameter(header(
            "User-Agent",
            true,
            concat!("`lc-webhooks/", env!("CARGO_PKG_VERSION"), "`"),
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(body_schema(event_type)))
                        .example(example)
                        .build(),
                )
                .build(),
        ))
        .response(
            "2XX",
            ResponseBuilder::new().description("Received: the delivery succeeded"),
        )
        .response(
            "default",
            ResponseBuilder::new().description("Anything else: the attempt failed and is retried"),
        )
        .build()
}

/// The Test send's schema, with what `eventType` asks of the body: `discountCode` and `medias`
/// are keys of reward and `post.tagged` bodies only (else a 422, as any refused value).
fn with_reward_keys(
    test_data: RefOr<utoipa::openapi::schema::Schema>,
) -> RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, SchemaType, Type};
    // `null` or absent: the default, `reward.instant`.
    let with_keys = [
        EventType::RewardInstant,
        EventType::RewardMonthly,
        EventType::PostTagged,
    ]
    .map(|t| serde_json::Value::from(t.as_str()))
    .into_iter()
    .chain([serde_json::Value::Null]);
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    let keys = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new().property(
                "eventType",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .enum_values(Some(with_keys)),
            ),
        )
        .item(
            ObjectBuilder::new()
                .property("discountCode", null())
                .property("medias", null()),
        );
    AllOfBuilder::new().item(test_data).item(keys).into()
}
