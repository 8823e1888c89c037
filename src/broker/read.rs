//! Reading the stream back: where it stands, and an ordered consumer from a start position whose records come
//! out as NDJSON lines numbered with their stream sequence, for `tail nats://…` and `attach nats://…`.
//!
//! The ordered consumer is ephemeral and recreated by the client after a gap or a lost connection, from the last
//! stream sequence it handed out, so a reader sees each stored record once and in order across reconnects.

use super::{BrokerError, NatsOptions};
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::DeliverPolicy;
use futures_util::StreamExt;
use time::OffsetDateTime;

/// Where a reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Everything stored.
    Beginning,
    /// After this stream sequence.
    After(u64),
    /// Messages the stream stored at or after this time.
    Since(OffsetDateTime),
    /// The last N messages stored.
    Last(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("NATS stream {stream}: {why}")]
    Stream { stream: String, why: String },
    #[error("NATS stream {stream}: reading: {why}")]
    Consumer { stream: String, why: String },
}

/// What the stream holds right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub first_seq: u64,
    pub last_seq: u64,
    pub messages: u64,
}

/// The subjects a reader of every kind of record asks for: `PREFIX.>`.
pub fn all_subjects(options: &NatsOptions) -> String {
    format!("{}.>", options.subject)
}

/// An error about the stream, or that NATS cannot be reached when that is why.
fn stream_error(client: &async_nats::Client, options: &NatsOptions, why: String) -> ReadError {
    if client.connection_state() != async_nats::connection::State::Connected {
        let error = format!("not connected ({why})");
        return ReadError::Broker(BrokerError::Connect { servers: options.servers.join(","), error });
    }
    ReadError::Stream { stream: options.stream.clone(), why }
}

/// The stream's current extent.
pub async fn stored(client: &async_nats::Client, options: &NatsOptions) -> Result<Stored, ReadError> {
    let js = async_nats::jetstream::new(client.clone());
    let bad = |why: String| stream_error(client, options, why);
    let stream = js.get_stream(&options.stream).await.map_err(|e| bad(e.to_string()))?;
    let info = stream.get_info().await.map_err(|e| bad(e.to_string()))?;
    Ok(Stored {
        first_seq: info.state.first_sequence,
        last_seq: info.state.last_sequence,
        messages: info.state.messages,
    })
}

/// One record read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The stream sequence.
    pub seq: u64,
    /// The record's line, its `seq` set to the stream sequence.
    pub line: String,
    /// Messages for this reader still in the stream after this one, when it was delivered.
    pub pending: u64,
}

/// An ordered consumer over the stream's records.
pub struct Reader {
    messages: Ordered,
    stream: String,
    /// Messages for this reader when it was opened.
    pub pending_at_start: u64,
}

impl Reader {
    /// Opens an ordered consumer from `start` over `PREFIX.>`.
    pub async fn open(client: &async_nats::Client, options: &NatsOptions, start: StartAt) -> Result<Reader, ReadError> {
        let deliver_policy = match start {
            StartAt::Beginning => DeliverPolicy::All,
            StartAt::After(seq) => DeliverPolicy::ByStartSequence { start_sequence: seq.saturating_add(1) },
            StartAt::Since(t) => DeliverPolicy::ByStartTime { start_time: t },
            StartAt::Last(n) => {
                let s = stored(client, options).await?;
                DeliverPolicy::ByStartSequence { start_sequence: s.last_seq.saturating_sub(n).saturating_add(1) }
            }
        };
        let bad = |why: String| ReadError::Consumer { stream: options.stream.clone(), why };
        let js = async_nats::jetstream::new(client.clone());
        let stream = js.get_stream(&options.stream).await.map_err(|e| stream_error(client, options, e.to_string()))?;
        let config = OrderedConfig { filter_subject: all_subjects(options), deliver_policy, ..Default::default() };
        let consumer = stream.create_consumer(config).await.map_err(|e| bad(e.to_string()))?;
        let pending_at_start = consumer.cached_info().num_pending;
        let messages = consumer.messages().await.map_err(|e| bad(e.to_string()))?;
        Ok(Reader { messages, stream: options.stream.clone(), pending_at_start })
    }

    /// The next record; waits for one. Messages that are not record lines are passed over.
    pub async fn next(&mut self) -> Result<Read, ReadError> {
        loop {
            let message = match self.messages.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(ReadError::Consumer { stream: self.stream.clone(), why: e.to_string() }),
                None => {
                    return Err(ReadError::Consumer { stream: self.stream.clone(), why: "the consumer ended".into() })
                }
            };
            let Ok(info) = message.info() else { continue };
            let (seq, pending) = (info.stream_sequence, info.pending);
            match renumber(&message.payload, seq) {
                Some(line) => return Ok(Read { seq, line, pending }),
                None => tracing::debug!("stream {} seq {seq}: not a record line, passed over", self.stream),
            }
        }
    }
}

/// The record line in `payload` numbered `seq`: an existing leading `"seq"` (the publisher's journal number) is
/// replaced. `None` when the payload is not a JSON object on one line.
pub fn renumber(payload: &[u8], seq: u64) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?.trim_end();
    if !text.starts_with('{') || !text.ends_with('}') || text.contains('\n') {
        return None;
    }
    let rest = if crate::record::line_seq(text.as_bytes()) > 0 {
        // `{"seq":N,` (digits only, see line_seq) is followed by the record's first member.
        let digits = &text[7..];
        &digits[digits.find(',')? + 1..]
    } else {
        &text[1..]
    };
    let mut line = String::with_capacity(rest.len() + 24);
    line.push_str("{\"seq\":");
    line.push_str(itoa::Buffer::new().format(seq));
    if rest.trim_start().starts_with('}') {
        line.push_str(rest);
    } else {
        line.push(',');
        line.push_str(rest);
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn renumbering_replaces_or_adds_the_seq() {
        assert_eq!(renumber(br#"{"kind":"event","x":1}"#, 7).unwrap(), r#"{"seq":7,"kind":"event","x":1}"#);
        assert_eq!(renumber(br#"{"seq":12,"kind":"event"}"#, 3).unwrap(), r#"{"seq":3,"kind":"event"}"#);
        assert_eq!(renumber(b"{\"kind\":\"event\"}\n", 9).unwrap(), r#"{"seq":9,"kind":"event"}"#);
        assert_eq!(renumber(b"{}", 1).unwrap(), r#"{"seq":1}"#);
        for bad in [&b"[1]"[..], b"", b"{\"a\":1}\n{\"b\":2}", b"\xff{}"] {
            assert_eq!(renumber(bad, 1), None);
        }
    }
}
