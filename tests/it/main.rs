//! Integration tests through the real router, one fresh database per test,
//! each on SQLite and on PostgreSQL.

mod common;

mod api;
mod audiences;
mod audit;
mod auth;
mod authz;
mod cli;
mod connections;
mod email;
mod email_smtp;
mod first_day;
mod gates;
mod hardening;
mod incidents;
mod layers;
mod mail;
mod metrics;
mod people;
mod public;
mod releases;
mod retros;
mod safety;
mod schema;
mod sessions;
mod storage;
