//! One thin file per verb: parse what the verb needs, call the container layer, print.

pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod ps;
pub mod run;
pub mod spec;
pub mod state;
pub mod update;

pub use crate::state::state_json;
