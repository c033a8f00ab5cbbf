//! Kinds of error that carrack::Error (lib.rs) keeps at the library's boundary: values in an
//! anyhow chain, found there by downcasting. Their texts are plain descriptions; the carrack
//! binary prints runc's words for the kinds (src/commands/errors.rs).

/// A container that is not there, or already is, or whose init is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    Exists(String),
    /// Init exited while we were acting on it (the status said it ran): the boundary reports
    /// the container as stopped.
    NotRunning,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::NotFound => write!(f, "no container has this id"),
            Kind::Exists(id) => write!(f, "the id {id} is taken by another container"),
            Kind::NotRunning => write!(f, "the container's init has exited"),
        }
    }
}

impl std::error::Error for Kind {}

/// An error of config.json (config/ names the field's JSON path first), marked for the
/// boundary: its text and chain are the marked error's own, so `{:#}` prints it unchanged.
#[derive(Debug)]
pub struct BadConfig(anyhow::Error);

impl BadConfig {
    pub fn mark(e: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(BadConfig(e))
    }
}

impl std::fmt::Display for BadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The outermost message only: the rest of the chain follows as the source.
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for BadConfig {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// An option of the API that an error is about: a field of CreateOptions, ExecRequest,
/// CheckpointOptions, ..., or a global setting. The library's texts name it in plain words
/// (`plain`); the carrack binary names the command-line flag that set it instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    /// The state directory (every function's `root`).
    Root,
    Bundle,
    ConsoleSocket,
    PidFile,
    PreserveFds,
    NoPivot,
    /// The systemd cgroup driver (`use_systemd_cgroups`).
    SystemdCgroup,
    /// ExecRequest's cgroup.
    ExecCgroup,
    /// ExecRequest's tty.
    ExecTty,
    /// ExecRequest's pidfd socket.
    ExecPidfdSocket,
    /// A pre-dump, or a checkpoint on top of one (its parent path).
    PreDump,
    ImagePath,
    WorkPath,
    PageServer,
    ManageCgroupsMode,
    EmptyNs,
    /// The path of the criu binary.
    Criu,
    /// A forced delete (the remedy some errors name).
    ForceDelete,
}

static NAMES: std::sync::OnceLock<fn(Opt) -> &'static str> = std::sync::OnceLock::new();

/// How this process's texts name options from now on (the carrack binary: by its flags), in
/// what the library writes itself (warnings, init's last words); the plain words otherwise.
/// The first call decides.
pub fn name_options(names: fn(Opt) -> &'static str) {
    let _ = NAMES.set(names);
}

impl Opt {
    /// The option's name in this process's texts: see `name_options`.
    pub fn name(self) -> &'static str {
        NAMES.get().map_or(self.plain(), |f| f(self))
    }

    /// The library's words for the option.
    pub fn plain(self) -> &'static str {
        match self {
            Opt::Root => "state root",
            Opt::Bundle => "bundle",
            Opt::ConsoleSocket => "console socket",
            Opt::PidFile => "pid file",
            Opt::PreserveFds => "preserved fds",
            Opt::NoPivot => "no pivot_root",
            Opt::SystemdCgroup => "systemd cgroup driver",
            Opt::ExecCgroup => "exec's cgroup",
            Opt::ExecTty => "exec's tty",
            Opt::ExecPidfdSocket => "exec's pidfd socket",
            Opt::PreDump => "pre-dump or parent path",
            Opt::ImagePath => "image path",
            Opt::WorkPath => "work path",
            Opt::PageServer => "page server",
            Opt::ManageCgroupsMode => "cgroups mode",
            Opt::EmptyNs => "empty namespace",
            Opt::Criu => "criu path",
            Opt::ForceDelete => "a forced delete",
        }
    }

    /// An error about the option: the text `{option}{after}`.
    pub fn said(self, after: impl Into<String>) -> OptError {
        self.within("", after)
    }

    /// An error about the option: the text `{before}{option}{after}`.
    pub fn within(self, before: impl Into<String>, after: impl Into<String>) -> OptError {
        OptError {
            before: before.into(),
            opt: self,
            after: after.into(),
            source: None,
        }
    }
}

/// One message of an error chain that names an option ([`Opt`]): it prints as
/// `{before}{opt.name()}{after}`, and the chain goes on with the error it is the context of.
/// A caller that names options its own way finds it in the chain and uses `render`.
#[derive(Debug)]
pub struct OptError {
    before: String,
    opt: Opt,
    after: String,
    source: Option<anyhow::Error>,
}

impl OptError {
    pub fn opt(&self) -> Opt {
        self.opt
    }

    /// The message with `name` for the option.
    pub fn render(&self, name: &str) -> String {
        format!("{}{name}{}", self.before, self.after)
    }

    /// This message as the context of `e`.
    pub fn on(mut self, e: impl Into<anyhow::Error>) -> anyhow::Error {
        self.source = Some(e.into());
        anyhow::Error::new(self)
    }
}

impl std::fmt::Display for OptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(self.opt.name()))
    }
}

impl std::error::Error for OptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let e: &(dyn std::error::Error + Send + Sync + 'static) = self.source.as_ref()?.as_ref();
        Some(e)
    }
}

