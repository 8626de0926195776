//! The few parts of a Claude Code transcript record the context needs.
//!
//! The format is internal to Claude Code and changes between versions, so
//! every field is optional and everything else is ignored: a record this
//! module cannot read contributes nothing rather than failing the capture.

use serde::Deserialize;
use serde_json::Value;

/// One transcript line.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record {
    /// `user`, `assistant`, `system`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Written by a subagent (inline sidechains of older versions).
    pub is_sidechain: bool,
    /// Injected by Claude Code, not typed by the user.
    pub is_meta: bool,
    /// The summary that opens the context after a compaction.
    pub is_compact_summary: bool,
    /// RFC 3339 time of the record.
    pub timestamp: Option<String>,
    /// The agent's working directory.
    pub cwd: Option<String>,
    /// The API message.
    pub message: Option<Message>,
    /// Tool-specific result details (shape varies by tool and version).
    pub tool_use_result: Option<Value>,
}

/// An API message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Message {
    /// A string or a list of blocks.
    pub content: Option<Content>,
}

/// Message content: plain text (user prompts) or blocks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// A prompt as typed.
    Text(String),
    /// Content blocks.
    Blocks(Vec<Block>),
}

/// A content block; unknown block types are kept as [`Block::Other`].
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// The model calls a tool.
    ToolUse {
        /// Its id, which the result names.
        #[serde(default)]
        id: String,
        /// The tool.
        #[serde(default)]
        name: String,
        /// Its input.
        #[serde(default)]
        input: Value,
    },
    /// A tool's result, in a user record.
    ToolResult {
        /// The tool use it answers.
        #[serde(default)]
        tool_use_id: String,
        /// Text or blocks.
        #[serde(default)]
        content: Value,
        /// The tool failed or was refused.
        #[serde(default)]
        is_error: Option<bool>,
    },
    /// Anything else (thinking, images, future types).
    #[serde(other)]
    Other,
}

impl Record {
    /// Parses a line; `None` for anything that is not a JSON object this
    /// module can read.
    pub fn parse(line: &[u8]) -> Option<Self> {
        serde_json::from_slice(line).ok()
    }

    /// The blocks of the message (a text prompt is one text block).
    pub fn blocks(&self) -> Vec<BlockRef<'_>> {
        match self.message.as_ref().and_then(|m| m.content.as_ref()) {
            None => Vec::new(),
            Some(Content::Text(text)) => vec![BlockRef::Text(text)],
            Some(Content::Blocks(blocks)) => blocks
                .iter()
                .filter_map(|b| match b {
                    Block::Text { text } => Some(BlockRef::Text(text)),
                    Block::ToolUse { id, name, input } => {
                        Some(BlockRef::ToolUse { id, name, input })
                    }
                    Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } => Some(BlockRef::ToolResult {
                        id: tool_use_id,
                        text: result_text(content),
                        is_error: is_error.unwrap_or(false),
                    }),
                    Block::Other => None,
                })
                .collect(),
        }
    }
}

/// A borrowed view of a block.
#[derive(Debug)]
pub enum BlockRef<'a> {
    /// Text.
    Text(&'a str),
    /// A tool call.
    ToolUse {
        /// Id.
        id: &'a str,
        /// Tool name.
        name: &'a str,
        /// Input.
        input: &'a Value,
    },
    /// A tool result.
    ToolResult {
        /// The tool use answered.
        id: &'a str,
        /// Its text, blocks joined.
        text: String,
        /// Failed or refused.
        is_error: bool,
    },
}

fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}
