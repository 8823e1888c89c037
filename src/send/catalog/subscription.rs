//! The subscription family: expiring-subscription notices.

use super::content::*;
use super::Rng;
use std::fmt::Write as _;
use time::OffsetDateTime;

/// `com.hpe.greenlake.subscriptions.v1.expiring-subscriptions`, fired 90, 60, 30 and 1 days before expiry, with
/// the lower-case keys of GreenLake's captured sample.
pub(super) fn expiring_subscription(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    let days = *rng.pick(&[90i64, 60, 30, 1]);
    let expiry = now + time::Duration::days(days);
    let (sku, tier, kind, product) = *rng.pick(SUBSCRIPTIONS);
    let quantity = *rng.pick(&[1u32, 10, 25, 50, 100, 500]);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    rng.write_uuid(out);
    out.push_str("\",\"source\":\"https://global.api.greenlake.hpe.com/subscriptions\",\"type\":\"com.hpe.greenlake.subscriptions.v1.expiring-subscriptions\",\"datacontenttype\":\"application/json\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":{\"key\":\"");
    out.push_str(subscription_key(rng).as_str());
    let _ = write!(
        out,
        "\",\"expirydate\":\"{:02}/{:02}/{:04}\",\"sku\":\"{sku}\",\"licensetier\":\"{tier}\",\"quantity\":{quantity},\"username\":",
        expiry.month() as u8,
        expiry.day(),
        expiry.year()
    );
    let company = COMPANIES[rng.below(COMPANIES.len())];
    json_str(out, company);
    let _ = write!(
        out,
        ",\"subscriptionendinsecs\":{},\"subscriptiontype\":\"{kind}\",\"producttype\":\"{product}\",\"platformcustomerid\":\"{workspace_id}\",\"devices\":[]}}}}",
        expiry.unix_timestamp()
    );
}
