//! A scripted stand-in for the Anthropic Messages API on 127.0.0.1, for
//! running the real Claude Code in tests.
//!
//! It speaks just enough HTTP/1.1 for Claude Code's client: `POST
//! /v1/messages` (streamed as server-sent events, or one JSON body),
//! `POST /v1/messages/count_tokens`, and 404 for anything else. Every request
//! and every reply is kept ([`MockApi::exchanges`]), so a test can compare
//! logbook's record with what the model was really sent and really answered.
//!
//! Replies follow a [`Script`]: a prompt is found by a key it contains, and
//! the number of assistant messages after it says which step comes next, so
//! the mock holds no conversation state and a retried request gets the same
//! answer. Claude Code's compaction request (its "detailed summary" prompt)
//! gets a summary. Each reply has its own usage numbers, so token totals can
//! be checked to the token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What Claude Code's compaction request asks for, in its last user message.
const COMPACTION_PROMPT: &str = "detailed summary of the conversation";

/// Token usage of one reply, as the API reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_creation += other.cache_creation;
        self.cache_read += other.cache_read;
    }
}

/// One step of a scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A text reply that ends the turn.
    Text(String),
    /// Tool calls `(name, input)`, answered by Claude Code with results.
    Tools(Vec<(String, Value)>),
    /// Starts streaming and never finishes (the turn is in flight).
    Hang,
    /// An API error that is not retried: HTTP 400 with this message.
    Fail(String),
}

impl Step {
    pub fn text(text: &str) -> Self {
        Self::Text(text.to_owned())
    }

    pub fn tool(name: &str, input: Value) -> Self {
        Self::Tools(vec![(name.to_owned(), input)])
    }
}

#[derive(Debug, Clone)]
struct Turn {
    key: String,
    steps: Vec<Step>,
    /// Usage of each step's reply, where the test fixes it.
    usage: Vec<Option<Usage>>,
}

/// The answers the mock gives, by prompt.
#[derive(Debug, Clone, Default)]
pub struct Script {
    turns: Vec<Turn>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// A prompt containing `key` is answered with `steps`, one per request;
    /// after the last step, a plain "done" text.
    pub fn on(mut self, key: &str, steps: Vec<Step>) -> Self {
        let usage = vec![None; steps.len()];
        self.turns.push(Turn {
            key: key.to_owned(),
            steps,
            usage,
        });
        self
    }

    /// Like [`Self::on`] with a one-step text answer whose usage is fixed
    /// (to put a known number of tokens in the context window).
    pub fn on_with_usage(mut self, key: &str, text: &str, usage: Usage) -> Self {
        self.turns.push(Turn {
            key: key.to_owned(),
            steps: vec![Step::text(text)],
            usage: vec![Some(usage)],
        });
        self
    }
}

/// What a request was, as the mock understood it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A conversation request (the main agent's or a subagent's).
    Turn,
    /// Claude Code's compaction summary request.
    Compaction,
    /// `count_tokens`.
    CountTokens,
    /// Anything else (answered 404).
    Other,
}

/// One request and the mock's reply.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub path: String,
    /// The Claude Code session the request was made for (its
    /// `X-Claude-Code-Session-Id` header).
    pub session: Option<String>,
    pub kind: Kind,
    /// The request body (JSON, or null).
    pub body: Value,
    /// The reply's message id (`msg_…`), for message replies.
    pub message_id: Option<String>,
    /// The usage the reply reported (zero for non-message replies).
    pub usage: Usage,
}

impl Exchange {
    /// The request's full text (every message and system block), for
    /// checking that something reached the model.
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

struct Shared {
    script: Mutex<Script>,
    log: Mutex<Vec<Exchange>>,
    next: AtomicU64,
    stop: AtomicBool,
}

/// The running mock, stopped on drop.
pub struct MockApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockApi {
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            log: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = Arc::clone(&accepting);
                std::thread::spawn(move || serve(stream, &conn));
            }
        });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every exchange so far, in arrival order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

struct Request {
    path: String,
    /// Claude Code's `X-Claude-Code-Session-Id`.
    session: Option<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    let mut session = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("x-claude-code-session-id") {
            session = Some(value.to_owned());
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request {
        path,
        session,
        body,
    })
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let keep_open = respond(&request, &mut writer, shared);
        if !keep_open || shared.stop.load(Ordering::SeqCst) {
            break;
        }
    }
}

fn plain(writer: &mut TcpStream, status: &str, body: &[u8]) -> bool {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).is_ok() && writer.write_all(body).is_ok()
}

/// The text of a message's content (a string or text blocks).
fn message_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Which step of which turn a conversation request asks for.
fn next_step(script: &Script, messages: &[Value]) -> Option<(Step, Option<Usage>)> {
    for (at, message) in messages.iter().enumerate().rev() {
        if message["role"] != "user" {
            continue;
        }
        let text = message_text(message);
        let Some(turn) = script.turns.iter().find(|t| text.contains(&t.key)) else {
            continue;
        };
        let done = messages[at..]
            .iter()
            .filter(|m| m["role"] == "assistant")
            .count();
        return Some(match turn.steps.get(done) {
            Some(step) => (step.clone(), turn.usage[done]),
            None => (Step::Text(format!("done: {}", turn.key)), None),
        });
    }
    None
}

