//! Arbitrary bytes as an import body (`POST /api/v1/import`), read as
//! declared JSON, declared YAML and undeclared (`ff_documents`, which the
//! import route reads through), then each `flags[]` and `segments[]` item
//! parsed as the import route parses it. (Environment settings are the
//! store's type and are not reached here: the fuzz build stays clear of the
//! server and the database drivers, so that it takes minutes.)
//!
//! Invariants: nothing panics; declared JSON reads exactly what `serde_json`
//! reads when it is nested at most `MAX_DEPTH` levels, and nothing otherwise;
//! an undeclared body that opens like JSON (`{` or `[`) reads as declared
//! JSON does, any other as declared YAML does; every flag and segment item
//! that parses round-trips.
#![no_main]

use ff_fuzz::{check_round_trip, check_segment_round_trip};
use ff_documents::{Format, MAX_DEPTH, parse_document, strip_meta, too_deep};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let json = parse_document(data, Format::Json).ok();
    let yaml = parse_document(data, Format::Yaml).ok();
    let either = parse_document(data, Format::Either).ok();

    match std::str::from_utf8(data) {
        Err(_) => assert!(json.is_none() && yaml.is_none() && either.is_none()),
        Ok(text) => {
            let plain = serde_json::from_str::<Value>(text).ok();
            let shallow = too_deep(data, MAX_DEPTH).is_none();
            assert_eq!(json, plain.filter(|_| shallow), "declared JSON");
            if matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'[')) {
                assert_eq!(either, json, "undeclared, opening like JSON");
            } else {
                assert_eq!(either, yaml, "undeclared, not opening like JSON");
            }
        }
    }

    for document in [json, yaml].into_iter().flatten() {
        import_items(&document);
    }
});

/// Parses each part of an import document as the import route does.
fn import_items(document: &Value) {
    let Value::Object(map) = document else {
        return;
    };
    for item in items(map.get("flags")) {
        let mut item = item.clone();
        let _ = strip_meta(&mut item);
        if let Ok(flag) = ff_engine::parse_flag(&item) {
            check_round_trip(&flag);
        }
    }
    for item in items(map.get("segments")) {
        if let Ok(segment) = ff_engine::parse_segment(item) {
            check_segment_round_trip(&segment);
        }
    }
}

fn items(list: Option<&Value>) -> &[Value] {
    list.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}
