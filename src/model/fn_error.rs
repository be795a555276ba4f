//! The error every server function returns: what went wrong, in words a person
//! can act on, with the same stable code the JSON API uses.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct FnError {
    pub code: String,
    pub message: String,
}

impl FromServerFnError for FnError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let message = match value {
            ServerFnErrorErr::Request(_) => {
                "Shiplog could not be reached. Check your connection and try again.".to_string()
            }
            other => other.to_string(),
        };
        FnError {
            code: "transport".into(),
            message,
        }
    }
}
