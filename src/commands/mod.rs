//! One thin file per verb: turn its flags into the library's types, call the library's API
//! (src/lib.rs), print what it returns. errors.rs is what an error prints.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod errors;
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

use crate::cli::{Global, LogFormat};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

impl Global {
    /// --log, --log-format and --debug for the library's logging.
    pub fn log_settings(&self) -> carrack::LogSettings {
        carrack::LogSettings {
            log: self.log.clone(),
            format: match self.log_format {
                LogFormat::Text => carrack::LogFormat::Text,
                LogFormat::Json => carrack::LogFormat::Json,
            },
            debug: self.debug,
        }
    }

    /// --root, or runc's default for this user.
    pub fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(carrack::default_root)
    }

    /// --systemd-cgroup and --rootless, for every verb.
    pub fn apply(&self) -> Result<()> {
        if self.systemd_cgroup {
            carrack::use_systemd_cgroups().context("--systemd-cgroup")?;
        }
        let rootless = match self.rootless.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            "auto" => None,
            other => bail!("--rootless {other:?}: must be true, false or auto"),
        };
        carrack::set_rootless_cgroups(rootless);
        Ok(())
    }

    /// --criu, or `criu` on PATH (runc's default).
    pub fn criu_path(&self) -> PathBuf {
        self.criu.clone().unwrap_or_else(|| "criu".into())
    }
}
