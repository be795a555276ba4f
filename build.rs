//! Links the `shiplog` binary as a position-dependent executable on Linux.
//!
//! A position-independent one has about 100,000 relocations for the loader
//! to apply at start-up, which write to (and so keep resident) every page of
//! its 2 MB of relocated read-only data: part of the idle memory goal
//! (bench/load.sh). At a fixed address the linker resolves them all.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && arch != "wasm32" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
