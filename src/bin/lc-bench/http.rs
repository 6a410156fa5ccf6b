//! JSON over HTTP to the service under test.

use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub(crate) async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body)?)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("POST {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value> {
    let resp = client.get(url).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("GET {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

pub(crate) async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    child: &mut Child,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("{url}: process exited with {status} before answering");
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each service's `/metrics` page.
pub(crate) async fn scrape_metrics(
    client: &reqwest::Client,
    bases: &[String],
) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    for base in bases {
        pages.push(
            client
                .get(format!("{base}/metrics"))
                .send()
                .await?
                .text()
                .await?,
        );
    }
    Ok(pages)
}

/// One series (name and labels exactly as rendered) summed over the pages.
pub(crate) fn metric_sum(pages: &[String], series: &str) -> f64 {
    pages
        .iter()
        .flat_map(|page| page.lines())
        .filter_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .sum()
}

/// A series with one label, summed per label value over the pages (`name{label="value"} x`).
pub(crate) fn metric_by_label(
    pages: &[String],
    name: &str,
) -> std::collections::BTreeMap<String, f64> {
    let mut sums = std::collections::BTreeMap::new();
    for line in pages.iter().flat_map(|page| page.lines()) {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = labels
            .split_once('=')
            .map_or(labels, |(_, v)| v.trim_matches('"'));
        if let Ok(v) = value.trim().parse::<f64>() {
            *sums.entry(label.to_string()).or_insert(0.0) += v;
        }
    }
    sums
}

/// Per stage (`evaluate`, `claim`, `record`), summed over the services: batches, rows and
/// seconds in the store.
pub(crate) fn batch_figures(pages: &[String]) -> Vec<(&'static str, f64, f64, f64)> {
    ["ingest", "evaluate", "claim", "record"]
        .into_iter()
        .map(|stage| {
            let label = format!("{{stage=\"{stage}\"}}");
            (
                stage,
                metric_sum(pages, &format!("lc_webhooks_batch_rows_count{label}")),
                metric_sum(pages, &format!("lc_webhooks_batch_rows_sum{label}")),
                metric_sum(pages, &format!("lc_webhooks_batch_seconds_sum{label}")),
            )
        })
        .collect()
}
