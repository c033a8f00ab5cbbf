//! What checkpoint and restore take besides the id: runc's CRIU flags as plain values
//! (src/cli.rs turns the command line into these).

use std::path::PathBuf;

/// CRIU options both checkpoint and restore take.
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    /// Where the image files go [default: ./checkpoint].
    pub image_path: Option<PathBuf>,
    /// Work files and logs [default: the image path].
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// soft, full, strict or ignore [default: soft].
    pub manage_cgroups_mode: Option<String>,
    /// Namespaces made empty instead of restored.
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// A checkpoint of the container `id`.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    pub id: String,
    pub criu: CriuOptions,
    /// Previous images of a pre-dump (relative to the image path).
    pub parent_path: Option<String>,
    pub leave_running: bool,
    /// CRIU writes \0 to this fd once lazy-pages is ready.
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server.
    pub page_server: Option<String>,
    pub pre_dump: bool,
}

/// A restore into the new container `id`.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub id: String,
    pub criu: CriuOptions,
    pub bundle: PathBuf,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    /// TYPE:NAME (apparmor:…, selinux:…).
    pub lsm_profile: Option<String>,
}