/// Distinct, known usage for reply `n` when the script does not fix one.
fn default_usage(n: u64) -> Usage {
    Usage {
        input: 3 + n,
        output: 40 + 3 * n,
        cache_creation: 500 + 11 * n,
        cache_read: 1_000 * n,
    }
}

fn respond(request: &Request, writer: &mut TcpStream, shared: &Shared) -> bool {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let path = request.path.split('?').next().unwrap_or("").to_owned();
    let record = |kind, message_id, usage| {
        shared.log.lock().unwrap().push(Exchange {
            path: request.path.clone(),
            session: request.session.clone(),
            kind,
            body: body.clone(),
            message_id,
            usage,
        });
    };
    if path == "/v1/messages/count_tokens" {
        record(Kind::CountTokens, None, Usage::default());
        let approx = request.body.len() / 4;
        return plain(
            writer,
            "200 OK",
            json!({"input_tokens": approx}).to_string().as_bytes(),
        );
    }
    if path != "/v1/messages" {
        record(Kind::Other, None, Usage::default());
        return plain(
            writer,
            "404 Not Found",
            br#"{"type":"error","error":{"type":"not_found_error","message":"mock: no such route"}}"#,
        );
    }
    let n = shared.next.fetch_add(1, Ordering::SeqCst);
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(message_text)
        .unwrap_or_default();
    let (kind, step, usage) = if last_user.contains(COMPACTION_PROMPT) {
        let text = format!(
            "<analysis>mock analysis {n}</analysis>\n<summary>mock summary {n}: the user asked for the scripted steps.</summary>"
        );
        (Kind::Compaction, Step::Text(text), None)
    } else {
        let script = shared.script.lock().unwrap().clone();
        match next_step(&script, &messages) {
            Some((step, usage)) => (Kind::Turn, step, usage),
            None => (Kind::Turn, Step::Text(format!("reply {n}")), None),
        }
    };
    if let Step::Fail(message) = &step {
        record(kind, None, Usage::default());
        let error = json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
        return plain(writer, "400 Bad Request", error.to_string().as_bytes());
    }
    let usage = usage.unwrap_or_else(|| default_usage(n));
    let model = body["model"].as_str().unwrap_or("claude-mock").to_owned();
    let id = format!("msg_mock_{n:04}");
    let (blocks, stop_reason) = match &step {
        Step::Text(text) => (vec![json!({"type": "text", "text": text})], "end_turn"),
        Step::Hang | Step::Fail(_) => (
            vec![json!({"type": "text", "text": "working on it"})],
            "end_turn",
        ),
        Step::Tools(calls) => (
            calls
                .iter()
                .enumerate()
                .map(|(i, (name, input))| {
                    json!({"type": "tool_use", "id": format!("toolu_mock_{n:04}_{i}"),
                           "name": name, "input": input})
                })
                .collect(),
            "tool_use",
        ),
    };
    record(kind, Some(id.clone()), usage);
    let usage_json = json!({
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_creation_input_tokens": usage.cache_creation,
        "cache_read_input_tokens": usage.cache_read,
    });
    let request_id = format!("req_mock_{n:04}");
    if body["stream"] != true {
        let reply = json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage_json,
        });
        let bytes = reply.to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: {request_id}\r\ncontent-length: {}\r\n\r\n",
            bytes.len()
        );
        return writer.write_all(head.as_bytes()).is_ok()
            && writer.write_all(bytes.as_bytes()).is_ok();
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nrequest-id: {request_id}\r\nconnection: close\r\n\r\n"
    );
    if writer.write_all(head.as_bytes()).is_err() {
        return false;
    }
    let mut start_usage = usage_json.clone();
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (empty, delta) = if block["type"] == "text" {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        } else {
            let mut empty = block.clone();
            empty["input"] = json!({});
            (
                empty,
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": empty}),
        ));
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        if matches!(step, Step::Hang) {
            break;
        }
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    if !matches!(step, Step::Hang) {
        events.push((
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": usage.output}}),
        ));
        events.push(("message_stop", json!({"type": "message_stop"})));
    }
    for (name, data) in events {
        if writer
            .write_all(format!("event: {name}\ndata: {data}\n\n").as_bytes())
            .is_err()
        {
            return false;
        }
    }
    let _ = writer.flush();
    if matches!(step, Step::Hang) {
        // Holds the turn open until the client goes away or the mock stops
        // (bounded, so a test that forgets it cannot hang the suite).
        let started = Instant::now();
        while !shared.stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(120) {
            if writer.write_all(b": keep-alive\n\n").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    false
}
