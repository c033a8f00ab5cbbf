//! The command lines engines run on every container's path (create, start, state, kill,
//! delete, run, exec, list), parsed without clap: clap took 60-190 µs per invocation building and
//! matching its command tree, a twentieth of an `exec`. Anything not plainly valid here (help,
//! --version, an unknown, repeated or combined flag, a value that is empty or starts with '-',
//! `--`, a missing or extra argument) returns None and goes to clap, which parses it or
//! reports the error as before. The tests check that every command line accepted here is
//! parsed by clap to the same `Cli`.

use super::*;

/// A flag of one verb (or a global one): its long name, short letter, and whether it takes
/// a value (the next word, or after '=') and may be repeated (a Vec field).
#[derive(Debug)]
struct Flag {
    long: &'static str,
    short: Option<char>,
    value: bool,
    many: bool,
}

const fn flag(long: &'static str, short: Option<char>, value: bool, many: bool) -> Flag {
    Flag {
        long,
        short,
        value,
        many,
    }
}

const GLOBAL: &[Flag] = &[
    flag("root", None, true, false),
    flag("log", None, true, false),
    flag("log-format", None, true, false),
    flag("debug", None, false, false),
    flag("systemd-cgroup", None, false, false),
    flag("rootless", None, true, false),
    flag("criu", None, true, false),
];

const CREATE: &[Flag] = &[
    flag("bundle", Some('b'), true, false),
    flag("console-socket", None, true, false),
    flag("pid-file", None, true, false),
    flag("no-pivot", None, false, false),
    flag("no-new-keyring", None, false, false),
    flag("preserve-fds", None, true, false),
];

/// run's own, besides create's.
const RUN: &[Flag] = &[
    flag("detach", Some('d'), false, false),
    flag("keep", None, false, false),
];

const KILL: &[Flag] = &[flag("all", Some('a'), false, false)];
const LIST: &[Flag] = &[
    flag("format", Some('f'), true, false),
    flag("quiet", Some('q'), false, false),
];
const DELETE: &[Flag] = &[flag("force", Some('f'), false, false)];

const EXEC: &[Flag] = &[
    flag("console-socket", None, true, false),
    flag("pidfd-socket", None, true, false),
    flag("cwd", None, true, false),
    flag("env", Some('e'), true, true),
    flag("tty", Some('t'), false, false),
    flag("user", Some('u'), true, false),
    flag("additional-gids", Some('g'), true, true),
    flag("process", Some('p'), true, false),
    flag("detach", Some('d'), false, false),
    flag("pid-file", None, true, false),
    flag("process-label", None, true, false),
    flag("apparmor", None, true, false),
    flag("no-new-privs", None, false, false),
    flag("cap", Some('c'), true, true),
    flag("preserve-fds", None, true, false),
    flag("cgroup", None, true, true),
    flag("ignore-paused", None, false, false),
];

/// The words of one part of the command line: flags by long name (a switch's value is
/// empty), then the positional words.
#[derive(Default)]
struct Words<'a> {
    flags: Vec<(&'static str, &'a str)>,
    args: Vec<&'a str>,
}

impl<'a> Words<'a> {
    fn get(&self, long: &str) -> Option<&'a str> {
        self.flags.iter().find(|(l, _)| *l == long).map(|(_, v)| *v)
    }

    fn has(&self, long: &str) -> bool {
        self.get(long).is_some()
    }

    fn path(&self, long: &str) -> Option<PathBuf> {
        self.get(long).map(PathBuf::from)
    }

    fn string(&self, long: &str) -> Option<String> {
        self.get(long).map(str::to_string)
    }

    fn all<'s>(&'s self, long: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.flags
            .iter()
            .filter(move |(l, _)| *l == long)
            .map(|(_, v)| *v)
    }

    /// A count: digits only (clap's u32 parser would take a sign too; those go to clap).
    fn number(&self, long: &str) -> Option<Option<u32>> {
        match self.get(long) {
            None => Some(None),
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => v.parse().ok().map(Some),
            Some(_) => None,
        }
    }
}

