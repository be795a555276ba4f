//! Shiplog: the deploy log, release notes and defect follow-up for teams that
//! deploy often. See `docs/ARCHITECTURE.md` for the map.
#![forbid(unsafe_code)]
// Leptos view types nest deeply; computing their layout needs more than the default.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod model;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
