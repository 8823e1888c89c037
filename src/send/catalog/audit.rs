//! The audit-log family: `audit-log.v1.logs.created` events with typical descriptions per category.

use super::content::*;
use super::Rng;
use std::fmt::Write as _;
use time::OffsetDateTime;

/// One audit-log description and its category. Each audit-log category GreenLake shows has a few typical lines.
pub(super) fn audit_description(rng: &mut Rng, user: &str) -> (&'static str, String) {
    let other = *rng.pick(USERS);
    let (service, _, _) = *rng.pick(SERVICES);
    match rng.below(14) {
        0..=3 => ("user_management", format!("User {user} logged in")),
        4 | 5 => ("user_management", format!("User {user} logged out")),
        6 => ("user_management", format!("User {other} invited to the workspace")),
        7 => ("user_management", format!("Role {} assigned to user {other}", rng.pick(ROLES))),
        8 => ("device_management", format!("Device {} added to the workspace", serial(rng))),
        9 => ("device_management", format!("Device {} assigned to {service}", serial(rng))),
        10 => ("subscription_management", format!("Subscription {} added", subscription_key(rng))),
        11 => (
            "subscription_management",
            format!("Subscription {} assigned to device {}", subscription_key(rng), serial(rng)),
        ),
        12 => ("service_catalog", format!("Service {service} provisioned in region {}", rng.pick(REGIONS))),
        _ => ("authentication", format!("API client credential created by {user}")),
    }
}

/// `com.hpe.greenlake.audit-log.v1.logs.created`, with the keys of GreenLake's sample in the same order.
pub(super) fn audit_log(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    let id = es_id(rng);
    let user = *rng.pick(USERS);
    let (workspace_id, account_name) = *rng.pick(WORKSPACES);
    let (category, description) = audit_description(rng, user);
    let ip = public_ip(rng);
    let ms = epoch_millis(now);
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    out.push_str(&id);
    out.push_str("\",\"source\":\"//global.api.greenlake.hpe.com/audit-log\",\"type\":\"com.hpe.greenlake.audit-log.v1.logs.created\",\"datacontenttype\":\"application/json\",\"dataschema\":\"https://developer.greenlake.hpe.com/docs/greenlake/services/audit-logs/public/catalog/audit-log-event-latest/paths/Audit%20Log%20Created/post/\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":{\"id\":\"");
    out.push_str(&id);
    out.push_str("\",\"user\":{\"username\":");
    json_str(out, user);
    out.push_str("},\"workspace\":{\"id\":\"");
    out.push_str(workspace_id);
    out.push_str("\",\"workspace_name\":null,\"workspace_type\":null},\"application\":{\"id\":\"");
    if category == "service_catalog" || category == "device_management" {
        out.push_str(&rng.uuid());
    } else {
        out.push_str("00000000-0000-0000-0000-000000000000");
    }
    out.push_str("\"},\"category\":\"");
    out.push_str(category);
    out.push_str("\",\"description\":");
    json_str(out, &description);
    let _ = write!(
        out,
        ",\"created_at\":{ms},\"updated_at\":{ms},\"additional_info\":{{\"ip_address\":\"{ip}\",\"account_name\":"
    );
    json_str(out, account_name);
    let _ = write!(out, ",\"ip_address_str\":\"{ip}\"}},\"has_details\":{}}}}}", rng.chance(1, 4));
}
