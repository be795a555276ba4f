//! Types that cross the wire between the server, the browser and API clients.
//! Nothing here carries a secret: password and token hashes stay in `server::db`.

pub mod action;
pub mod audience;
pub mod deploy;
pub mod email;
pub mod gate;
pub mod incident;
pub mod release;
pub mod retro;
pub mod root_cause;
pub mod safety;
pub mod user;

pub use action::*;
pub use audience::*;
pub use deploy::*;
pub use email::*;
pub use gate::*;
pub use incident::*;
pub use release::*;
pub use retro::*;
pub use root_cause::*;
pub use safety::*;
pub use user::*;

mod fn_error;
pub use fn_error::FnError;
