//! Values Shiplog signs so it can trust them back without storing them: the
//! subscribe form's token and the confirmation links in emails. The key is
//! made on first start and kept in the database, so every instance shares it
//! and a restart keeps issued links valid (`AppState::signer` loads it).

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: &[u8]) -> Signer {
        Signer { key: key.to_vec() }
    }

    fn mac(&self, purpose: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        mac
    }

    /// `payload` signed for one `purpose` (a value signed for another purpose
    /// never verifies for this one).
    pub fn sign(&self, purpose: &str, payload: &str) -> String {
        hex::encode(self.mac(purpose, payload).finalize().into_bytes())
    }

    /// Whether `signature` is this key's for `payload` (compared in constant time).
    pub fn verify(&self, purpose: &str, payload: &str, signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        self.mac(purpose, payload).verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Signer;

    #[test]
    fn signatures_are_bound_to_key_purpose_and_payload() {
        let a = Signer::new(b"one key");
        let sig = a.sign("confirm", "12.1700000000");
        assert!(a.verify("confirm", "12.1700000000", &sig));
        assert!(!a.verify("confirm", "13.1700000000", &sig));
        assert!(!a.verify("form", "12.1700000000", &sig));
        assert!(!Signer::new(b"another key").verify("confirm", "12.1700000000", &sig));
        assert!(!a.verify("confirm", "12.1700000000", "not hex"));
        assert!(!a.verify("confirm", "12.1700000000", ""));
    }
}
