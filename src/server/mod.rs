//! Everything that only runs on the server.

pub mod app;
pub mod audit;
pub mod auth;
pub mod browser_session;
pub mod clock;
pub mod config;
pub mod connections;
pub mod db;
pub mod demo;
pub mod downloads;
pub mod error;
pub mod headers;
pub mod html;
pub mod input;
pub mod logging;
pub mod mail;
pub mod markdown;
pub mod page_cache;
pub mod public;
pub mod rest;
pub mod scrape;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod text;
