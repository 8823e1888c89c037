//! Which source a request is for: its path picks a configured source (or, without `--sources`, the one GreenLake
//! source answers every path), and a verified delivery of a non-GreenLake scheme becomes a pipeline delivery.

use crate::cloudevent::{minify, ParsedEvent};
use crate::config::ReceiverConfig;
use crate::greenlake::{Signer, Verifier};
use crate::pipeline::Delivery as Commit;
use crate::record::Attributes;
use crate::sources::config::SourceSecrets;
use crate::sources::{Delivery, Scheme, SourceSecret};
use serde_json::value::RawValue;

/// One source as the handler uses it.
pub struct Route {
    /// `None` without `--sources`: records stay as they were before sources existed.
    pub name: Option<String>,
    /// `None`: every path.
    path: Option<String>,
    pub kind: RouteKind,
}

// A handful of routes live for the whole run, so the size of the GreenLake variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum RouteKind {
    GreenLake { verifier: Verifier, signer: Signer },
    Hmac { scheme: Scheme, secrets: Vec<SourceSecret> },
}

/// The sources of `config`, or the single GreenLake source of its `--secret` flags.
pub fn routes(config: &ReceiverConfig) -> Vec<Route> {
    if config.sources.is_empty() {
        let kind = RouteKind::GreenLake {
            verifier: Verifier::new(&config.primary, config.secondary.as_ref()),
            signer: Signer::new(&config.primary),
        };
        return vec![Route { name: None, path: None, kind }];
    }
    config
        .sources
        .iter()
        .map(|source| {
            let kind = match &source.secrets {
                SourceSecrets::GreenLake { primary, secondary } => RouteKind::GreenLake {
                    verifier: Verifier::new(primary, secondary.as_ref()),
                    signer: Signer::new(primary),
                },
                SourceSecrets::Hmac(secrets) => RouteKind::Hmac { scheme: source.scheme, secrets: secrets.clone() },
            };
            Route { name: Some(source.name.clone()), path: Some(source.path.clone()), kind }
        })
        .collect()
}

/// The route for a request path: an exact match (a handful of sources, so a scan is enough).
pub fn find<'a>(routes: &'a [Route], path: &str) -> Option<&'a Route> {
    routes.iter().find(|r| r.path.as_deref().map_or(true, |p| p == path))
}

/// A verified delivery of a non-GreenLake scheme, ready to commit: the payload as received (minified) is the
/// event, and the identity the scheme keeps in headers or nested members goes into the record's attributes.
pub fn commit(
    delivery: Delivery,
    body: &[u8],
    received_at: time::OffsetDateTime,
    peer: &str,
    name: Option<&str>,
) -> Commit {
    let raw = payload_json(body).unwrap_or_else(|| {
        // A form-encoded GitHub body: its JSON is a field of the form, so the parsed event is written instead.
        RawValue::from_string(delivery.event.to_string()).expect("a serialised value is JSON")
    });
    let attributes = Attributes {
        id: delivery.id.clone(),
        ty: delivery.event_type,
        source: delivery.source.clone(),
        user: delivery.user,
    };
    Commit {
        received_at,
        peer: peer.to_owned(),
        via: None,
        verified_by: delivery.verified_by,
        events: vec![ParsedEvent { source: delivery.source, id: delivery.id, raw }],
        source_name: name.map(str::to_owned),
        attributes: Some(attributes),
    }
}

/// The body itself, minified, when it is the JSON object the scheme verified.
fn payload_json(body: &[u8]) -> Option<Box<RawValue>> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    RawValue::from_string(minify(text.trim()).into_owned()).ok()
}

/// What a GitHub ping shows in the challenge panel: the hook and its zen line.
pub fn ping_text(delivery: &Delivery) -> String {
    let zen = delivery.event.get("zen").and_then(|v| v.as_str()).unwrap_or("");
    match delivery.event.get("hook_id") {
        Some(id) => format!("GitHub ping, hook {id}: {zen}"),
        None => format!("GitHub ping: {zen}"),
    }
}
