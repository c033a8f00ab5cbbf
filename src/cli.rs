//! The command line, shaped exactly like runc's: same verbs, flags and defaults, so an engine can
//! swap the binary and change nothing else.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub mod fast;

pub const VERSION_TEXT: &str = concat!(
    "carrack version ",
    env!("CARGO_PKG_VERSION"),
    "\nspec: 1.3.0\ncommit: ",
    env!("CARRACK_COMMIT")
);

#[derive(Parser, Debug)]
#[command(
    name = "carrack",
    disable_version_flag = true,
    about = "carrack: an OCI container runtime, a drop-in replacement for runc"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Global options go before the verb, as with runc and crun (both refuse `list --root`).
/// Not clap's `global = true`: copying them into all 17 verbs was half of clap's 0.55 ms per
/// invocation.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Directory for the state of containers [default: /run/carrack, or
    /// $XDG_RUNTIME_DIR/carrack for a rootless user]
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Append errors (and debug lines with --debug) to this file
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Format of the --log file
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Write debug lines to the log
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd (a transient unit per container, over D-Bus)
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (before the verb: `spec` has its own --rootless)
    #[arg(long, default_value = "auto")]
    pub rootless: String,
    /// Path to the criu binary used for checkpoint and restore [default: criu]
    #[arg(long)]
    pub criu: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `defer`: each verb's arguments are built only when that verb is parsed. Building all of
/// them took most of the 0.6 ms clap spent per invocation (perf), paid twice by the verbs
/// that re-execute (selfexe.rs).
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Execute the user-defined process in a created container
    Start(IdArg),
    /// Output the state of a container
    State(IdArg),
    /// Send a signal to the container's init process
    Kill(KillArgs),
    /// Delete a container and everything it holds
    Delete(DeleteArgs),
    /// Create and start a container
    Run(RunArgs),
    /// List containers started with the given root
    #[command(alias = "ls")]
    List(ListArgs),
    /// Create a new specification file
    Spec(SpecArgs),
    /// Execute a new process inside a container
    Exec(Box<ExecArgs>),
    /// Display the processes running inside a container
    Ps(PsArgs),
    /// Display container stats (--stats once, else every --interval)
    Events(EventsArgs),
    /// Suspend all processes of a container
    Pause(IdArg),
    /// Resume all processes of a paused container
    Resume(IdArg),
    /// Update container resource constraints
    Update(Box<UpdateArgs>),
    /// Show what this runtime and host support (runtime-spec features.md)
    Features(Unimplemented),
    /// Checkpoint a running container with CRIU (`criu` 3.0 or newer, or --criu PATH)
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a CRIU checkpoint (`criu` 3.0 or newer, or --criu PATH)
    Restore(Box<RestoreArgs>),
}

// CRIU options both checkpoint and restore take (runc's names). Not a doc comment: clap
// would make it the about text of both verbs.
#[derive(Args, Debug, Clone)]
pub struct CriuOpts {
    /// Path for saving criu image files [default: ./checkpoint]
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs [default: the image path]
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft, full, strict or ignore [default: soft]
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    pub id: String,
    #[command(flatten)]
    pub criu: CriuOpts,
    /// Path for previous criu image files in pre-dump (relative to the image path)
    #[arg(long = "parent-path")]
    pub parent_path: Option<String>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Criu writes \0 to this FD once lazy-pages is ready
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Dump the container's memory information only, leaving the container running after this
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    pub id: String,
    #[command(flatten)]
    pub criu: CriuOpts,
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the master of the restored container's pty
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Accepted as runc's: carrack restore is never a subreaper
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted as runc's: CRIU sets the root up itself
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile for the restored process, TYPE:NAME (apparmor:…, selinux:…)
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
}

/// Verbs whose issue has not landed: they take any arguments and fail loudly.
#[derive(Args, Debug)]
pub struct Unimplemented {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateOpts {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the master of the container's pty
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (MS_MOVE + chroot instead)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub id: String,
    #[command(flatten)]
    pub opts: CreateOpts,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    pub id: String,
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    pub id: String,
    /// Signal name (with or without SIG) or number; default SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    pub id: String,
    /// Kill the container first if it is still running
    #[arg(short, long)]
    pub force: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only container ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json to
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a config for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (unless --process is given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Unix socket that receives the master of the process's pty
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket that receives a pidfd of the new process
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid] of the process
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// A process.json with the whole process (args, env, user, ...)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label of the process (process.selinuxLabel)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile of the process (process.apparmorProfile)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding, effective and permitted sets
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors (3..3+N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Sub-cgroup to run the process in: PATH, or CONTROLLER:PATH on cgroup v1 (must exist)
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table (the host's ps, filtered) or json (the pid list)
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    pub id: String,
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats, e.g. 5s, 500ms
    #[arg(long, default_value = "5s")]
    pub interval: String,
}

/// Every value may start with a hyphen, as Go's flag package takes the next word whatever it
/// is: `--memory-swap -1` (unlimited) is how engines lift a limit. Values a flag cannot take
/// (`--cpu-period -1`) are then refused by its parser, as runc refuses them.
#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    pub id: String,
    /// A LinuxResources JSON file ("-" for stdin); its fields replace the current ones
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share", allow_hyphen_values = true)]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-burst", allow_hyphen_values = true)]
    pub cpu_burst: Option<u64>,
    /// 1 puts the cgroup in SCHED_IDLE (v2 cpu.idle)
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus", allow_hyphen_values = true)]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems", allow_hyphen_values = true)]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g, t)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT (refused: no resctrl here)
    #[arg(long = "l3-cache-schema", allow_hyphen_values = true)]
    pub l3_cache_schema: Option<String>,
    #[arg(long = "mem-bw-schema", allow_hyphen_values = true)]
    pub mem_bw_schema: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        // Builds every deferred verb too.
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_the_verb_as_with_runc() {
        let cli = Cli::try_parse_from([
            "carrack",
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "--debug",
            "run",
            "--bundle",
            "/b",
            "--detach",
            "x",
        ])
        .unwrap();
        assert_eq!(cli.global.root(), PathBuf::from("/r"));
        assert_eq!(cli.global.log, Some(PathBuf::from("/l")));
        assert_eq!(cli.global.log_format, LogFormat::Json);
        assert!(cli.global.debug);
        let Some(Command::Run(a)) = cli.command else {
            panic!("not run")
        };
        assert_eq!((a.id.as_str(), a.detach), ("x", true));
        assert_eq!(a.opts.bundle, PathBuf::from("/b"));
        let err = Cli::try_parse_from(["carrack", "list", "--root", "/r"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