/// The parsed command line, or None: clap decides.
pub fn parse(args: &[std::ffi::OsString]) -> Option<Cli> {
    let words: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let words = words.get(1..)?;
    // The global flags, up to the verb.
    let (mut g, mut i) = (Words::default(), 0);
    while words.get(i)?.starts_with('-') {
        take_flag(words, &mut i, &[GLOBAL], &mut g)?;
    }
    let global = global(&g)?;
    let (verb, rest) = (words[i], &words[i + 1..]);
    let command = match verb {
        "create" => {
            let w = scan(rest, &[CREATE], Some(1))?;
            Command::Create(CreateArgs {
                id: one(&w)?,
                opts: create_opts(&w)?,
            })
        }
        "run" => {
            let w = scan(rest, &[CREATE, RUN], Some(1))?;
            Command::Run(RunArgs {
                id: one(&w)?,
                opts: create_opts(&w)?,
                detach: w.has("detach"),
                keep: w.has("keep"),
            })
        }
        "start" => Command::Start(IdArg {
            id: one(&scan(rest, &[], Some(1))?)?,
        }),
        "state" => Command::State(IdArg {
            id: one(&scan(rest, &[], Some(1))?)?,
        }),
        "kill" => {
            let w = scan(rest, &[KILL], Some(2))?;
            Command::Kill(KillArgs {
                id: w.args.first()?.to_string(),
                signal: w.args.get(1).unwrap_or(&"SIGTERM").to_string(),
                all: w.has("all"),
            })
        }
        "delete" => {
            let w = scan(rest, &[DELETE], Some(1))?;
            Command::Delete(DeleteArgs {
                id: one(&w)?,
                force: w.has("force"),
            })
        }
        "exec" => Command::Exec(Box::new(exec(&scan(rest, &[EXEC], None)?)?)),
        "list" => {
            let w = scan(rest, &[LIST], Some(0))?;
            let format = match w.get("format") {
                None | Some("table") => ListFormat::Table,
                Some("json") => ListFormat::Json,
                Some(_) => return None,
            };
            Command::List(ListArgs {
                format,
                quiet: w.has("quiet"),
            })
        }
        _ => return None,
    };
    Some(Cli {
        global,
        version: false,
        command: Some(command),
    })
}

fn global(w: &Words) -> Option<Global> {
    let log_format = match w.get("log-format") {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(_) => return None,
    };
    Some(Global {
        root: w.path("root"),
        log: w.path("log"),
        log_format,
        debug: w.has("debug"),
        systemd_cgroup: w.has("systemd-cgroup"),
        rootless: w.string("rootless").unwrap_or_else(|| "auto".into()),
        criu: w.path("criu"),
    })
}

/// The one positional word (the container's id).
fn one(w: &Words) -> Option<String> {
    match w.args[..] {
        [id] => Some(id.to_string()),
        _ => None,
    }
}

fn create_opts(w: &Words) -> Option<CreateOpts> {
    Some(CreateOpts {
        bundle: w.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
        console_socket: w.path("console-socket"),
        pid_file: w.path("pid-file"),
        no_pivot: w.has("no-pivot"),
        no_new_keyring: w.has("no-new-keyring"),
        preserve_fds: w.number("preserve-fds")?.unwrap_or(0),
    })
}

fn exec(w: &Words) -> Option<ExecArgs> {
    let (id, command) = w.args.split_first()?;
    let gids = w.all("additional-gids");
    let gids = gids
        .map(|g| match g.bytes().all(|b| b.is_ascii_digit()) {
            true => g.parse().ok(),
            false => None,
        })
        .collect::<Option<Vec<u32>>>()?;
    Some(ExecArgs {
        id: id.to_string(),
        command: command.iter().map(|c| c.to_string()).collect(),
        console_socket: w.path("console-socket"),
        pidfd_socket: w.path("pidfd-socket"),
        cwd: w.path("cwd"),
        env: w.all("env").map(str::to_string).collect(),
        tty: w.has("tty"),
        user: w.string("user"),
        additional_gids: gids,
        process: w.path("process"),
        detach: w.has("detach"),
        pid_file: w.path("pid-file"),
        process_label: w.string("process-label"),
        apparmor: w.string("apparmor"),
        no_new_privs: w.has("no-new-privs"),
        cap: w.all("cap").map(str::to_string).collect(),
        preserve_fds: w.number("preserve-fds")?.unwrap_or(0),
        cgroup: w.all("cgroup").map(str::to_string).collect(),
        ignore_paused: w.has("ignore-paused"),
    })
}

