//! Shared secrets and the `Hpe-Webhook-Signature: sha256=<hex>` signature over a delivery's raw body.

use crate::record::VerifiedBy;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

pub const SIGNATURE_HEADER: &str = "hpe-webhook-signature";

type HmacSha256 = Hmac<Sha256>;

/// A webhook secret. Its `Debug` never shows the value, so it cannot leak through a log line or a panic message.
#[derive(Clone)]
pub struct Secret(String);

/// GreenLake's "Register webhook" form accepts secrets of 4 to 100 characters.
pub const SECRET_MIN: usize = 4;
pub const SECRET_MAX: usize = 100;

/// A secret GreenLake would refuse; the message gives its length, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a GreenLake webhook secret has {SECRET_MIN} to {SECRET_MAX} characters, this one has {length}")]
pub struct SecretLengthError {
    pub length: usize,
}

impl Secret {
    /// Accepts a secret GreenLake would accept (4 to 100 characters).
    pub fn new(value: impl Into<String>) -> Result<Secret, SecretLengthError> {
        let value = value.into();
        let length = value.chars().count();
        if !(SECRET_MIN..=SECRET_MAX).contains(&length) {
            return Err(SecretLengthError { length });
        }
        Ok(Secret(value))
    }

    /// A credential outside GreenLake's secret rules (an API key or bearer token); still never shown.
    pub fn new_unchecked(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Constant-time comparison: both sides are hashed first, so neither length nor content leaks through time.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(candidate);
        a.as_slice().ct_eq(b.as_slice()).into()
    }

    /// A fresh random secret: 32 characters from a 62-letter alphabet (about 190 bits), printable so it can be
    /// pasted into GreenLake's form.
    pub fn generate() -> Secret {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(32);
        while out.len() < 32 {
            let mut buf = [0u8; 64];
            getrandom::getrandom(&mut buf).expect("the operating system's random source is available");
            // Rejection sampling keeps every letter equally likely.
            for b in buf {
                if (b as usize) < ALPHABET.len() * 4 && out.len() < 32 {
                    out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                }
            }
        }
        Secret(out)
    }

    /// The secret's value, for the few places that must use it: signing, and printing a generated one once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.0.as_bytes()).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Computes signatures the way GreenLake does; used by the challenge answer and the simulator.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl Signer {
    pub fn new(secret: &Secret) -> Signer {
        Signer { mac: secret.mac() }
    }

    /// Lower-case hex HMAC-SHA256 of `message`.
    pub fn hex(&self, message: &[u8]) -> String {
        let mut out = String::with_capacity(64);
        self.write_hex(message, &mut out);
        out
    }

    /// The `Hpe-Webhook-Signature` header value for `body`.
    pub fn header(&self, body: &[u8]) -> String {
        // Built in place: the load generator signs every request, so this stays one allocation.
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        self.write_hex(body, &mut out);
        out
    }

    fn write_hex(&self, message: &[u8], out: &mut String) {
        let mut mac = self.mac.clone();
        mac.update(message);
        let mut digits = [0u8; 64];
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut digits).expect("64 digits for 32 bytes");
        out.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
    }
}

/// Why a delivery's signature was refused. The text becomes the rejection reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature")]
    Missing,
    #[error("malformed signature (expected sha256=<64 hex digits>)")]
    Malformed,
    #[error("bad signature")]
    Mismatch,
}

/// Verifies deliveries against the primary secret, then the secondary one (during a rotation).
#[derive(Clone)]
pub struct Verifier {
    primary: HmacSha256,
    secondary: Option<HmacSha256>,
}

impl Verifier {
    pub fn new(primary: &Secret, secondary: Option<&Secret>) -> Verifier {
        Verifier { primary: primary.mac(), secondary: secondary.map(Secret::mac) }
    }

    /// Checks a header value (`None` when the header is absent) over the raw body bytes. The comparison is
    /// constant time (`Mac::verify_slice`); hex digits may be in either case.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<VerifiedBy, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let digest = parse_header(header)?;
        let check = |mac: &HmacSha256| {
            let mut mac = mac.clone();
            mac.update(body);
            mac.verify_slice(&digest).is_ok()
        };
        if check(&self.primary) {
            return Ok(VerifiedBy::Primary);
        }
        if self.secondary.as_ref().is_some_and(check) {
            return Ok(VerifiedBy::Secondary);
        }
        Err(SignatureError::Mismatch)
    }
}

fn parse_header(value: &[u8]) -> Result<[u8; 32], SignatureError> {
    let value = value.trim_ascii();
    let hex_digits = value.strip_prefix(b"sha256=").ok_or(SignatureError::Malformed)?;
    let mut digest = [0u8; 32];
    if hex_digits.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    hex::decode_to_slice(hex_digits, &mut digest).map_err(|_| SignatureError::Malformed)?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s).unwrap()
    }

    #[test]
    fn public_hmac_vector() {
        let s = Signer::new(&secret("It's a Secret to Everybody"));
        assert_eq!(s.hex(b"Hello, World!"), "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    }

    #[test]
    fn secret_length_bounds() {
        assert!(Secret::new("abc").is_err());
        assert!(Secret::new("abcd").is_ok());
        assert!(Secret::new("x".repeat(100)).is_ok());
        assert!(Secret::new("x".repeat(101)).is_err());
        let g = Secret::generate();
        assert_eq!(g.expose().len(), 32);
        assert_ne!(g.expose(), Secret::generate().expose());
        assert_eq!(format!("{g:?}"), "Secret(<redacted>)");
        assert!(g.matches(g.expose().as_bytes()));
        assert!(!g.matches(b"other"));
    }

    #[test]
    fn verify_primary_secondary_and_failures() {
        let p = secret("primary-secret");
        let s = secret("secondary-secret");
        let v = Verifier::new(&p, Some(&s));
        let body = b"{\"a\":1}";
        let by_p = Signer::new(&p).header(body);
        let by_s = Signer::new(&s).header(body);
        assert_eq!(v.verify(Some(by_p.as_bytes()), body), Ok(VerifiedBy::Primary));
        assert_eq!(v.verify(Some(by_s.as_bytes()), body), Ok(VerifiedBy::Secondary));
        assert_eq!(
            v.verify(Some(by_p.to_uppercase().replace("SHA256", "sha256").as_bytes()), body),
            Ok(VerifiedBy::Primary)
        );
        assert_eq!(v.verify(None, body), Err(SignatureError::Missing));
        assert_eq!(v.verify(Some(b"sha256="), body), Err(SignatureError::Malformed));
        assert_eq!(v.verify(Some(&by_p.as_bytes()[7..]), body), Err(SignatureError::Malformed));
        assert_eq!(v.verify(Some(by_p.as_bytes()), b"{\"a\":2}"), Err(SignatureError::Mismatch));
        let only_p = Verifier::new(&p, None);
        assert_eq!(only_p.verify(Some(by_s.as_bytes()), body), Err(SignatureError::Mismatch));
    }
}
