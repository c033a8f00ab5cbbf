//! One module per Linux subsystem the container touches.

pub mod capabilities;
pub mod clone;
pub mod console;
pub mod copyup;
pub mod criu;
pub mod devices;
pub mod fs;
pub mod hooks;
pub mod idmap;
pub mod lsm;
pub mod mount_sources;
pub mod mounts;
pub mod namespaces;
pub mod netdev;
pub mod network;
pub mod pidfd;
pub mod process;
pub mod rootfs;
pub mod scheduling;
pub mod seccomp;
pub mod signals;
mod syscall_table;
