//! The service-catalog family: service provisions, onboarded service offers and deleted offer regions.

use super::content::*;
use super::{EventType, Rng};
use std::fmt::Write as _;
use time::OffsetDateTime;

/// Opens a service-catalog event. The catalog publishes no sample payload for these types, so `data` carries the
/// fields of the service catalog API's own resources (service provisions, service offers, offer regions).
pub(super) fn catalog_head(out: &mut String, ty: EventType, source: &str, rng: &mut Rng, now: OffsetDateTime) {
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    rng.write_uuid(out);
    out.push_str("\",\"source\":\"");
    out.push_str(source);
    out.push_str("\",\"type\":\"");
    out.push_str(ty.type_name());
    out.push_str("\",\"datacontenttype\":\"application/json\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":");
}

pub(super) fn service_provision(ty: EventType, rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(out, ty, "https://global.api.greenlake.hpe.com/service-catalog", rng, now);
    let (name, slug, _) = *rng.pick(SERVICES);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    let status = if ty == EventType::ServiceProvisioned { "PROVISIONED" } else { "UNPROVISIONED" };
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"serviceOfferId\":\"{}\",\"serviceOfferName\":\"{name}\",\"slug\":\"{slug}\",\"workspaceId\":\"{workspace_id}\",\"region\":\"{}\",\"status\":\"{status}\",\"serviceManagerId\":\"{}\",\"updatedAt\":\"",
        rng.uuid(),
        rng.uuid(),
        rng.pick(REGIONS),
        rng.uuid()
    );
    rfc3339(out, now, true);
    out.push_str("\"}}");
}

pub(super) fn service_offer_onboarded(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(
        out,
        EventType::ServiceOfferOnboarded,
        "https://global.api.greenlake.hpe.com/service-catalog",
        rng,
        now,
    );
    let (name, slug, category) = *rng.pick(SERVICES);
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"name\":\"{name}\",\"slug\":\"{slug}\",\"category\":\"{category}\",\"serviceManagerId\":\"{}\",\"status\":\"ONBOARDED\",\"createdAt\":\"",
        rng.uuid(),
        rng.uuid()
    );
    rfc3339(out, now, true);
    out.push_str("\"}}");
}

pub(super) fn service_offer_region_delete(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(
        out,
        EventType::ServiceOfferRegionDeleted,
        "https://global.api.greenlake.hpe.com/service-catalog",
        rng,
        now,
    );
    let (name, _, _) = *rng.pick(SERVICES);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"serviceOfferId\":\"{}\",\"serviceOfferName\":\"{name}\",\"region\":\"{}\",\"status\":\"DELETED\",\"workspaceId\":\"{workspace_id}\"}}}}",
        rng.uuid(),
        rng.uuid(),
        rng.pick(REGIONS),
    );
}
