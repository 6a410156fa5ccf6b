//! Sales of creators' storefronts: `POST /v1/sales` is idempotent by `orderId`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{
    time, Amount, CreatorId, Currency, Invalid, NewSale, OrderId, Page, Problem, Sale,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list))
}

/// A sale a creator's storefront made.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateSale {
    creator_id: CreatorId,
    /// The shop's order id, 1–200 printable ASCII characters: sending it again answers with the
    /// sale already stored, and sends no second `sale.created`.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[\\x20-\\x7E]*$",
        examples("order-1001")
    )]
    order_id: String,
    /// An exact decimal string with at most two places (never a JSON number): `"12.50"`.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$", examples("12.50"))]
    amount: String,
    /// ISO 4217: three upper-case letters.
    #[schema(pattern = "^[A-Z]{3}$", examples("USD"))]
    currency: String,
    /// When it sold: RFC 3339 or the seed's format; default now.
    #[schema(format = DateTime)]
    sold_at: Option<String>,
}

/// Records a sale and sends `sale.created` to the integrations that subscribe to it.
#[utoipa::path(
    post,
    path = "/sales",
    tag = "sales",
    operation_id = "createSale",
    request_body = CreateSale,
    responses(
        (status = 201, description = "Recorded; its `sale.created` is queued", body = Sale),
        (status = 200, description = "A sale with this `orderId` is stored already: that sale, and no second event", body = Sale),
        (status = 409, description = "No creator with this id (`unknown_creator`)", body = super::error::ErrorBody),
    ),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateSale>,
) -> ApiResult<(StatusCode, Json<Sale>)> {
    let sold_at = match req.sold_at.as_deref() {
        Some(raw) => time::parse_flexible(raw).ok_or_else(|| {
            Invalid::new(
                Problem::SoldAt,
                format!("soldAt `{}` is not a timestamp", raw.escape_debug()),
            )
        })?,
        None => s.clock.now(),
    };
    let sale = NewSale {
        creator_id: req.creator_id,
        order_id: OrderId::parse(&req.order_id)?,
        amount: Amount::parse(&req.amount)?,
        currency: Currency::parse(&req.currency)?,
        sold_at,
    };
    let recorded = s.store.record_sale(sale, s.clock.now()).await?;
    if recorded.queued > 0 {
        s.deliveries_ready.notify_one();
    }
    let status = if recorded.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(recorded.sale)))
}

/// Lists sales, oldest first.
#[utoipa::path(
    get,
    path = "/sales",
    tag = "sales",
    operation_id = "listSales",
    params(
        ("creatorId" = Option<String>, Query, format = Uuid, description = "Only this creator's sales"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Sale>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Sale>>> {
    let creator: Option<CreatorId> = params.id("creatorId")?;
    Ok(Json(
        s.store
            .list_sales(creator.as_ref(), &params.page()?)
            .await?,
    ))
}
