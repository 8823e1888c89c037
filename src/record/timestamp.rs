//! `received_at` as RFC 3339 text, the same as `time::serde::rfc3339`, written without an allocation per record.

use serde::{Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    // The longest RFC 3339 text is 35 bytes (nanoseconds and an offset); whatever does not fit or does not format
    // takes the allocating path, which gives the same text or the same error.
    const ROOM: usize = 64;
    let mut buf = [0u8; ROOM];
    let mut out = &mut buf[..];
    let formatted = at.format_into(&mut out, &Rfc3339);
    // What was written is read off the slice left over, not from the count returned: time 0.3.55 leaves the
    // fraction of a second out of that count.
    let written = ROOM - out.len();
    match formatted {
        Ok(_) => match std::str::from_utf8(&buf[..written]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => time::serde::rfc3339::serialize(at, serializer),
        },
        Err(_) => time::serde::rfc3339::serialize(at, serializer),
    }
}

pub fn deserialize<'a, D: Deserializer<'a>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_what_the_time_crate_writes() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.123456789 +05:30);
        let mut ours = serde_json::Serializer::new(Vec::new());
        super::serialize(&at, &mut ours).unwrap();
        let mut theirs = serde_json::Serializer::new(Vec::new());
        time::serde::rfc3339::serialize(&at, &mut theirs).unwrap();
        assert_eq!(ours.into_inner(), theirs.into_inner());
    }
}
