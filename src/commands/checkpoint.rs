//! checkpoint and restore: runc's CRIU flags as the library's options.

use crate::cli::{CheckpointArgs, CriuOpts, RestoreArgs};
use anyhow::Result;
use std::path::Path;

impl CriuOpts {
    fn options(&self) -> carrack::CriuOptions {
        carrack::CriuOptions {
            image_path: self.image_path.clone(),
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
        }
    }
}

impl CheckpointArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> carrack::CheckpointOptions {
        carrack::CheckpointOptions {
            id: self.id.clone(),
            criu: self.criu.options(),
            parent_path: self.parent_path.clone(),
            leave_running: self.leave_running,
            status_fd: self.status_fd,
            page_server: self.page_server.clone(),
            pre_dump: self.pre_dump,
        }
    }
}

impl RestoreArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> carrack::RestoreOptions {
        carrack::RestoreOptions {
            id: self.id.clone(),
            criu: self.criu.options(),
            bundle: self.bundle.clone(),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_subreaper: self.no_subreaper,
            no_pivot: self.no_pivot,
            lsm_profile: self.lsm_profile.clone(),
        }
    }
}

pub fn checkpoint(root: &Path, criu: &Path, a: &CheckpointArgs) -> Result<()> {
    Ok(carrack::checkpoint(root, criu, &a.options())?)
}

/// Returns the exit code: 0 with --detach, else the restored container's.
pub fn restore(root: &Path, criu: &Path, a: &RestoreArgs) -> Result<i32> {
    Ok(carrack::restore(root, criu, &a.options())?)
}
