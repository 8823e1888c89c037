//! Unit tests for `crate::tui::history`.

use super::texts::CHUNK;
use super::*;
use crate::record::VerifiedBy;

pub fn event(id: &str, ty: &str, user: Option<&str>, description: &str) -> EventRecord {
    let mut data = serde_json::json!({ "description": description });
    if let Some(u) = user {
        data["user"] = serde_json::json!({ "username": u });
    }
    let v = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "//test", "type": ty,
        "time": "2024-12-20T12:34:53.161Z", "data": data,
    });
    EventRecord {
        source_name: None,
        attributes: None,
        received_at: time::macros::datetime!(2024-12-20 12:34:55 UTC),
        peer: "127.0.0.1:5000".into(),
        via: None,
        verified_by: VerifiedBy::Primary,
        duplicate: false,
        event: RawValue::from_string(v.to_string()).unwrap(),
    }
}

#[test]
fn retain_bounds_rows_and_counts_what_fell_off() {
    let mut h = History::new(3);
    for i in 0..5 {
        let p = h.push(event(&format!("e{i}"), "t.a", Some("u"), "d"));
        assert_eq!(p.seq, i);
        assert_eq!(p.evicted, u64::from(i >= 3));
    }
    assert_eq!(h.len(), 3);
    assert_eq!(h.dropped(), 2);
    assert_eq!(h.base(), 2);
    assert!(h.get(1).is_none());
    assert_eq!(h.id(h.get(2).unwrap()), "e2");
    assert_eq!(h.summary(h.get(2).unwrap()), "d");
    assert_eq!(h.users.count(h.users.get("u").unwrap()), 3);
    let ids: Vec<_> = h.iter().map(|(s, r)| (s, h.id(r).to_string())).collect();
    assert_eq!(ids, [(2, "e2".into()), (3, "e3".into()), (4, "e4".into())]);
}

#[test]
fn duplicates_are_counted_on_the_retained_row_only() {
    let mut h = History::new(2);
    h.push(event("a", "t", None, "first"));
    h.push(event("b", "t", None, "second"));
    let mut again = event("b", "t", None, "second");
    again.duplicate = true;
    assert_eq!(h.duplicate(&again), Some(1));
    assert_eq!(h.duplicate(&again), Some(1));
    assert_eq!(h.get(1).unwrap().duplicates, 2);
    assert_eq!(h.get(0).unwrap().duplicates, 0);
    h.push(event("c", "t", None, "third"));
    h.push(event("d", "t", None, "fourth"));
    assert_eq!(h.duplicate(&again), None, "the original fell off the history");
    assert_eq!(h.duplicate(&event("zzz", "t", None, "")), None);
}

#[test]
fn texts_are_clipped_and_their_chunks_freed_with_the_rows() {
    let mut h = History::new(3);
    let long = "é".repeat(SUMMARY_MAX);
    h.push(event("a", "t", None, &long));
    let row = h.get(0).unwrap();
    assert_eq!(h.summary(row).len(), SUMMARY_MAX);
    assert!(long.starts_with(h.summary(row)));
    // Enough text to fill several chunks; only the chunks of the three retained rows stay.
    let big = "x".repeat(SUMMARY_MAX);
    for i in 0..(3 * CHUNK / SUMMARY_MAX) {
        h.push(event(&format!("b{i}"), "t", None, &big));
    }
    assert!(h.texts.chunks() <= 2, "{} chunks kept", h.texts.chunks());
    for (_, r) in h.iter() {
        assert!(h.id(r).starts_with('b'));
        assert_eq!(h.summary(r), big);
    }
}

#[test]
fn text_hits_agree_with_matching_each_row() {
    let mut h = History::new(1000);
    let words = ["alpha", "beta", "gamma", "Alphabet", "pha", "a", "ALP", "éa"];
    for i in 0..300 {
        let d = format!("{} {}", words[i % words.len()], words[(i / 8) % words.len()]);
        h.push(event(&format!("{}{i}", words[(i / 3) % words.len()]), "t", None, &d));
    }
    for needle in ["a", "alp", "PHA", "ab", "a a", "aalp", "pha2", "é", "ag", "9g"] {
        let m = TextMatcher::new(needle);
        let mut hits = h.text_hits(&m);
        for (_, r) in h.iter() {
            let expected = m.is_match(h.id(r)) || m.is_match(h.summary(r));
            assert_eq!(hits.row_hit(&h, r), expected, "{needle:?} in {:?} / {:?}", h.id(r), h.summary(r));
        }
        // Visiting only some rows (a filtered list) gives the same answers.
        let mut hits = h.text_hits(&m);
        for (_, r) in h.iter().step_by(7) {
            let expected = m.is_match(h.id(r)) || m.is_match(h.summary(r));
            assert_eq!(hits.row_hit(&h, r), expected);
        }
    }
}

