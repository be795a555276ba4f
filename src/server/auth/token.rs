//! Random secrets (API tokens, invitation links) and how they are stored: hashed.
//! They carry 256 bits of entropy, so a plain SHA-256 is the right hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret with a readable prefix, e.g. `shp_3f9a…`.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = super::generate("shp_");
        let b = super::generate("shp_");
        assert_ne!(a, b);
        assert!(a.starts_with("shp_") && a.len() == 68);
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_ne!(super::hash(&a), super::hash(&b));
    }
}
