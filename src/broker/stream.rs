//! The JetStream stream receivers publish into: its subjects, the message id that deduplicates re-deliveries
//! across receivers, and creating the stream or checking the one that is there.

use super::{BrokerError, NatsOptions};
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{self, context::GetStreamErrorKind};
use sha2::{Digest, Sha256};

/// Longest event type kept in a subject; NATS caps a whole message's control line, and a type is never this long.
const MAX_TYPE_BYTES: usize = 200;
/// Most tokens an event type adds to a subject.
const MAX_TYPE_TOKENS: usize = 16;

/// What was found of the stream at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Created,
    /// It was there with the settings asked for.
    Checked,
}

/// `PREFIX.event.<type>`. The type's dots stay token separators (`com.hpe.greenlake.>` then selects GreenLake's
/// events); anything NATS gives a meaning to, or that cannot be in a subject, becomes `_`.
pub fn event_subject(prefix: &str, ty: &str) -> String {
    let mut subject = format!("{prefix}.event");
    let mut tokens = 0;
    for token in ty.split('.') {
        if tokens == MAX_TYPE_TOKENS || subject.len() > prefix.len() + MAX_TYPE_BYTES {
            break;
        }
        subject.push('.');
        if token.is_empty() {
            subject.push('_');
        }
        subject.extend(token.chars().take(MAX_TYPE_BYTES).map(|c| match c {
            '*' | '>' => '_',
            c if c.is_ascii_graphic() => c,
            _ => '_',
        }));
        tokens += 1;
    }
    if tokens == 0 || ty.is_empty() {
        subject.truncate(prefix.len() + ".event".len());
        subject.push_str(".unknown");
    }
    subject
}

pub fn challenge_subject(prefix: &str) -> String {
    format!("{prefix}.challenge")
}

pub fn rejected_subject(prefix: &str) -> String {
    format!("{prefix}.rejected")
}

/// The `Nats-Msg-Id` of an event: the same (source, id) gives the same id on every receiver, so JetStream keeps
/// one copy of a re-delivery whichever receiver it reaches. Hashed: ids are the sender's text of any length.
/// `source` is the dedup key's source (with the configured source's name, see `DedupWindow::source_key`).
pub fn message_id(source: &str, id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update((source.len() as u64).to_be_bytes());
    hash.update(source.as_bytes());
    hash.update(id.as_bytes());
    hex::encode(hash.finalize())
}

/// The stream glwatch creates: every subject under the prefix, on disk, with the replicas and window asked for.
pub fn config(options: &NatsOptions) -> Config {
    Config {
        name: options.stream.clone(),
        subjects: vec![format!("{}.>", options.subject)],
        storage: StorageType::File,
        num_replicas: options.replicas,
        duplicate_window: options.duplicate_window,
        ..Default::default()
    }
}

/// Checks the prefix and stream name before anything is sent: the error names the flag.
pub fn validate(options: &NatsOptions) -> Result<(), BrokerError> {
    let bad_token = |t: &str| t.is_empty() || t.chars().any(|c| matches!(c, '*' | '>') || !c.is_ascii_graphic());
    if options.subject.split('.').any(bad_token) {
        return Err(BrokerError::Invalid(format!(
            "--nats-subject {:?}: dot-separated tokens of printable characters, without * or >",
            options.subject
        )));
    }
    if options.stream.is_empty()
        || options.stream.chars().any(|c| matches!(c, '.' | '*' | '>') || !c.is_ascii_graphic())
    {
        return Err(BrokerError::Invalid(format!(
            "--nats-stream {:?}: printable characters without . * or >",
            options.stream
        )));
    }
    Ok(())
}

/// What the existing stream's settings say against what glwatch was asked for, one item per difference; empty
/// when it will do.
pub fn differences(have: &Config, options: &NatsOptions) -> Vec<String> {
    let mut out = Vec::new();
    for needed in [
        format!("{}.event.>", options.subject),
        challenge_subject(&options.subject),
        rejected_subject(&options.subject),
    ] {
        if !have.subjects.iter().any(|filter| covers(filter, &needed)) {
            out.push(format!("its subjects [{}] do not take {needed}", have.subjects.join(", ")));
        }
    }
    if have.storage != StorageType::File {
        out.push("it keeps messages in memory, not in files".into());
    }
    if have.num_replicas.max(1) != options.replicas {
        out.push(format!("it has {} replica(s), --nats-replicas says {}", have.num_replicas.max(1), options.replicas));
    }
    if have.duplicate_window != options.duplicate_window {
        out.push(format!(
            "its duplicate window is {}, --nats-duplicate-window says {}",
            humantime::format_duration(have.duplicate_window),
            humantime::format_duration(options.duplicate_window)
        ));
    }
    out
}

