//! Tests of the ACME policy: option checks and renewal timing.
use super::*;
use std::path::PathBuf;

fn options(domains: &[&str]) -> AcmeOptions {
    AcmeOptions {
        domains: domains.iter().map(|d| d.to_string()).collect(),
        email: None,
        directory: LETS_ENCRYPT.into(),
        ca: None,
        cache_dir: PathBuf::from("acme"),
    }
}

#[test]
fn domains_are_checked_and_normalized() {
    let o = options(&["Events.Example.com.", "events.example.com", "b.example.org"]).normalized().unwrap();
    assert_eq!(o.domains, ["events.example.com", "b.example.org"]);
    for bad in ["127.0.0.1", "*.example.com", "localhost", "bad name.example.com", ""] {
        let e = options(&[bad]).normalized().unwrap_err().to_string();
        assert!(e.starts_with("--acme ") && !e.contains('\n'), "{bad}: {e}");
    }
}

#[test]
fn email_and_directory_are_checked() {
    let mut o = options(&["a.example.com"]);
    o.email = Some("ops@example.com".into());
    assert!(o.clone().normalized().is_ok());
    o.email = Some("ops".into());
    assert!(o.clone().normalized().unwrap_err().to_string().starts_with("--acme-email"));
    o.email = None;
    o.directory = "http://ca.example.com/dir".into();
    assert!(o.normalized().unwrap_err().to_string().starts_with("--acme-directory"));
}

#[test]
fn short_lived_certificates_renew_at_half_others_with_a_third_left() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let day = Duration::from_secs(86_400);
    assert_eq!(early_renewal(t0, t0 + 6 * day), Some(t0 + 3 * day));
    assert_eq!(renewal_due(t0, t0 + 6 * day), t0 + 3 * day);
    assert_eq!(early_renewal(t0, t0 + 90 * day), None);
    assert_eq!(renewal_due(t0, t0 + 90 * day), t0 + 60 * day);
    assert_eq!(early_renewal(t0, t0 + 10 * day), None);
}

#[test]
fn a_missing_extra_ca_is_one_line_naming_the_file() {
    let e = roots(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err().to_string();
    assert!(e.starts_with("--acme-ca /nonexistent/ca.pem:") && !e.contains('\n'), "{e}");
}
