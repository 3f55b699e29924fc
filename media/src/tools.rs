//! Tool calls that leave the call, started by `start_tool` for any transport: transfers (SIP REFER through
//! the signalling task, or the provider's REST API) and operator-defined webhooks over HTTP(S). A webhook runs
//! on a blocking thread (never on the call's task) with the tool's timeout; the reply text, cut to
//! [`MAX_RESULT_BYTES`], goes back to the language model. Failures come back as errors the model can talk
//! about.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::call::{CallKey, CallNotice};
use crate::conversation::agent::HttpTool;

/// Longest tool result handed to the model (a small model's context is short).
pub const MAX_RESULT_BYTES: usize = 4096;

/// The result of a tool call carried out for a call's agent: (id, result, whether it was a transfer).
pub(crate) type ToolOutcome = (u64, Result<String, String>, bool);

/// How a call's transport carries out a transfer.
pub(crate) enum TransferVia<'a> {
    /// SIP REFER, by the signalling task.
    Sip { notices: &'a mpsc::Sender<CallNotice>, call: &'a CallKey },
    /// The provider's REST API; the provider fetches `dial_url` (Vobiz/Plivo) to dial the target.
    Rest { rest: crate::ws_stream::rest::ProviderRest, call_id: String, dial_url: String },
    /// This transport cannot transfer.
    Unavailable,
}

/// Starts the work of a tool request; its outcome arrives on `results`.
pub(crate) fn start_tool(
    id: u64,
    request: crate::conversation::agent::ToolRequest,
    results: &mpsc::Sender<ToolOutcome>,
    transfer: TransferVia<'_>,
) {
    use crate::conversation::agent::ToolRequest;
    let results = results.clone();
    match (request, transfer) {
        (ToolRequest::Http { tool, arguments }, _) => {
            tokio::spawn(async move {
                let result = crate::tools::run_http_tool(tool, arguments).await;
                let _ = results.send((id, result, false)).await;
            });
        }
        (ToolRequest::Transfer { target }, TransferVia::Sip { notices, call }) => {
            let (reply, accepted) = tokio::sync::oneshot::channel();
            let notice = CallNotice::Transfer { call: call.clone(), target: target.clone(), reply };
            if notices.try_send(notice).is_err() {
                let _ = results.try_send((id, Err("signalling is busy; try again".into()), true));
                return;
            }
            tokio::spawn(async move {
                let result = match accepted.await {
                    Ok(Ok(())) => Ok(format!("transferring to {target}")),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("signalling stopped".into()),
                };
                let _ = results.send((id, result, true)).await;
            });
        }
        (ToolRequest::Transfer { target }, TransferVia::Rest { rest, call_id, dial_url }) => {
            tokio::spawn(async move {
                let outcome = tokio::task::spawn_blocking(move || {
                    rest.transfer(&call_id, &target, &dial_url).map(|()| format!("transferring to {target}"))
                })
                .await;
                let result = match outcome {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(e) => Err(format!("transfer task failed: {e}")),
                };
                let _ = results.send((id, result, true)).await;
            });
        }
        (ToolRequest::Transfer { .. }, TransferVia::Unavailable) => {
            let _ = results.try_send((id, Err("transfers are not available on this call".into()), true));
        }
    }
}

/// Calls `tool` with the model's `arguments` (a JSON object as text): POST sends them as the JSON body, GET as
/// the query string.
pub async fn run_http_tool(tool: HttpTool, arguments: String) -> Result<String, String> {
    let name = tool.name.clone();
    let outcome = tokio::task::spawn_blocking(move || call(&tool, &arguments)).await;
    match outcome {
        Ok(result) => {
            if let Err(err) = &result {
                tracing::warn!(tool = %name, %err, "tool call failed");
            }
            result
        }
        Err(err) => Err(format!("tool task failed: {err}")),
    }
}

fn call(tool: &HttpTool, arguments: &str) -> Result<String, String> {
    let args: serde_json::Value = serde_json::from_str(if arguments.trim().is_empty() { "{}" } else { arguments })
        .map_err(|e| format!("arguments are not JSON: {e}"))?;
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(tool.timeout.max(Duration::from_millis(100))))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into();
    let response = if tool.method.eq_ignore_ascii_case("GET") {
        let mut request = agent.get(&tool.url);
        if let serde_json::Value::Object(map) = &args {
            for (k, v) in map {
                let v = v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
                request = request.query(k, &v);
            }
        }
        if let Some((k, v)) = &tool.header {
            request = request.header(k, v);
        }
        request.call()
    } else {
        let mut request = agent.post(&tool.url).header("Content-Type", "application/json");
        if let Some((k, v)) = &tool.header {
            request = request.header(k, v);
        }
        request.send(args.to_string())
    };
    let mut response = response.map_err(|e| format!("{} {}: {e}", tool.method, tool.url))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESULT_BYTES as u64 * 4)
        .read_to_string()
        .map_err(|e| format!("reading the response of {}: {e}", tool.url))?;
    let mut text: String = body.trim().to_string();
    if text.len() > MAX_RESULT_BYTES {
        let cut = (0..=MAX_RESULT_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(format!("HTTP {status}: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::test_http::{body, header, serve};

    fn tool(port: u16, method: &str) -> HttpTool {
        HttpTool {
            name: "check_order".into(),
            description: "Looks up an order.".into(),
            parameters: r#"{"type":"object"}"#.into(),
            url: format!("http://127.0.0.1:{port}/orders"),
            method: method.into(),
            timeout: Duration::from_secs(5),
            header: Some(("Authorization".into(), "Bearer s3cret".into())),
        }
    }

    #[tokio::test]
    async fn post_sends_the_arguments_and_the_header_and_returns_the_body() {
        let (port, requests) = serve(1, |_| (200, r#"{"status":"shipped"}"#.into()));
        let result = run_http_tool(tool(port, "POST"), r#"{"order_id":"A-17"}"#.into()).await;
        assert_eq!(result, Ok(r#"{"status":"shipped"}"#.into()));
        let request = &requests.join().unwrap()[0];
        assert!(request.starts_with("POST /orders HTTP/1.1"), "{request}");
        assert_eq!(header(request, "authorization"), Some("Bearer s3cret"));
        assert_eq!(body(request), r#"{"order_id":"A-17"}"#);
    }

    #[tokio::test]
    async fn get_uses_the_query_and_errors_are_reported() {
        let (port, requests) = serve(1, |_| (404, "no such order".into()));
        let result = run_http_tool(tool(port, "GET"), r#"{"order_id":"B 2"}"#.into()).await;
        assert_eq!(result, Err("HTTP 404: no such order".into()));
        assert!(requests.join().unwrap()[0].starts_with("GET /orders?order_id=B%202 HTTP/1.1"));
        // Nothing listening: a clear error, no panic.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = run_http_tool(tool(closed, "POST"), "{}".into()).await.unwrap_err();
        assert!(err.contains("127.0.0.1"), "{err}");
        assert!(run_http_tool(tool(closed, "POST"), "not json".into()).await.unwrap_err().contains("not JSON"));
    }
}
