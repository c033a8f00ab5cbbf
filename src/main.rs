//! carrack: an OCI runtime with runc's command line.
//!
//! main parses the command line, dispatches to one verb, and is the only place that reports
//! an error: one line on stderr, one line in the --log file.
//!
//! No Rust runtime start-up (`no_main`): std's reads /proc/self/maps for a stack guard and
//! installs SIGSEGV/SIGBUS handlers on an alternate stack, 17 syscalls per exec (create, run
//! and exec execute carrack twice, selfexe.rs). Of what it does, carrack keeps fds 0-2 opened
//! and SIGPIPE ignored (linux/signals.rs: and restored for the container's process, which
//! used to inherit it ignored: SigIgn 0x1000 where runc's processes have 0).
#![cfg_attr(not(test), no_main)]

mod cli;
mod commands;

// The verbs go through the library's API (src/lib.rs); main reaches its modules only for
// what happens before any verb: the command line, fds, signals, the log.
use carrack::{linux, logging, selfexe};

use anyhow::{bail, Result};
use clap::Parser;
use cli::{Cli, Command};

// See Cargo.toml: musl's own malloc unmaps on free.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// The arguments, as clap reads them.
#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn args_os() -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    selfexe::args()
        .map(|a| std::ffi::OsStr::from_bytes(a.to_bytes()).to_owned())
        .collect()
}

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, argv: *mut *const libc::c_char) -> libc::c_int {
    // SAFETY: the argv the C runtime passes to main: a NULL-terminated array of NUL-terminated
    // strings that lives as long as the process.
    unsafe { selfexe::set_argv(argv) };
    stdio_open();
    linux::signals::ignore_sigpipe();
    no_error_backtraces();
    quiet_on_closed_stdout();
    selfexe::protect_early();
    carrack_main()
}

/// What std's start-up did that carrack needs: fds 0-2 exist (else the first file carrack
/// opens could become its stdout), opened on /dev/null when closed. Close-on-exec: the
/// container's process gets the closed fd its caller gave, not a host /dev/null outside its
/// mounts (which CRIU cannot checkpoint: podman `run -d` without `-i` closes stdin).
#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn stdio_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: three pollfds in a stack array and a count of 3; POLLNVAL in revents only reports a
    // closed fd.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for p in fds {
        if p.revents & libc::POLLNVAL != 0 {
            let flags = libc::O_CLOEXEC
                | if p.fd == 0 {
                    libc::O_RDONLY
                } else {
                    libc::O_WRONLY
                };
            // SAFETY: the path is a NUL-terminated C string literal. The fd is left unowned on
            // purpose: open takes the lowest free number, the closed stdio fd p.fd (filled in order
            // 0, 1, 2).
            unsafe { libc::open(c"/dev/null".as_ptr(), flags) };
        }
    }
}

#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn carrack_main() -> ! {
    // The library's own warnings name options as the command line does.
    carrack::name_options(commands::errors::flag);
    let args = args_os();
    // The verbs on a container's path skip clap (cli/fast.rs); clap parses the rest.
    let parsed = cli::fast::parse(&args).map_or_else(|| Cli::try_parse_from(args), Ok);
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help
        Err(e) => {
            // Usage errors: one line and status 1, as every other error.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid usage");
            eprintln!("carrack: {}", first.trim_start_matches("error: "));
            std::process::exit(1);
        }
    };
    // Before the log (or anything) is opened: see check_preserved_fds.
    let preserved = check_preserved_fds(cli.command.as_ref());
    logging::init(cli.global.log_settings());
    if logging::debug_enabled() {
        logging::debug(&describe(&cli));
    }
    // runc's exec exits 255 when it could not run the process (any exit status of the
    // process itself is passed through), so callers can tell the two apart.
    let failed = match cli.command {
        Some(Command::Exec(_)) => 255,
        _ => 1,
    };
    let code = match preserved.and_then(|()| dispatch(cli)) {
        Ok(code) => {
            logging::debug(&format!("exit status {code}"));
            code
        }
        Err(e) if stdout_closed() && commands::errors::is_broken_pipe(&e) => exit_as_sigpipe(),
        Err(e) => {
            logging::error(&commands::errors::message(&e));
            failed
        }
    };
    std::process::exit(code);
}

/// `carrack list | head -n1`: runc (Go) dies of SIGPIPE when its stdout's reader is gone,
/// quietly. carrack ignores SIGPIPE (linux/signals.rs), so a print to that stdout fails
/// (EPIPE: an error, or std's println! panic); both end as runc does, with no message.
#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn quiet_on_closed_stdout() {
    let std_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_closed() {
            exit_as_sigpipe();
        }
        std_hook(info)
    }));
}

/// The reader of stdout is gone: a pipe's write end polls POLLERR.
fn stdout_closed() -> bool {
    let mut p = libc::pollfd {
        fd: 1,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut p, 1, 0) };
    ready == 1 && p.revents & libc::POLLERR != 0
}

/// The status a shell shows for a process killed by SIGPIPE (128 + 13), as runc's.
fn exit_as_sigpipe() -> ! {
    // SAFETY: _exit ends the process at once; nothing is left half-written that matters
    // (stdout has no reader).
    unsafe { libc::_exit(128 + libc::SIGPIPE) }
}

