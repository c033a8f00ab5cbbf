use crate::cli::{CreateArgs, CreateOpts};
use anyhow::Result;
use std::path::Path;

impl CreateOpts {
    /// The library's options for these flags (create and run).
    pub fn options(&self) -> carrack::CreateOptions {
        carrack::CreateOptions {
            bundle: self.bundle.clone(),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        }
    }
}

pub fn run(root: &Path, a: &CreateArgs) -> Result<()> {
    carrack::create(root, &a.id, &a.opts.options())?;
    Ok(())
}