/// The flag of `tables` that `is` picks.
fn find(tables: &[&'static [Flag]], is: impl Fn(&Flag) -> bool) -> Option<&'static Flag> {
    tables.iter().flat_map(|t| t.iter()).find(|f| is(f))
}

/// Split `words` into `flags` and positional words: at most `max_args` of them, or with
/// None (exec) one, then the command, whose words are all positional from its first on.
fn scan<'a>(
    words: &[&'a str],
    flags: &[&'static [Flag]],
    max_args: Option<usize>,
) -> Option<Words<'a>> {
    let mut w = Words::default();
    let mut i = 0;
    while let Some(&word) = words.get(i) {
        if max_args.is_none() && !w.args.is_empty() {
            // exec's command: its first word is a plain one (clap would take a flag there).
            if w.args.len() == 1 && word.starts_with('-') {
                return None;
            }
            w.args.push(word);
            i += 1;
        } else if word.starts_with('-') {
            take_flag(words, &mut i, flags, &mut w)?;
        } else {
            w.args.push(word);
            i += 1;
        }
    }
    match max_args {
        Some(max) if w.args.len() > max => None,
        _ => Some(w),
    }
}

/// The flag at `words[*i]` (with its value, the next word or after '='), into `w`; `i`
/// moves past it. None for anything clap should see.
fn take_flag<'a>(
    words: &[&'a str],
    i: &mut usize,
    flags: &[&'static [Flag]],
    w: &mut Words<'a>,
) -> Option<()> {
    let dashed = words.get(*i)?.strip_prefix('-')?;
    *i += 1;
    let (f, inline) = match dashed.strip_prefix('-') {
        Some(long) => {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            (find(flags, |f| f.long == name)?, inline)
        }
        None => {
            let mut letters = dashed.chars();
            let (Some(c), None) = (letters.next(), letters.next()) else {
                return None;
            };
            (find(flags, |f| f.short == Some(c))?, None)
        }
    };
    let value = match (f.value, inline) {
        (false, None) => "",
        (false, Some(_)) => return None,
        (true, Some(v)) => v,
        (true, None) => {
            *i += 1;
            words.get(*i - 1)?
        }
    };
    if f.value && (value.is_empty() || value.starts_with('-')) {
        return None;
    }
    if !f.many && w.has(f.long) {
        return None;
    }
    w.flags.push((f.long, value));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::ffi::OsString;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// What clap makes of the line, as text (Cli is Debug, not PartialEq).
    fn by_clap(words: &[OsString]) -> Result<String, String> {
        <Cli as clap::Parser>::try_parse_from(words)
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.kind().to_string())
    }

    /// The lines engines and scripts/bench run: each must take the fast path, and agree.
    #[test]
    fn engines_command_lines_skip_clap_and_parse_as_clap_does() {
        let lines: &[&[&str]] = &[
            &["carrack", "--root", "/r", "run", "--bundle", "/b", "x"],
            &["carrack", "--root", "/r", "run", "-b", "/b", "-d", "x"],
            &[
                "carrack",
                "--root=/r",
                "create",
                "--bundle=/b",
                "--pid-file",
                "/p",
                "x",
            ],
            &[
                "carrack",
                "--root",
                "/run/containerd/runc/k8s.io",
                "--log",
                "/l/log.json",
                "--log-format",
                "json",
                "--systemd-cgroup",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/init.pid",
                "--console-socket",
                "/s.sock",
                "--no-new-keyring",
                "--preserve-fds",
                "2",
                "x",
            ],
            &["carrack", "--root", "/r", "start", "x"],
            &["carrack", "--root", "/r", "state", "x"],
            &["carrack", "--root", "/r", "kill", "x", "KILL"],
            &["carrack", "--root", "/r", "kill", "--all", "x", "9"],
            &["carrack", "--root", "/r", "kill", "x"],
            &["carrack", "--root", "/r", "delete", "x"],
            &["carrack", "--root", "/r", "delete", "--force", "x"],
            &["carrack", "--root", "/r", "delete", "-f", "x"],
            &["carrack", "--root", "/r", "exec", "x", "/bin/true"],
            &[
                "carrack",
                "--root",
                "/r",
                "exec",
                "x",
                "sh",
                "-c",
                "echo -n hi",
            ],
            &[
                "carrack", "--root", "/r", "exec", "-t", "-e", "A=1", "-e", "B=2", "x", "sh",
            ],
            &[
                "carrack",
                "--root",
                "/r",
                "--log",
                "/l",
                "--log-format",
                "json",
                "exec",
                "--process",
                "/tmp/runc-process1",
                "--detach",
                "--pid-file",
                "/p",
                "x",
            ],
            &[
                "carrack",
                "--debug",
                "--rootless",
                "true",
                "exec",
                "-u",
                "1:2",
                "-g",
                "5",
                "x",
                "id",
            ],
        ];
        for line in lines {
            let words = os(line);
            let fast = parse(&words).unwrap_or_else(|| panic!("{line:?}: not on the fast path"));
            assert_eq!(Ok(format!("{fast:?}")), by_clap(&words), "{line:?}");
        }
    }

    /// Lines clap refuses or must see itself: none is taken here.
    #[test]
    fn help_errors_and_odd_forms_go_to_clap() {
        let lines: &[&[&str]] = &[
            &["carrack"],
            &["carrack", "--help"],
            &["carrack", "-v"],
            &["carrack", "run", "--help"],
            &["carrack", "run"],
            &["carrack", "run", "a", "b"],
            &["carrack", "--root", "/a", "--root", "/b", "state", "x"],
            &["carrack", "run", "-d", "-d", "x"],
            &["carrack", "run", "-db", "/b", "x"],
            &["carrack", "run", "-b/b", "x"],
            &["carrack", "run", "--bundle", "x"],
            &["carrack", "run", "--bundle=", "x"],
            &["carrack", "run", "--detach=true", "x"],
            &["carrack", "run", "--", "x"],
            &["carrack", "state", "-"],
            &["carrack", "list", "--root", "/r"],
            &["carrack", "--log-format", "JSON", "state", "x"],
            &["carrack", "run", "--preserve-fds", "+1", "x"],
            &["carrack", "exec", "x", "--tty", "sh"],
            &["carrack", "exec", "-g", "-1", "x", "id"],
            &["carrack", "ls"],
            &["carrack", "list", "x"],
            &["carrack", "list", "--format", "JSON"],
            &["carrack", "spec"],
        ];
        for line in lines {
            assert!(parse(&os(line)).is_none(), "{line:?} took the fast path");
        }
    }

    /// Words a command line is made of: every verb's flags, with good and odd values.
    fn word() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "--root",
            "--root=/r",
            "--log",
            "--log-format",
            "json",
            "text",
            "--debug",
            "--systemd-cgroup",
            "--rootless",
            "--criu",
            "run",
            "create",
            "start",
            "state",
            "kill",
            "delete",
            "exec",
            "list",
            "-b",
            "--bundle",
            "--bundle=/b",
            "/b",
            ".",
            "-d",
            "--detach",
            "--keep",
            "--pid-file",
            "--console-socket",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "3",
            "+3",
            "--preserve-fds=0",
            "-a",
            "--all",
            "-f",
            "--force",
            "KILL",
            "9",
            "-t",
            "--tty",
            "-e",
            "A=1",
            "--env=B=2",
            "-u",
            "0:0",
            "-g",
            "-p",
            "--process",
            "--cwd",
            "/",
            "-c",
            "CAP_KILL",
            "--cap",
            "--cgroup",
            "--ignore-paused",
            "--no-new-privs",
            "--apparmor",
            "--process-label",
            "--pidfd-socket",
            "x",
            "y",
            "sh",
            "-",
            "--",
            "-x",
            "--help",
            "-h",
            "-v",
            "",
            "a=b",
            "-db",
            "--force=1",
            "4294967296",
        ])
    }

    /// One flag of `tables` as a command line writes it (long, long=value or short), with a
    /// value that is usually good.
    fn written(tables: &'static [&'static [Flag]]) -> impl Strategy<Value = Vec<String>> {
        let values = prop::sample::select(vec![
            "/p", "x", "3", "0", "json", "text", "table", "1:2", "A=1", "", "-x", "+3", "a=b",
        ]);
        let flags: Vec<&'static Flag> = tables.iter().flat_map(|t| t.iter()).collect();
        (prop::sample::select(flags), values, 0..3u8).prop_map(move |(f, v, form)| {
            let name = match (form, f.short) {
                (2, Some(c)) => format!("-{c}"),
                _ => format!("--{}", f.long),
            };
            match (f.value, form) {
                (false, _) => vec![name],
                (true, 1) => vec![format!("{name}={v}")],
                (true, _) => vec![name, v.to_string()],
            }
        })
    }

    /// A line of a verb's own flags: global ones, the verb, its flags and its words.
    fn well_formed() -> impl Strategy<Value = Vec<String>> {
        let verbs: Vec<(&str, &'static [&'static [Flag]])> = vec![
            ("run", &[CREATE, RUN]),
            ("create", &[CREATE]),
            ("start", &[]),
            ("state", &[]),
            ("kill", &[KILL]),
            ("delete", &[DELETE]),
            ("exec", &[EXEC]),
            ("list", &[LIST]),
        ];
        let args = prop::sample::select(vec!["x", "y", "sh", "-c", "KILL", "9", "-"]);
        (
            prop::collection::vec(written(&[GLOBAL]), 0..3),
            prop::sample::select(verbs).prop_flat_map(move |(verb, flags)| {
                let own = match flags.is_empty() {
                    true => Just(Vec::new()).boxed(),
                    false => prop::collection::vec(written(flags), 0..4).boxed(),
                };
                (Just(verb), own, prop::collection::vec(args.clone(), 0..4))
            }),
        )
            .prop_map(|(global, (verb, own, args))| {
                let mut line = vec!["carrack".to_string()];
                line.extend(global.into_iter().flatten());
                line.push(verb.to_string());
                line.extend(own.into_iter().flatten());
                line.extend(args.iter().map(|a| a.to_string()));
                line
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Lines made of real flags: most take the fast path, and all of those agree.
        #[test]
        fn well_formed_lines_parse_as_clap_does(line in well_formed()) {
            let words: Vec<OsString> = line.iter().map(OsString::from).collect();
            if let Some(fast) = parse(&words) {
                prop_assert_eq!(Ok(format!("{fast:?}")), by_clap(&words), "{:?}", line);
            }
        }

        /// Whatever the fast path accepts, clap parses to the same Cli.
        #[test]
        fn the_fast_path_agrees_with_clap(words in prop::collection::vec(word(), 0..9)) {
            let mut line = vec!["carrack"];
            line.extend(words);
            let words = os(&line);
            if let Some(fast) = parse(&words) {
                prop_assert_eq!(Ok(format!("{fast:?}")), by_clap(&words), "{:?}", line);
            }
        }

        /// The same with the verb in place, so that most lines reach a verb's own flags.
        #[test]
        fn the_fast_path_agrees_with_clap_per_verb(
            global in prop::collection::vec(word(), 0..4),
            verb in prop::sample::select(vec!["run", "create", "start", "state", "kill", "delete", "exec", "list"]),
            words in prop::collection::vec(word(), 0..8),
        ) {
            let mut line = vec!["carrack"];
            line.extend(global);
            line.push(verb);
            line.extend(words);
            let words = os(&line);
            if let Some(fast) = parse(&words) {
                prop_assert_eq!(Ok(format!("{fast:?}")), by_clap(&words), "{:?}", line);
            }
        }
    }
}
