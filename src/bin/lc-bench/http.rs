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

/// Per stage (`evaluate`, `claim`, `record`), summed over the services: batches, rows and
/// seconds in the store, from each service's `/metrics`.
pub(crate) async fn batch_figures(
    client: &reqwest::Client,
    bases: &[String],
) -> Result<Vec<(&'static str, f64, f64, f64)>> {
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
    let sum = |series: &str| -> f64 {
        pages
            .iter()
            .flat_map(|page| page.lines())
            .filter_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
            .sum()
    };
    Ok(["evaluate", "claim", "record"]
        .into_iter()
        .map(|stage| {
            let label = format!("{{stage=\"{stage}\"}}");
            (
                stage,
                sum(&format!("lc_webhooks_batch_rows_count{label}")),
                sum(&format!("lc_webhooks_batch_rows_sum{label}")),
                sum(&format!("lc_webhooks_batch_seconds_sum{label}")),
            )
        })
        .collect())
}
