//! How `glwatch send` checks the handler's certificate. With `--ca PEM`, a handler whose certificate is exactly
//! one in the PEM file is trusted as that certificate, as curl does, even when webpki would refuse it as an end
//! entity (the self-signed certificates of `openssl req -x509` carry CA:TRUE, which webpki rejects as
//! "CaUsedAsEndEntity"); anything else is verified against the PEM's certificates as roots. With `--insecure`,
//! any certificate is accepted. Either way the handshake's signatures are verified, so it stays well-formed.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

use super::client::SetupError;

/// Which handler certificates are accepted.
#[derive(Debug)]
pub struct HandlerCertVerifier {
    accept: Accept,
    provider: Arc<CryptoProvider>,
}

#[derive(Debug)]
enum Accept {
    /// `--insecure`.
    Any,
    /// `--ca PEM`: exactly these certificates, or what they sign.
    PinnedOrSignedBy {
        pinned: Vec<CertificateDer<'static>>,
        /// `None` when no certificate of the PEM can be a root: then only exact matches are trusted.
        webpki: Option<Arc<WebPkiServerVerifier>>,
    },
}

impl HandlerCertVerifier {
    /// Any certificate (`--insecure`).
    pub fn any(provider: Arc<CryptoProvider>) -> Self {
        HandlerCertVerifier { accept: Accept::Any, provider }
    }

    /// A certificate among `certs`, or one they sign.
    pub fn pinned_or_signed_by(
        certs: &[CertificateDer<'static>],
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, SetupError> {
        let mut roots = RootCertStore::empty();
        let (added, _unusable) = roots.add_parsable_certificates(certs.iter().cloned());
        let webpki = if added == 0 {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| SetupError::UnusableCa(rustls::Error::General(e.to_string())))?,
            )
        };
        Ok(HandlerCertVerifier { accept: Accept::PinnedOrSignedBy { pinned: certs.to_vec(), webpki }, provider })
    }
}

impl ServerCertVerifier for HandlerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Accept::PinnedOrSignedBy { pinned, webpki } = &self.accept else {
            return Ok(ServerCertVerified::assertion());
        };
        if pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            // The operator named this very certificate: its issuer and constraints do not matter, but like curl
            // the name it is for and its validity period still do.
            rustls::client::verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
            let facts = crate::server::x509::facts(end_entity)
                .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
            if facts.not_after.unix_timestamp() < now.as_secs() as i64 {
                return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
            }
            return Ok(ServerCertVerified::assertion());
        }
        match webpki {
            Some(webpki) => webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