/// The first debug line: the verb and its container, not the whole command line (exec's
/// --env may carry secrets into a log that engines keep).
#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn describe(cli: &Cli) -> String {
    let (verb, id) = match &cli.command {
        None => ("(none)", ""),
        Some(c) => match c {
            Command::Create(a) => ("create", a.id.as_str()),
            Command::Start(a) => ("start", a.id.as_str()),
            Command::State(a) => ("state", a.id.as_str()),
            Command::Kill(a) => ("kill", a.id.as_str()),
            Command::Delete(a) => ("delete", a.id.as_str()),
            Command::Run(a) => ("run", a.id.as_str()),
            Command::List(_) => ("list", ""),
            Command::Spec(_) => ("spec", ""),
            Command::Exec(a) => ("exec", a.id.as_str()),
            Command::Ps(a) => ("ps", a.id.as_str()),
            Command::Events(a) => ("events", a.id.as_str()),
            Command::Pause(a) => ("pause", a.id.as_str()),
            Command::Resume(a) => ("resume", a.id.as_str()),
            Command::Update(a) => ("update", a.id.as_str()),
            Command::Features(_) => ("features", ""),
            Command::Checkpoint(a) => ("checkpoint", a.id.as_str()),
            Command::Restore(a) => ("restore", a.id.as_str()),
        },
    };
    format!(
        "carrack {} {verb} {id:?}: pid {}, --root {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        cli.global.root().display()
    )
}

/// carrack reports errors as one line and never prints a backtrace, but with RUST_BACKTRACE=1
/// in the environment every anyhow error would capture one: in a static binary the first
/// capture sorts all unwind tables, over 1 ms per process (seen in `perf` as libgcc's
/// fde_single_encoding_compare). std decides once per process and caches the answer, so ask
/// with RUST_LIB_BACKTRACE=0, then restore the environment the container and hooks inherit.
#[cfg_attr(test, allow(dead_code))] // the entry point is not built for tests
fn no_error_backtraces() {
    let saved = std::env::var_os("RUST_LIB_BACKTRACE");
    // Single-threaded here, before anything else runs: set_var cannot race.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    let _ = std::backtrace::Backtrace::capture();
    match saved {
        Some(v) => std::env::set_var("RUST_LIB_BACKTRACE", v),
        None => std::env::remove_var("RUST_LIB_BACKTRACE"),
    }
}

/// --preserve-fds N of create, run and exec: 3..3+N (after socket activation's fds) must be
/// the caller's open fds.
fn check_preserved_fds(cmd: Option<&Command>) -> Result<()> {
    let (n, listen) = match cmd {
        Some(Command::Create(a)) => (a.opts.preserve_fds, carrack::container::listen_fds()),
        Some(Command::Run(a)) => (a.opts.preserve_fds, carrack::container::listen_fds()),
        Some(Command::Exec(a)) => (a.preserve_fds, 0),
        _ => return Ok(()),
    };
    linux::process::check_preserved_fds(n, listen)
}

fn dispatch(cli: Cli) -> Result<i32> {
    if cli.version {
        println!("{}", cli::VERSION_TEXT);
        return Ok(0);
    }
    let g = &cli.global;
    let Some(cmd) = cli.command else {
        bail!("no command given: see carrack --help");
    };
    g.apply()?;
    let root = &g.root();
    if matches!(cmd, Command::Create(_) | Command::Run(_) | Command::Exec(_)) {
        carrack::protect_executable()?;
    }
    match cmd {
        Command::Create(a) => commands::create::run(root, &a).map(|_| 0),
        Command::Start(a) => carrack::start(root, &a.id).map(|_| 0).map_err(Into::into),
        Command::State(a) => commands::state::run(root, &a.id).map(|_| 0),
        Command::Kill(a) => commands::kill::run(root, &a).map(|_| 0),
        Command::Delete(a) => commands::delete::run(root, &a).map(|_| 0),
        Command::Run(a) => commands::run::run(root, &a),
        Command::List(a) => commands::list::run(root, &a).map(|_| 0),
        Command::Spec(a) => commands::spec::run(&a).map(|_| 0),
        Command::Exec(a) => commands::exec::run(root, *a),
        Command::Ps(a) => commands::ps::run(root, &a.id, &a.format, &a.ps_args).map(|_| 0),
        Command::Events(a) => commands::events::run(root, &a).map(|_| 0),
        Command::Pause(a) => carrack::pause(root, &a.id).map(|_| 0).map_err(Into::into),
        Command::Resume(a) => carrack::resume(root, &a.id).map(|_| 0).map_err(Into::into),
        Command::Update(a) => commands::update::run(root, &a).map(|_| 0),
        Command::Features(_) => commands::features::run(&g.criu_path()).map(|_| 0),
        Command::Checkpoint(a) => {
            commands::checkpoint::checkpoint(root, &g.criu_path(), &a).map(|_| 0)
        }
        Command::Restore(a) => commands::checkpoint::restore(root, &g.criu_path(), &a),
    }
}
