//! Signing in: passwords, sessions, API tokens and the cross-site request check.

pub mod client;
pub mod csrf;
pub mod device;
pub mod password;
pub mod session;
pub mod signing;
pub mod token;
