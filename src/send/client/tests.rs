//! Unit tests for `crate::send::client`.

use super::*;

#[test]
fn parses_targets() {
    let t = Target::parse("https://example.com/webhook?x=1").unwrap();
    assert!(t.tls);
    assert_eq!((t.host.as_str(), t.port), ("example.com", 443));
    assert_eq!(t.path, "/webhook?x=1");
    assert_eq!(t.authority, "example.com");
    let t = Target::parse("https://[::1]:8443").unwrap();
    assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 8443, "/"));
    assert_eq!(t.authority, "[::1]:8443");
    let t = Target::parse("http://127.0.0.1:8080/hook").unwrap();
    assert!(!t.tls);
    assert_eq!(t.port, 8080);
    assert!(Target::parse("ftp://x/").is_err());
    assert!(Target::parse("example.com/hook").is_err());
    assert!(Target::parse("https://user:pw@example.com/").is_err());
}

#[test]
fn ip_hosts_are_valid_server_names() {
    for host in ["127.0.0.1", "::1", "localhost"] {
        let t = Target::parse(&format!(
            "https://{}:1/",
            if host.contains(':') { format!("[{host}]") } else { host.into() }
        ))
        .unwrap();
        Client::new(t, &Trust::Insecure, Auth::default(), Duration::from_secs(1)).unwrap();
    }
}

#[test]
fn pem_trust() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let t = Trust::from_pem(cert.cert.pem().as_bytes()).unwrap();
    assert!(matches!(&t, Trust::Certificates(c) if c.len() == 1));
    tls_config(&t).unwrap();
    assert!(Trust::from_pem(b"not pem").is_err());
}

#[test]
fn credentials_are_redacted() {
    let a = Auth::bearer("tok3n").unwrap();
    assert_eq!(format!("{a:?}"), "Auth(<redacted>)");
    assert!(Auth::api_key("bad\nkey").is_err());
}