/// `.context()` for a message that names an option.
pub trait OptContext<T> {
    fn opt_context(self, msg: OptError) -> anyhow::Result<T>;
    fn with_opt_context(self, msg: impl FnOnce() -> OptError) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> OptContext<T> for std::result::Result<T, E> {
    fn opt_context(self, msg: OptError) -> anyhow::Result<T> {
        self.map_err(|e| msg.on(e))
    }
    fn with_opt_context(self, msg: impl FnOnce() -> OptError) -> anyhow::Result<T> {
        self.map_err(|e| msg().on(e))
    }
}

impl<T> OptContext<T> for Option<T> {
    fn opt_context(self, msg: OptError) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::Error::new(msg))
    }
    fn with_opt_context(self, msg: impl FnOnce() -> OptError) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::Error::new(msg()))
    }
}

const WIRE_SEP: char = '\u{1e}';
const WIRE_OPT: char = '\u{1f}';

/// An error chain as text for another process (init's error to its parent), with the
/// messages that name options kept as such: `from_wire` makes the chain again.
pub fn to_wire(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| match c.downcast_ref::<OptError>() {
            Some(o) => format!(
                "{WIRE_OPT}{}{WIRE_OPT}{}{WIRE_OPT}{}",
                o.opt as u8, o.before, o.after
            ),
            None => c.to_string().replace([WIRE_SEP, WIRE_OPT], " "),
        })
        .collect();
    parts.join(&WIRE_SEP.to_string())
}

/// The chain `to_wire` made: its messages, the innermost as the cause.
pub fn from_wire(text: &str) -> anyhow::Error {
    let mut e: Option<anyhow::Error> = None;
    for part in text.rsplit(WIRE_SEP) {
        let opt = part.strip_prefix(WIRE_OPT).and_then(|p| {
            let mut f = p.splitn(3, WIRE_OPT);
            let n: u8 = f.next()?.parse().ok()?;
            let opt = ALL_OPTS.iter().copied().find(|o| *o as u8 == n)?;
            Some(opt.within(f.next()?, f.next()?))
        });
        e = Some(match (opt, e) {
            (Some(o), Some(inner)) => o.on(inner),
            (Some(o), None) => anyhow::Error::new(o),
            (None, Some(inner)) => inner.context(part.to_string()),
            (None, None) => anyhow::anyhow!("{part}"),
        });
    }
    e.unwrap_or_else(|| anyhow::anyhow!(""))
}

/// Every option, in the enum's order (the wire's numbers).
pub const ALL_OPTS: [Opt; 18] = [
    Opt::Root,
    Opt::Bundle,
    Opt::ConsoleSocket,
    Opt::PidFile,
    Opt::PreserveFds,
    Opt::NoPivot,
    Opt::SystemdCgroup,
    Opt::ExecCgroup,
    Opt::ExecTty,
    Opt::ExecPidfdSocket,
    Opt::PreDump,
    Opt::ImagePath,
    Opt::WorkPath,
    Opt::PageServer,
    Opt::ManageCgroupsMode,
    Opt::EmptyNs,
    Opt::Criu,
    Opt::ForceDelete,
];

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_marked_config_error_prints_as_before() {
        let e = Err::<(), _>(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context("open /b/config.json")
            .context("config.json")
            .unwrap_err();
        let before = format!("{e:#}");
        let marked = BadConfig::mark(e);
        assert_eq!(format!("{marked:#}"), before);
        assert!(marked.chain().any(|c| c.is::<BadConfig>()));
        assert!(marked.chain().any(|c| c.is::<std::io::Error>()));
    }

    #[test]
    fn an_option_error_prints_plainly_and_keeps_its_cause() {
        let e = Err::<(), _>(std::io::Error::from_raw_os_error(libc::ENOENT))
            .opt_context(Opt::Bundle.said(" /b"))
            .context("create")
            .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "create: bundle /b: No such file or directory (os error 2)"
        );
        assert!(e.chain().any(|c| c.is::<std::io::Error>()));
        let o = e
            .chain()
            .find_map(|c| c.downcast_ref::<OptError>())
            .unwrap();
        assert_eq!(o.render("--bundle"), "--bundle /b");
        let leaf = None::<()>
            .opt_context(Opt::Criu.within("not found, or ", " PATH"))
            .unwrap_err();
        assert_eq!(format!("{leaf:#}"), "not found, or criu path PATH");
    }

    #[test]
    fn an_error_chain_crosses_the_wire_with_its_options() {
        let e = Opt::NoPivot
            .said("")
            .on(anyhow::anyhow!("No such file").context("chroot"))
            .context("rootfs");
        let back = from_wire(&to_wire(&e));
        assert_eq!(format!("{back:#}"), format!("{e:#}"));
        let names: Vec<Option<Opt>> = back
            .chain()
            .map(|c| c.downcast_ref::<OptError>().map(OptError::opt))
            .collect();
        assert_eq!(names, [None, Some(Opt::NoPivot), None, None]);
        // Every option, in order (a new one goes last in both).
        for (i, o) in ALL_OPTS.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
        assert_eq!(ALL_OPTS.len(), Opt::ForceDelete as usize + 1);
        for o in ALL_OPTS {
            let e = anyhow::Error::new(o.within("a: ", " b"));
            let back = from_wire(&to_wire(&e));
            let got = back.downcast_ref::<OptError>().unwrap();
            assert_eq!((got.opt(), got.to_string()), (o, e.to_string()));
        }
    }
}
