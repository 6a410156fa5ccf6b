//! OpenTelemetry traces, off unless a collector is named (`OTEL_EXPORTER_OTLP_ENDPOINT`). One
//! trace per post: the request, the ingest transaction, the evaluation and every attempt of
//! every webhook it earned. Deliveries cross the durable queue, so the evaluation's W3C
//! `traceparent` is stored with the reward and each attempt's span is made its child.
//!
//! When off nothing here creates a span or reads a context: every entry point first checks
//! [`on`], one relaxed atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use thiserror::Error;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer as _;

/// The W3C header naming a span: on `POST /v1/media` (the caller's) and on every webhook (the
/// attempt's).
pub const TRACEPARENT: &str = "traceparent";

/// How long one export to the collector may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

static ON: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported. False unless [`Exporter::start`] succeeded in this process.
#[inline]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// How spans reach the collector: OTLP over HTTP, as protobuf (the default) or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OtlpProtocol {
    #[default]
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
}

/// Where to export spans.
#[derive(Debug, Clone)]
pub struct TraceExport {
    /// The collector's base URL (`http://localhost:4318`); spans go to `<endpoint>/v1/traces`.
    pub endpoint: url::Url,
    pub protocol: OtlpProtocol,
}

#[derive(Debug, Error)]
#[error("cannot export traces to OTEL_EXPORTER_OTLP_ENDPOINT: {0}")]
pub struct TraceError(String);

/// The exporter while it runs; [`Exporter::shutdown`] sends what is buffered.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Builds the batch exporter and the tracing layer that feeds it. Must be called inside a
    /// Tokio runtime: the exports run on it (the batch processor's own thread waits for them).
    pub fn start<S>(
        export: &TraceExport,
    ) -> Result<(Exporter, impl tracing_subscriber::Layer<S>), TraceError>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| TraceError(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TraceError(e.to_string()))?;
        let base = export.endpoint.as_str().trim_end_matches('/');
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OnRuntime { client, runtime })
            .with_endpoint(format!("{base}/v1/traces"))
            .with_protocol(match export.protocol {
                OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
                OtlpProtocol::HttpJson => Protocol::HttpJson,
            })
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TraceError(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("lc-webhooks").build())
            .build();
        let tracer = provider.tracer("lc-webhooks");
        // The service's own `info` spans (a post's: request, ingest, evaluate, attempt) and
        // events; not the HTTP server's, client's or database driver's. A static filter: with a
        // per-call one (`filter_fn`) the exporter missed spans whose parent is the current span
        // (seen in tests/otel.rs on PostgreSQL; the cause was not pinned down).
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("lc_webhooks", tracing::Level::INFO),
            );
        ON.store(true, Ordering::Relaxed);
        Ok((Exporter { provider }, layer))
    }

    /// Exports every span ended so far (tests call it before reading what the collector got).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "exporting traces failed");
        }
    }

    /// Exports what is buffered and stops. Call it while the runtime still runs.
    pub fn shutdown(self) {
        ON.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "exporting the last traces failed");
        }
    }
}

/// The service's own HTTP client (reqwest with rustls), its requests run on the service's
/// runtime: the batch processor exports from a thread of its own, outside any runtime.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        let answer = self.runtime.spawn(async move {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = answer.await??;
        let mut response = http::Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// A span of the service's, `Span::none()` when tracing is off.
#[macro_export]
macro_rules! trace_span {
    ($($arg:tt)+) => {
        if $crate::traces::on() {
            tracing::info_span!($($arg)+)
        } else {
            tracing::Span::none()
        }
    };
}

/// The span as a W3C `traceparent`; `None` when tracing is off or the span is not exported.
pub fn traceparent(span: &Span) -> Option<String> {
    if !on() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| format(&span_context))
}

fn format(span: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    )
}

/// Makes `span` a child of the span a `traceparent` names (a caller's, or a stored
/// evaluation's). A missing or malformed one leaves `span` the root of a trace of its own.
pub fn set_parent(span: &Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent.filter(|_| on()) else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Links `span` to another span (a request sharing a grouped transaction).
pub fn link(span: &Span, to: &Span) {
    if !on() {
        return;
    }
    let other = to.context().span().span_context().clone();
    if other.is_valid() {
        span.add_link(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn a_span_context_is_written_as_a_w3c_traceparent() {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id"),
            SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        assert_eq!(
            format(&span),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[test]
    fn tracing_is_off_unless_started() {
        assert!(!on());
        assert_eq!(traceparent(&Span::current()), None);
    }
}
