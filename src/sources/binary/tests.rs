//! Tests of sources/binary.rs.
use super::*;
use serde_json::json;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

/// The binding's section 3.1.4 example request.
fn spec_example() -> HeaderMap {
    headers(&[
        ("ce-specversion", "1.0"),
        ("ce-type", "com.example.someevent"),
        ("ce-time", "2018-04-05T03:56:24Z"),
        ("ce-id", "1234-1234-1234"),
        ("ce-source", "/mycontext/subcontext"),
        ("content-type", "application/json; charset=utf-8"),
    ])
}

#[test]
fn spec_example_becomes_structured_with_json_data() {
    let event = structured_from_binary(&spec_example(), br#"{"greeting": "hello"}"#).unwrap();
    assert_eq!(
        event,
        json!({
            "specversion": "1.0",
            "type": "com.example.someevent",
            "time": "2018-04-05T03:56:24Z",
            "id": "1234-1234-1234",
            "source": "/mycontext/subcontext",
            "datacontenttype": "application/json; charset=utf-8",
            "data": {"greeting": "hello"}
        })
    );
    assert!(is_binary_mode(&spec_example()));
}

#[test]
fn non_json_data_becomes_data_base64() {
    // The payload of the CloudEvents JavaScript SDK's binary examples, sent as XML.
    let mut h = spec_example();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    let event = structured_from_binary(&h, br#"<much wow="xml"/>"#).unwrap();
    assert_eq!(event["datacontenttype"], "text/xml");
    assert_eq!(event["data_base64"], "PG11Y2ggd293PSJ4bWwiLz4=");
    assert!(event.get("data").is_none());
    assert_eq!(check_structured_data(&event).unwrap().unwrap(), br#"<much wow="xml"/>"#);
}

#[test]
fn json_suffix_types_are_json() {
    for ct in ["application/cloudevents-like+json", "application/vnd.api+json; charset=utf-8", "APPLICATION/JSON"] {
        assert!(is_json_media_type(ct), "{ct}");
    }
    for ct in ["text/plain", "application/jsonx", "+json", "application/octet-stream"] {
        assert!(!is_json_media_type(ct), "{ct}");
    }
    let mut h = spec_example();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/vnd.api+json"));
    assert_eq!(structured_from_binary(&h, b"[1,2]").unwrap()["data"], json!([1, 2]));
    assert_eq!(
        structured_from_binary(&h, b"{oops").unwrap_err(),
        BinaryError::DataNotJson("application/vnd.api+json".to_owned())
    );
}

#[test]
fn percent_decoding_follows_the_binding() {
    // The binding's own example: "Euro € 😀".
    assert_eq!(decode_header_value(b"Euro%20%E2%82%AC%20%F0%9F%98%80").unwrap(), "Euro \u{20AC} \u{1F600}");
    assert_eq!(encode_header_value("Euro \u{20AC} \u{1F600}"), "Euro%20%E2%82%AC%20%F0%9F%98%80");
    // Lower-case hex and needlessly encoded characters are accepted.
    assert_eq!(decode_header_value(b"%e2%82%ac%41").unwrap(), "\u{20AC}A");
    // The binding's overlong example must be rejected, as must a lone continuation byte and a broken escape.
    assert_eq!(decode_header_value(b"%C0%A0"), None);
    assert_eq!(decode_header_value(b"%80"), None);
    assert_eq!(decode_header_value(b"100%"), None);
    // Quoted-string values from older senders, with backslash escapes, then percent-decoding.
    assert_eq!(decode_header_value(br#""hello \"world\" 100%25""#).unwrap(), r#"hello "world" 100%"#);
    assert_eq!(decode_header_value(br#""a"b""#), None);
    assert_eq!(encode_header_value(r#"say "100%""#), "say%20%22100%25%22");
}

#[test]
fn decoded_attributes_land_in_the_event() {
    let mut h = spec_example();
    h.insert("ce-subject", HeaderValue::from_static("Euro%20%E2%82%AC"));
    h.insert("ce-comexampleextension1", HeaderValue::from_static("value"));
    let event = structured_from_binary(&h, b"").unwrap();
    assert_eq!(event["subject"], "Euro \u{20AC}");
    assert_eq!(event["comexampleextension1"], "value");
    assert!(event.get("data").is_none() && event.get("data_base64").is_none());
}

#[test]
fn required_attributes_and_bad_headers_are_refused() {
    for name in REQUIRED {
        let mut h = spec_example();
        h.remove(format!("ce-{name}").as_str());
        assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::MissingAttribute(name));
    }
    let mut h = spec_example();
    h.insert("ce-specversion", HeaderValue::from_static("0.3"));
    assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::SpecVersion("0.3".to_owned()));
    let mut h = spec_example();
    h.insert("ce-id", HeaderValue::from_static(""));
    assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::EmptyAttribute("ce-id".to_owned()));
    let mut h = spec_example();
    h.insert("ce-datacontenttype", HeaderValue::from_static("application/json"));
    assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::DataContentTypeHeader);
    for bad in ["ce-data", "ce-my-extension", "ce-data_base64", "ce-"] {
        let mut h = spec_example();
        h.insert(HeaderName::from_bytes(bad.as_bytes()).unwrap(), HeaderValue::from_static("x"));
        assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::BadAttributeName(bad.to_owned()));
    }
    let mut h = spec_example();
    h.append("ce-id", HeaderValue::from_static("other"));
    assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::RepeatedHeader("ce-id".to_owned()));
    let mut h = spec_example();
    h.insert("ce-subject", HeaderValue::from_static("%C0%A0"));
    assert_eq!(structured_from_binary(&h, b"{}").unwrap_err(), BinaryError::BadHeaderValue("ce-subject".to_owned()));
}

#[test]
fn structured_content_type_is_not_binary_mode() {
    let mut h = spec_example();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/cloudevents+json; charset=UTF-8"));
    assert!(!is_binary_mode(&h));
    assert!(matches!(structured_from_binary(&h, b"{}"), Err(BinaryError::StructuredMode(_))));
    assert!(!is_binary_mode(&headers(&[("content-type", "application/json")])));
}

#[test]
fn missing_content_type_reads_json_else_keeps_bytes() {
    let mut h = spec_example();
    h.remove(CONTENT_TYPE);
    let event = structured_from_binary(&h, br#"{"a":1}"#).unwrap();
    assert_eq!(event["data"], json!({"a": 1}));
    assert!(event.get("datacontenttype").is_none());
    let event = structured_from_binary(&h, &[0xff, 0x00]).unwrap();
    assert_eq!(event["data_base64"], "/wA=");
    let deep = "[".repeat(100);
    assert_eq!(structured_from_binary(&h, deep.as_bytes()).unwrap_err(), BinaryError::TooDeep);
}

#[test]
fn structured_data_rules() {
    // The JSON format spec's binary-data example, with a concrete payload.
    let event = json!({
        "specversion": "1.0",
        "type": "com.example.someevent",
        "source": "/mycontext",
        "id": "A234-1234-1234",
        "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value",
        "comexampleothervalue": 5,
        "datacontenttype": "application/vnd.apache.thrift.binary",
        "data_base64": "AAECAwQ="
    });
    assert_eq!(check_structured_data(&event).unwrap().unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(check_structured_data(&json!({"data": 1})).unwrap(), None);
    assert_eq!(check_structured_data(&json!({"data": 1, "data_base64": "AA=="})), Err(BinaryError::BothDataMembers));
    assert_eq!(check_structured_data(&json!({"data_base64": "not base64!"})), Err(BinaryError::BadDataBase64));
    assert_eq!(check_structured_data(&json!({"data_base64": 5})), Err(BinaryError::BadDataBase64));
    assert_eq!(check_structured_data(&json!([1])), Err(BinaryError::NotAnObject));

    // And it round-trips through binary mode.
    let (h, body) = binary_from_structured(&event).unwrap();
    assert_eq!(body, [0, 1, 2, 3, 4]);
    assert_eq!(h["content-type"], "application/vnd.apache.thrift.binary");
    assert_eq!(h["ce-comexampleothervalue"], "5");
    let back = structured_from_binary(&h, &body).unwrap();
    assert_eq!(back["data_base64"], "AAECAwQ=");
    assert_eq!(back["comexampleothervalue"], "5");
    assert_eq!(back["time"], "2018-04-05T17:31:00Z");
}

#[test]
fn binary_from_structured_round_trips_json_and_text() {
    let event = json!({
        "specversion": "1.0", "type": "t", "source": "/s", "id": "1",
        "subject": "Euro € \"quoted\"",
        "data": {"k": [1, 2]}
    });
    let (h, body) = binary_from_structured(&event).unwrap();
    assert_eq!(h["ce-subject"], "Euro%20%E2%82%AC%20%22quoted%22");
    assert_eq!(h["content-type"], "application/json");
    let mut expected = event.clone();
    expected["datacontenttype"] = json!("application/json");
    assert_eq!(structured_from_binary(&h, &body).unwrap(), expected);

    let text = json!({"specversion": "1.0", "type": "t", "source": "/s", "id": "1",
        "datacontenttype": "text/plain", "data": "hi there"});
    let (h, body) = binary_from_structured(&text).unwrap();
    assert_eq!(body, b"hi there");
    assert_eq!(h["content-type"], "text/plain");

    let nested = json!({"specversion": "1.0", "type": "t", "source": "/s", "id": "1", "ext": {"a": 1}});
    assert_eq!(binary_from_structured(&nested).unwrap_err(), BinaryError::NotAHeaderValue("ext".to_owned()));
    let no_id = json!({"specversion": "1.0", "type": "t", "source": "/s"});
    assert_eq!(binary_from_structured(&no_id).unwrap_err(), BinaryError::MissingAttribute("id"));
}
