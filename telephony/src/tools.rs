//! The operator webhooks an agent's tools call, for any transport: a [`CallAction::RunTool`] becomes a
//! request on a blocking thread (never on the call's task or media worker) with the tool's timeout; the reply
//! text, cut to [`MAX_RESULT_BYTES`], comes back on the call's [`ToolResults`] for the language model.
//! Failures come back as errors the model can talk about. Transfers are each transport's own (SIP REFER,
//! a provider's REST API); their outcomes come back on the same channel.
//!
//! [`CallAction::RunTool`]: voicera_conversation::core::CallAction::RunTool

use std::time::Duration;

use tokio::sync::mpsc;
use voicera_conversation::agent::HttpTool;

/// Longest tool result handed to the model (a small model's context is short).
pub const MAX_RESULT_BYTES: usize = 4096;

/// The result of a tool call carried out for a call's agent.
#[derive(Debug)]
pub struct ToolOutcome {
    /// The id the call core gave the request.
    pub id: u64,
    /// The text for the model, or what went wrong.
    pub result: Result<String, String>,
    /// Whether the tool was a transfer.
    pub transferred: bool,
}

/// Tool calls in flight for one call: results land here for the call's driver to hand to its core.
pub struct ToolResults {
    sender: mpsc::Sender<ToolOutcome>,
    receiver: mpsc::Receiver<ToolOutcome>,
}

impl Default for ToolResults {
    fn default() -> Self {
        // A call has at most a handful of tools running: the model asks for one per reply.
        let (sender, receiver) = mpsc::channel(8);
        ToolResults { sender, receiver }
    }
}

impl ToolResults {
    /// Where a running tool reports.
    pub fn sender(&self) -> &mpsc::Sender<ToolOutcome> {
        &self.sender
    }

    /// A result that has arrived, without waiting (the media workers' tick).
    pub fn try_next(&mut self) -> Option<ToolOutcome> {
        self.receiver.try_recv().ok()
    }

    /// The next result (task-driven transports select on it). Never ends: the sender is kept here.
    pub async fn next(&mut self) -> Option<ToolOutcome> {
        self.receiver.recv().await
    }

    /// Reports an outcome known at once (a transfer this transport cannot make, a busy signalling task).
    pub fn report_now(&self, id: u64, result: Result<String, String>, transferred: bool) {
        let _ = self.sender.try_send(ToolOutcome { id, result, transferred });
    }

    /// Runs an operator webhook on a blocking thread; its outcome arrives here.
    pub fn run_http(&self, id: u64, tool: HttpTool, arguments: String) {
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let result = run_http_tool(tool, arguments).await;
            let _ = sender.send(ToolOutcome { id, result, transferred: false }).await;
        });
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
    use voicera_carrier_rest::test_http::{body, header, serve};

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
