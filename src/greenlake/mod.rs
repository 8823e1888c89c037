//! The GreenLake webhook protocol: shared secrets, delivery signatures and the verification challenge.

pub mod challenge;
pub mod signature;

pub use challenge::{answer_challenge, challenge_request, ChallengeGuard};
pub use signature::{Secret, SecretLengthError, SignatureError, Signer, Verifier, SIGNATURE_HEADER};
