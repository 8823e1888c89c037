//! Reads the two things glwatch needs from an X.509 certificate without a full parser: when it expires, and
//! whether it is self-issued (so glwatch may replace it).
//!
//! The certificate has already been accepted by rustls as the one to serve; this only walks the DER structure
//! `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial, signature, issuer, validity,
//! subject, ... }, ... }` and refuses anything it does not expect.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The fields read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub not_after: OffsetDateTime,
    /// Issuer equals subject: a self-signed certificate such as the one glwatch generates.
    pub self_issued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate is not DER X.509 as expected: {0}")]
pub struct X509Error(&'static str);

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xA0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads notAfter and whether the certificate is self-issued.
pub fn facts(der: &[u8]) -> Result<CertFacts, X509Error> {
    let (cert, _) = expect(der, SEQUENCE, "certificate")?;
    let (mut tbs, _) = expect(cert, SEQUENCE, "tbsCertificate")?;
    if tbs.first() == Some(&VERSION) {
        tbs = tlv(tbs)?.2;
    }
    let (_, rest) = expect(tbs, INTEGER, "serial number")?;
    let (_, rest) = expect(rest, SEQUENCE, "signature algorithm")?;
    let (issuer, rest) = expect(rest, SEQUENCE, "issuer")?;
    let (validity, rest) = expect(rest, SEQUENCE, "validity")?;
    let (subject, _) = expect(rest, SEQUENCE, "subject")?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, not_after, _) = tlv(after_not_before)?;
    Ok(CertFacts { not_after: time_value(tag, not_after)?, self_issued: issuer == subject })
}

/// One tag-length-value: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), X509Error> {
    let (&tag, rest) = input.split_first().ok_or(X509Error("truncated"))?;
    let (&first, rest) = rest.split_first().ok_or(X509Error("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7F) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(X509Error("bad length"));
        }
        (rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize), &rest[n..])
    };
    if rest.len() < len {
        return Err(X509Error("truncated"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8]), X509Error> {
    match tlv(input)? {
        (t, contents, rest) if t == tag => Ok((contents, rest)),
        _ => Err(X509Error(what)),
    }
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950 to 2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`, as RFC 5280 requires them.
fn time_value(tag: u8, value: &[u8]) -> Result<OffsetDateTime, X509Error> {
    let bad = X509Error("notAfter");
    let text = std::str::from_utf8(value).map_err(|_| bad.clone())?;
    let digits = text.strip_suffix('Z').filter(|d| d.bytes().all(|b| b.is_ascii_digit())).ok_or(bad.clone())?;
    let num = |range: std::ops::Range<usize>| digits.get(range).and_then(|s| s.parse::<i32>().ok());
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = num(0..2).ok_or(bad.clone())?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (num(0..4).ok_or(bad.clone())?, 4),
        _ => return Err(bad),
    };
    let field = |i: usize| num(rest + 2 * i..rest + 2 * i + 2).and_then(|v| u8::try_from(v).ok());
    let (Some(month), Some(day), Some(h), Some(m), Some(s)) = (field(0), field(1), field(2), field(3), field(4)) else {
        return Err(bad);
    };
    let month = Month::try_from(month).map_err(|_| bad.clone())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad.clone())?;
    let time = Time::from_hms(h, m, s).map_err(|_| bad)?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cert_until(not_after: OffsetDateTime) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        // Before 2050 the date is a UTCTime, from 2050 on a GeneralizedTime.
        for when in [datetime!(2027-03-04 05:06:07 UTC), datetime!(2051-12-31 23:59:59 UTC)] {
            let f = facts(&cert_until(when)).unwrap();
            assert_eq!(f.not_after, when);
            assert!(f.self_issued);
        }
    }

    #[test]
    fn a_certificate_signed_by_another_is_not_self_issued() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf = leaf.signed_by(&rcgen::KeyPair::generate().unwrap(), &ca, &ca_key).unwrap();
        assert!(!facts(leaf.der()).unwrap().self_issued);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = cert_until(datetime!(2030-01-01 0:00 UTC));
        for cut in 0..good.len().min(300) {
            let _ = facts(&good[..cut]);
        }
        assert!(facts(b"").is_err());
        assert!(facts(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(facts(&[0x02, 0x01, 0x00]).is_err());
    }
}