/// Whether the stream subject `filter` takes every subject `pattern` stands for (NATS wildcards: `*` one token,
/// `>` the rest).
fn covers(filter: &str, pattern: &str) -> bool {
    let mut f = filter.split('.');
    let mut p = pattern.split('.');
    loop {
        match (f.next(), p.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Creates the stream if it is missing; checks it if it is there. The error lists every difference, so the
/// operator can change the stream (`nats stream edit`) or the flags.
pub async fn ensure(js: &jetstream::Context, options: &NatsOptions) -> Result<StreamState, BrokerError> {
    let fail = |e: &dyn std::fmt::Display| BrokerError::Stream { stream: options.stream.clone(), error: e.to_string() };
    let found = match js.get_stream(&options.stream).await {
        Ok(mut stream) => Some(stream.info().await.map_err(|e| fail(&e))?.config.clone()),
        Err(e) => match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => None,
            _ => return Err(fail(&e)),
        },
    };
    let (have, state) = match found {
        Some(have) => (have, StreamState::Checked),
        // Another receiver may create it at the same moment: JetStream accepts the same configuration twice, and
        // a different one is then reported as a difference below.
        None => match js.create_stream(config(options)).await {
            Ok(mut stream) => (stream.info().await.map_err(|e| fail(&e))?.config.clone(), StreamState::Created),
            Err(e) => match js.get_stream(&options.stream).await {
                Ok(mut stream) => (stream.info().await.map_err(|e| fail(&e))?.config.clone(), StreamState::Checked),
                Err(_) => return Err(fail(&e)),
            },
        },
    };
    let differences = differences(&have, options);
    if differences.is_empty() {
        Ok(state)
    } else {
        Err(BrokerError::StreamDiffers { stream: options.stream.clone(), differences: differences.join("; ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_become_subject_tokens() {
        assert_eq!(
            event_subject("glwatch", "com.hpe.greenlake.audit-log.v1.logs.created"),
            "glwatch.event.com.hpe.greenlake.audit-log.v1.logs.created"
        );
        assert_eq!(event_subject("g", "a b.*.>..x\u{e9}"), "g.event.a_b._._._.x_");
        assert_eq!(event_subject("g", ""), "g.event.unknown");
        let long = "x.".repeat(100);
        assert!(event_subject("g", &long).split('.').count() <= 2 + MAX_TYPE_TOKENS);
        assert!(event_subject("g", &"y".repeat(10_000)).len() < 300);
    }

    #[test]
    fn message_ids_depend_on_source_and_id_only() {
        assert_eq!(message_id("s", "1"), message_id("s", "1"));
        assert_ne!(message_id("s", "1"), message_id("s1", ""));
        assert_eq!(message_id("s", "1").len(), 64);
    }

    #[test]
    fn wildcards_cover_what_they_should() {
        assert!(covers("glwatch.>", "glwatch.event.>"));
        assert!(covers(">", "glwatch.challenge"));
        assert!(covers("glwatch.*", "glwatch.rejected"));
        assert!(!covers("glwatch.*", "glwatch.event.>"));
        assert!(!covers("glwatch.event.*", "glwatch.event.>"));
        assert!(!covers("other.>", "glwatch.rejected"));
    }

    #[test]
    fn differences_are_named() {
        let options = NatsOptions::default();
        assert!(differences(&config(&options), &options).is_empty());
        let mut have = config(&options);
        have.num_replicas = 3;
        have.storage = StorageType::Memory;
        have.subjects = vec!["glwatch.event.>".into()];
        let said = differences(&have, &options).join("; ");
        assert!(said.contains("3 replica(s), --nats-replicas says 1"), "{said}");
        assert!(said.contains("in memory"), "{said}");
        assert!(said.contains("do not take glwatch.challenge"), "{said}");
        assert!(!said.contains("do not take glwatch.event"), "{said}");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        let mut options = NatsOptions { subject: "a.*".into(), ..Default::default() };
        assert!(validate(&options).is_err());
        options.subject = "a..b".into();
        assert!(validate(&options).is_err());
        options.subject = "team-1.glwatch".into();
        assert!(validate(&options).is_ok());
    }
}
