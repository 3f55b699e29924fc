//! Tool calls written as text (`<tool_call>{"name": …, "arguments": {…}}</tool_call>`, the format SmolLM2 and
//! Hermes-style models are trained on), found in a token stream without speaking them: text before a call
//! streams on, a possible start of a call is held back until it is known either way.

use crate::{FailureKind, LlmEvent, ModelError};

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// How text-based models learn about tools: appended to the system prompt.
pub fn instructions(tools: &[crate::ToolSpec]) -> String {
    let mut text = String::from(
        "\n\nYou can call these tools. To call one, reply with only \
         <tool_call>{\"name\": \"TOOL\", \"arguments\": {...}}</tool_call>\n",
    );
    for tool in tools {
        text.push_str(&format!("- {}: {} Arguments: {}\n", tool.name, tool.description, tool.parameters));
    }
    text
}

/// Splits a token stream into text and tool calls.
#[derive(Debug, Default)]
pub struct ToolCallScanner {
    held: String,
    in_call: bool,
    done: bool,
}

impl ToolCallScanner {
    /// Feeds one piece of generated text; returns the events it completes. After a tool call, everything is
    /// ignored (the reply ends with the call) and [`ToolCallScanner::finished`] turns true.
    pub fn push(&mut self, piece: &str) -> Vec<LlmEvent> {
        let mut events = Vec::new();
        if self.done {
            return events;
        }
        self.held.push_str(piece);
        if !self.in_call {
            if let Some(at) = self.held.find(OPEN) {
                let before = self.held[..at].to_string();
                if !before.is_empty() {
                    events.push(LlmEvent::Token(before));
                }
                self.held.drain(..at + OPEN.len());
                self.in_call = true;
            } else {
                // Keep back a tail that could be the start of "<tool_call>".
                let keep = (1..OPEN.len()).rev().find(|&n| self.held.ends_with(&OPEN[..n])).unwrap_or(0);
                let cut = self.held.len() - keep;
                if cut > 0 {
                    events.push(LlmEvent::Token(self.held[..cut].to_string()));
                    self.held.drain(..cut);
                }
                return events;
            }
        }
        if let Some(end) = self.held.find(CLOSE) {
            let body = self.held[..end].trim().to_string();
            self.held.clear();
            self.done = true;
            events.push(parse_call(&body));
        }
        events
    }

    /// Whether a tool call has been completed (generation can stop).
    pub fn finished(&self) -> bool {
        self.done
    }

    /// The end of the stream: held text is released; an unterminated call is parsed as far as it goes.
    pub fn finish(&mut self) -> Vec<LlmEvent> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let held = std::mem::take(&mut self.held);
        if self.in_call {
            vec![parse_call(held.trim())]
        } else if held.is_empty() {
            Vec::new()
        } else {
            vec![LlmEvent::Token(held)]
        }
    }
}

fn parse_call(body: &str) -> LlmEvent {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(value) => match value.get("name").and_then(|n| n.as_str()) {
            Some(name) => LlmEvent::ToolCall {
                name: name.to_string(),
                arguments: value.get("arguments").map(|a| a.to_string()).unwrap_or_else(|| "{}".into()),
            },
            None => {
                LlmEvent::Failed(ModelError::new(FailureKind::Malformed, format!("tool call without a name: {body}")))
            }
        },
        Err(e) => {
            LlmEvent::Failed(ModelError::new(FailureKind::Malformed, format!("malformed tool call ({e}): {body}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str]) -> Vec<LlmEvent> {
        let mut scanner = ToolCallScanner::default();
        let mut events: Vec<LlmEvent> = pieces.iter().flat_map(|p| scanner.push(p)).collect();
        events.extend(scanner.finish());
        events
    }

    #[test]
    fn text_streams_and_a_call_split_across_tokens_is_found() {
        let events = run(&[
            "Let me ",
            "transfer you. <to",
            "ol_call>{\"name\": \"transfer_call\", ",
            "\"arguments\": {\"target\": \"+9180\"}}</tool",
            "_call> ignored",
        ]);
        assert_eq!(
            events,
            [
                LlmEvent::Token("Let me ".into()),
                LlmEvent::Token("transfer you. ".into()),
                LlmEvent::ToolCall { name: "transfer_call".into(), arguments: r#"{"target":"+9180"}"#.into() },
            ]
        );
    }

    #[test]
    fn a_lone_angle_bracket_is_released_and_bad_calls_are_named() {
        assert_eq!(run(&["a <", " b"]), [LlmEvent::Token("a ".into()), LlmEvent::Token("< b".into())]);
        assert!(
            matches!(&run(&["<tool_call>{oops</tool_call>"])[0], LlmEvent::Failed(m) if m.message.contains("malformed"))
        );
        assert_eq!(
            run(&["<tool_call>{\"name\": \"end_call\"}"]),
            [LlmEvent::ToolCall { name: "end_call".into(), arguments: "{}".into() }]
        );
    }

    #[test]
    fn history_text_round_trips() {
        let text = crate::tool_call_text("send_dtmf", r#"{"digits":"12"}"#);
        assert_eq!(
            run(&[&text]),
            [LlmEvent::ToolCall { name: "send_dtmf".into(), arguments: r#"{"digits":"12"}"#.into() }]
        );
    }
}
