//! Fuzzes CloudEvent parsing and the fields an operator reads: never a panic, every accepted event can be read
//! back as a JSON tree, is stored compact and carries nothing a terminal would act on.
#![no_main]

use glwatch::cloudevent::{minify, nesting_depth, parse_body, EventFields, MAX_DEPTH};
use glwatch::text::is_unsafe;
use libfuzzer_sys::fuzz_target;

fn printable(text: &str) -> bool {
    !text.chars().any(is_unsafe)
}

fuzz_target!(|data: &[u8]| {
    let Ok(events) = parse_body(data) else {
        return;
    };
    assert!(nesting_depth(data) <= MAX_DEPTH);
    for event in events {
        let raw = event.raw.get();
        let value: serde_json::Value = serde_json::from_str(raw).expect("an accepted event reads back as a tree");
        assert_eq!(value["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(value["source"].as_str(), Some(event.source.as_str()));
        assert!(printable(raw), "stored event holds a terminal control: {raw:?}");
        assert_eq!(minify(raw), raw, "stored events are already compact");
        let fields = EventFields::extract(&value);
        for text in [&fields.id, &fields.source, &fields.ty, &fields.summary] {
            assert!(printable(text), "{text:?}");
        }
        for text in [&fields.user, &fields.category, &fields.time].into_iter().flatten() {
            assert!(printable(text), "{text:?}");
        }
    }
});
