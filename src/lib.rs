//! carrack as a library: create, start, exec in, stop and delete OCI containers from Rust,
//! with typed options and errors. The `carrack` binary is this library plus runc's command
//! line (src/main.rs, src/cli.rs, src/commands/).
//!
//! Layers (scripts/check-layers checks that imports only point down):
//!
//! | layer | modules |
//! |---|---|
//! | lifecycle | `container`, `state` |
//! | process | `launcher`, `init`, `selfexe` |
//! | subsystems | `linux`, `cgroups`, `config` |
//! | base | `sync`, `logging`, `fault`, `rootless` |
//!
//! The modules are public for the binary; their contents are not a stable API (hidden from
//! the docs).

#[doc(hidden)]
pub mod cgroups;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod container;
#[doc(hidden)]
pub mod fault;
#[doc(hidden)]
pub mod init;
#[doc(hidden)]
pub mod launcher;
#[doc(hidden)]
pub mod linux;
#[doc(hidden)]
pub mod logging;
#[cfg(test)]
mod mutate;
#[doc(hidden)]
pub mod rootless;
#[doc(hidden)]
pub mod selfexe;
#[doc(hidden)]
pub mod state;
#[doc(hidden)]
pub mod sync;
#[cfg(test)]
mod testutil;
