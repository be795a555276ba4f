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
        match value {
            ServerFnErrorErr::Request(_) => FnError {
                code: "transport".into(),
                message: "Shiplog could not be reached. Check your connection and try again."
                    .into(),
            },
            // The call's fields could not be read: the caller's mistake (400),
            // not the server's, said as such.
            ServerFnErrorErr::Args(why)
            | ServerFnErrorErr::MissingArg(why)
            | ServerFnErrorErr::Deserialization(why) => {
                #[cfg(feature = "ssr")]
                if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                    res.set_status(http::StatusCode::BAD_REQUEST);
                }
                FnError {
                    code: "bad_request".into(),
                    message: format!("The request's fields could not be read: {why}"),
                }
            }
            other => FnError {
                code: "transport".into(),
                message: other.to_string(),
            },
        }
    }
}