/// Which of `rows` (visited in this order) `needle` is found in, through [`TextHits`].
fn hits(h: &History, needle: &str, rows: &[u64]) -> Vec<u64> {
    let m = TextMatcher::new(needle);
    let mut hits = h.text_hits(&m);
    rows.iter().copied().filter(|&s| hits.row_hit(h, h.get(s).unwrap())).collect()
}

#[test]
fn text_hits_never_count_a_match_across_id_and_summary_or_into_the_next_row() {
    let mut h = History::new(10);
    h.push(event("abC", "t", None, "Def")); // 0: "abCDef"
    h.push(event("ghi", "t", None, "fab")); // 1: "ghifab", after row 0's "Def"
    h.push(event("xx", "t", None, "cdcd")); // 2
    let all = [0, 1, 2];
    assert_eq!(hits(&h, "cd", &all), [2], "\"cD\" across row 0's id and summary does not count");
    assert_eq!(hits(&h, "fg", &all), Vec::<u64>::new(), "nor \"fg\" across rows 0 and 1");
    assert_eq!(hits(&h, "efg", &all), Vec::<u64>::new());
    assert_eq!(hits(&h, "DEF", &all), [0]);
    assert_eq!(hits(&h, "ab", &all), [0, 1]);
    assert_eq!(hits(&h, "b", &all), [0, 1]);
    assert_eq!(hits(&h, "C", &all), [0, 2]);
    // A row after one whose only candidate crosses the boundary is still found.
    assert_eq!(hits(&h, "cdc", &all), [2]);
    assert_eq!(hits(&h, "abcdef", &all), Vec::<u64>::new());
}

#[test]
fn text_hits_find_overlapping_and_repeated_matches_once_per_row() {
    let mut h = History::new(10);
    h.push(event("id", "t", None, "aXaXa aXa")); // 0
    h.push(event("aX", "t", None, "a")); // 1: "aXa" only across id and summary
    h.push(event("q", "t", None, "AxA")); // 2
    h.push(event("q", "t", None, "zzz")); // 3
    assert_eq!(hits(&h, "axa", &[0, 1, 2, 3]), [0, 2]);
    assert_eq!(hits(&h, "axaxa", &[0, 1, 2, 3]), [0]);
    assert_eq!(hits(&h, "zz", &[0, 1, 2, 3]), [3]);
    // Visiting only some rows, as a narrowed list does: matches in the rows skipped do not leak into others.
    assert_eq!(hits(&h, "axa", &[1, 3]), Vec::<u64>::new());
    assert_eq!(hits(&h, "axa", &[1, 2]), [2]);
    assert_eq!(hits(&h, "a", &[1, 3]), [1]);
}

#[test]
fn text_hits_fold_letters_only_and_take_other_bytes_as_they_are() {
    let mut h = History::new(10);
    h.push(event("E-1", "t", None, "Ünïcode [x] ÉTÉ @home")); // 0
    h.push(event("e_1", "t", None, "under_score 100%")); // 1
    h.push(event("K", "t", None, "\u{212a}elvin")); // 2: starts with the Kelvin sign
    let all = [0, 1, 2];
    assert_eq!(hits(&h, "-", &all), [0]);
    assert_eq!(hits(&h, "e-1", &all), [0]);
    assert_eq!(hits(&h, "_", &all), [1]);
    assert_eq!(hits(&h, "0%", &all), [1]);
    assert_eq!(hits(&h, "[X]", &all), [0]);
    assert_eq!(hits(&h, "@HOME", &all), [0]);
    assert_eq!(hits(&h, "nïc", &all), [0], "a needle that is not ASCII is matched row by row");
    assert_eq!(hits(&h, "été", &all), [0]);
    assert_eq!(hits(&h, "elvin", &all), [2]);
    assert_eq!(hits(&h, "k", &all), [2]);
}

#[test]
fn retain_zero_keeps_nothing() {
    let mut h = History::new(0);
    let p = h.push(event("a", "t", Some("u"), "d"));
    assert_eq!((p.seq, p.evicted), (0, 1));
    assert!(h.is_empty());
    assert!(h.users.is_empty());
    assert_eq!(h.dropped(), 1);
}

#[test]
fn a_row_stays_small_beside_its_json() {
    // A million retained events must cost little more than their JSON: the row is most of the rest.
    assert!(std::mem::size_of::<EventRow>() <= 80, "{} bytes", std::mem::size_of::<EventRow>());
}
