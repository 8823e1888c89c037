//! Tests of watch/client.rs.
use super::*;

#[test]
fn targets() {
    assert_eq!(Target::parse("unix:/run/g.sock").unwrap(), Target::Unix("/run/g.sock".into()));
    assert_eq!(Target::parse("data/g.sock").unwrap(), Target::Unix("data/g.sock".into()));
    assert_eq!(
        Target::parse("https://h.example:9443").unwrap(),
        Target::Https { host: "h.example".into(), port: 9443 }
    );
    assert_eq!(Target::parse("https://[::1]:9").unwrap().to_string(), "https://[::1]:9");
    assert_eq!(Target::parse("https://h").unwrap(), Target::Https { host: "h".into(), port: 8443 });
    for bad in ["", "unix:", "http://h:1", "https://"] {
        assert!(Target::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn sse_events_split_across_pushes() {
    let mut p = SseParser::default();
    p.push(b": keep-alive\n\nid: 7\ndata: {\"seq\":7}\n");
    assert_eq!(p.next_message().unwrap(), None);
    p.push(b"\nevent: gap\r\ndata: 3\r\n\r\ndata: x");
    assert_eq!(p.next_message().unwrap(), Some(Message::Record { seq: 7, line: "{\"seq\":7}".into() }));
    assert_eq!(p.next_message().unwrap(), Some(Message::Gap(3)));
    assert_eq!(p.next_message().unwrap(), None);
    p.push(b"\n\n");
    assert_eq!(p.next_message().unwrap(), Some(Message::Record { seq: 0, line: "x".into() }));
}

#[test]
fn sse_data_that_is_not_utf8_arrives_with_replacement_characters() {
    let mut p = SseParser::default();
    p.push(b"id: 1\ndata: caf\xc3\xa9 \xff!\n\n");
    assert_eq!(p.next_message().unwrap(), Some(Message::Record { seq: 1, line: "caf\u{e9} \u{fffd}!".into() }));
}
