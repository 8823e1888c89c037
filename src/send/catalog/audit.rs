//! The audit-log family: `audit-log.v1.logs.created` events with typical descriptions per category.

use super::content::*;
use super::Rng;
use time::OffsetDateTime;

/// Writes one audit-log description as a JSON string and returns its category. Each audit-log category GreenLake
/// shows has a few typical lines. Every piece comes from the content tables or is a generated serial or key, none
/// needing an escape, so the text is written in place rather than formatted into a string of its own.
pub(super) fn audit_description(rng: &mut Rng, user: &str, out: &mut String) -> &'static str {
    let other = *rng.pick(USERS);
    let (service, _, _) = *rng.pick(SERVICES);
    let mark = out.len();
    out.push('"');
    let category = match rng.below(14) {
        0..=3 => push_all(out, "user_management", &["User ", user, " logged in"]),
        4 | 5 => push_all(out, "user_management", &["User ", user, " logged out"]),
        6 => push_all(out, "user_management", &["User ", other, " invited to the workspace"]),
        7 => push_all(out, "user_management", &["Role ", *rng.pick(ROLES), " assigned to user ", other]),
        8 => push_all(out, "device_management", &["Device ", serial(rng).as_str(), " added to the workspace"]),
        9 => push_all(out, "device_management", &["Device ", serial(rng).as_str(), " assigned to ", service]),
        10 => push_all(out, "subscription_management", &["Subscription ", subscription_key(rng).as_str(), " added"]),
        11 => {
            let key = subscription_key(rng);
            let device = serial(rng);
            push_all(
                out,
                "subscription_management",
                &["Subscription ", key.as_str(), " assigned to device ", device.as_str()],
            )
        }
        12 => push_all(out, "service_catalog", &["Service ", service, " provisioned in region ", *rng.pick(REGIONS)]),
        _ => push_all(out, "authentication", &["API client credential created by ", user]),
    };
    out.push('"');
    debug_assert!(!out[mark + 1..out.len() - 1].bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
    category
}

fn push_all(out: &mut String, category: &'static str, parts: &[&str]) -> &'static str {
    for p in parts {
        out.push_str(p);
    }
    category
}

/// `com.hpe.greenlake.audit-log.v1.logs.created`, with the keys of GreenLake's sample in the same order.
pub(super) fn audit_log(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    let id = es_id(rng);
    let user = *rng.pick(USERS);
    let (workspace_id, account_name) = *rng.pick(WORKSPACES);
    // The description draws from `rng` before the address does; written later, it is built first.
    let mut description = String::with_capacity(96);
    let category = audit_description(rng, user, &mut description);
    let ip = public_ip(rng);
    let ms = epoch_millis(now);
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    out.push_str(id.as_str());
    out.push_str("\",\"source\":\"//global.api.greenlake.hpe.com/audit-log\",\"type\":\"com.hpe.greenlake.audit-log.v1.logs.created\",\"datacontenttype\":\"application/json\",\"dataschema\":\"https://developer.greenlake.hpe.com/docs/greenlake/services/audit-logs/public/catalog/audit-log-event-latest/paths/Audit%20Log%20Created/post/\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":{\"id\":\"");
    out.push_str(id.as_str());
    out.push_str("\",\"user\":{\"username\":");
    json_str(out, user);
    out.push_str("},\"workspace\":{\"id\":\"");
    out.push_str(workspace_id);
    out.push_str("\",\"workspace_name\":null,\"workspace_type\":null},\"application\":{\"id\":\"");
    if category == "service_catalog" || category == "device_management" {
        rng.write_uuid(out);
    } else {
        out.push_str("00000000-0000-0000-0000-000000000000");
    }
    out.push_str("\"},\"category\":\"");
    out.push_str(category);
    out.push_str("\",\"description\":");
    out.push_str(&description);
    out.push_str(",\"created_at\":");
    push_u64(out, ms);
    out.push_str(",\"updated_at\":");
    push_u64(out, ms);
    out.push_str(",\"additional_info\":{\"ip_address\":\"");
    out.push_str(ip.as_str());
    out.push_str("\",\"account_name\":");
    json_str(out, account_name);
    out.push_str(",\"ip_address_str\":\"");
    out.push_str(ip.as_str());
    out.push_str(if rng.chance(1, 4) { "\"},\"has_details\":true}}" } else { "\"},\"has_details\":false}}" });
}
