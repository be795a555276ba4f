//! Pieces shared by the app's pages.

pub mod badges;
pub mod layout;
pub mod markdown_editor;

use leptos::prelude::*;

/// A server call's error, in words, in an alert box.
#[component]
pub fn ErrorNote(#[prop(into)] message: String) -> impl IntoView {
    view! { <p class="alert alert-error" role="alert">{message}</p> }
}

/// Shows the error of the latest result of an action, if it failed.
pub fn action_error<T, S>(value: S) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, crate::model::FnError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorNote message=crate::api::error_text(&e)/> }.into_any()),
        _ => None,
    }
}

/// `2026-11-26 21:04 UTC`.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
