//! `linux.seccomp`, compiled to classic BPF in the parent before clone (init only installs it).
//!
//! Layout of the program:
//! ```text
//!   load arch
//!   for each ABI in the filter: jeq AUDIT_ARCH -> that ABI's block   (x86_64 also covers x32)
//!   ret KILL_PROCESS        (an arch the profile does not list)
//! ABI block:
//!   load nr
//!   [x86_64 block: nr has the x32 bit -> the x32 block, or KILL_PROCESS when x32 is not listed
//!    (nr -1 excepted, as libseccomp)]
//!   [nr > the highest number the profile names -> ENOSYS: runc's patchbpf, see `Enosys`]
//!   for each syscall:       jeq nr -> ja body                        (long jumps: any size)
//!   ret defaultAction
//! body: each rule with args, in order: its comparisons (64-bit, high half then low half;
//!       on 32-bit ABIs (i386, x32, arm) the low half only, as libseccomp; the halves'
//!       places in seccomp_data follow the ABI's byte order), ret action; a failed
//!       comparison falls to the next rule; then the unconditional rule's action, or
//!       defaultAction.
//! ```
//! The conditions of one `syscalls[]` entry are ANDed, unless several test the same argument
//! index: then each is a rule of its own (ORed), as runc does (see `runc_rules`).
//! Checking only the native arch would let compat syscalls (`int 0x80` with i386 numbers, an
//! arm32 task on aarch64) through, so every listed ABI gets its own numbers, and unlisted ones
//! are killed. The native ABI is always in the filter, listed or not: `architectures` adds
//! ABIs, as in libseccomp. Which ABIs a kernel can run (so which blocks can ever be reached)
//! depends on the native arch, chosen at build time (`NATIVE`, see `Abi`).

use super::syscall_table;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator as Op,
};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x8000_0000) | __AUDIT_ARCH_LE (0x4000_0000).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
const AUDIT_ARCH_PPC64LE: u32 = 0xc000_0015;
const AUDIT_ARCH_S390X: u32 = 0x8000_0016;
const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;
const X32_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// seccomp_data offsets
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

// BPF opcodes
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const ALU_AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;

const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
const FLAG_NEW_LISTENER: u32 = 1 << 3;
const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// What `features` advertises; tests compile a rule with each.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
/// What `features` advertises: the ABIs a filter built on this arch has blocks for.
pub fn arches() -> Vec<&'static str> {
    NATIVE.iter().map(|a| a.name).collect()
}
pub const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// A syscall ABI a filter can have a block for: how the kernel reports it in seccomp_data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Abi {
    arch: Arch,
    /// The SCMP_ARCH_* name (`features`, logs).
    name: &'static str,
    /// seccomp_data.arch (x32 shares x86_64's, its numbers carry `X32_BIT`).
    audit: u32,
    table: &'static [(&'static str, u32)],
    /// 64-bit arguments compared whole; else the low halves only, as libseccomp.
    wide: bool,
    /// seccomp_data.args are native-endian u64s: which half comes first.
    big_endian: bool,
}

const fn abi(
    arch: Arch,
    name: &'static str,
    audit: u32,
    table: &'static [(&'static str, u32)],
    wide: bool,
    big_endian: bool,
) -> Abi {
    Abi {
        arch,
        name,
        audit,
        table,
        wide,
        big_endian,
    }
}

use syscall_table as t;
const X86_64: Abi = abi(
    Arch::ScmpArchX86_64,
    "SCMP_ARCH_X86_64",
    AUDIT_ARCH_X86_64,
    t::X86_64,
    true,
    false,
);
const X86: Abi = abi(
    Arch::ScmpArchX86,
    "SCMP_ARCH_X86",
    AUDIT_ARCH_I386,
    t::I386,
    false,
    false,
);
const X32: Abi = abi(
    Arch::ScmpArchX32,
    "SCMP_ARCH_X32",
    AUDIT_ARCH_X86_64,
    t::X32,
    false,
    false,
);
const AARCH64: Abi = abi(
    Arch::ScmpArchAarch64,
    "SCMP_ARCH_AARCH64",
    AUDIT_ARCH_AARCH64,
    t::AARCH64,
    true,
    false,
);
const ARM: Abi = abi(
    Arch::ScmpArchArm,
    "SCMP_ARCH_ARM",
    AUDIT_ARCH_ARM,
    t::ARM,
    false,
    false,
);
const PPC64LE: Abi = abi(
    Arch::ScmpArchPpc64le,
    "SCMP_ARCH_PPC64LE",
    AUDIT_ARCH_PPC64LE,
    t::PPC64,
    true,
    false,
);
const S390X: Abi = abi(
    Arch::ScmpArchS390x,
    "SCMP_ARCH_S390X",
    AUDIT_ARCH_S390X,
    t::S390X,
    true,
    true,
);
const RISCV64: Abi = abi(
    Arch::ScmpArchRiscv64,
    "SCMP_ARCH_RISCV64",
    AUDIT_ARCH_RISCV64,
    t::RISCV64,
    true,
    false,
);

/// Per native arch (runc ships amd64, arm64, armhf/armel, ppc64le, s390x, riscv64), the ABIs
/// its kernel can run, native first: the blocks a filter may have, as Docker's seccomp
/// archMap groups them. Others in `architectures` can never be reported by this kernel, so
/// they get no block (libseccomp would compile one that is never reached).
/// Compat ABIs carrack has no table for fall to the bad-arch KILL_PROCESS (fail closed):
/// s390 (31-bit) on s390x, 32-bit ppc on ppc64le kernels (Debian's have no COMPAT), rv32.
/// Every ABI carrack can filter (the names `warn_unknown` knows).
const ALL: &[Abi] = &[X86_64, X86, X32, AARCH64, ARM, PPC64LE, S390X, RISCV64];
// One of these is NATIVE; the others are compiled for in tests only.
#[allow(dead_code)]
const ON_X86_64: &[Abi] = &[X86_64, X86, X32];
#[allow(dead_code)]
const ON_X86: &[Abi] = &[X86];
#[allow(dead_code)]
const ON_AARCH64: &[Abi] = &[AARCH64, ARM];
#[allow(dead_code)]
const ON_ARM: &[Abi] = &[ARM];
#[allow(dead_code)]
const ON_PPC64LE: &[Abi] = &[PPC64LE];
#[allow(dead_code)]
const ON_S390X: &[Abi] = &[S390X];
#[allow(dead_code)]
const ON_RISCV64: &[Abi] = &[RISCV64];

#[cfg(target_arch = "x86_64")]
const NATIVE: &[Abi] = ON_X86_64;
#[cfg(target_arch = "x86")]
const NATIVE: &[Abi] = ON_X86;
#[cfg(target_arch = "aarch64")]
const NATIVE: &[Abi] = ON_AARCH64;
#[cfg(target_arch = "arm")]
const NATIVE: &[Abi] = ON_ARM;
#[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
const NATIVE: &[Abi] = ON_PPC64LE;
#[cfg(target_arch = "s390x")]
const NATIVE: &[Abi] = ON_S390X;
#[cfg(target_arch = "riscv64")]
const NATIVE: &[Abi] = ON_RISCV64;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    all(target_arch = "powerpc64", target_endian = "little"),
    target_arch = "s390x",
    target_arch = "riscv64"
)))]
compile_error!(
    "carrack's seccomp compiler does not know this target arch: add its ABIs (AUDIT_ARCH_*, \
     syscall table, argument width and byte order) in src/linux/seccomp.rs"
);

// The native ABI's byte order is the build's: a mismatch would compare the wrong halves.
const _: () = assert!(NATIVE[0].big_endian == cfg!(target_endian = "big"));

/// A compiled filter and the seccomp(2) flags to install it with.
pub struct Filter {
    prog: Vec<libc::sock_filter>,
    flags: u32,
    notify: bool,
    /// SCMP_ACT_NOTIFY: where the listener fd goes (see `connect_listener`).
    listener: Option<Listener>,
    /// The byte order of seccomp_data's arguments (tests run the program on any host).
    #[cfg_attr(not(test), allow(dead_code))]
    big_endian: bool,
}

/// A socket the parent connected to `linux.seccomp.listenerPath` while the host path was
/// reachable; init inherits it and sends the listener fd on it, as runc does.
struct Listener {
    sock: std::os::unix::net::UnixStream,
    metadata: String,
}

/// Jump targets before they are resolved into offsets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Next,
    At(usize),
}

enum Insn {
    Stmt(u16, u32),
    /// Conditional jump with symbolic targets (resolved to 8-bit offsets).
    Jump(u16, u32, Label, Label),
    /// Unconditional long jump to a label.
    Ja(usize),
}

struct Asm {
    code: Vec<Insn>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn stmt(&mut self, op: u16, k: u32) {
        self.code.push(Insn::Stmt(op, k));
    }
    fn jump(&mut self, op: u16, k: u32, t: Label, f: Label) {
        self.code.push(Insn::Jump(op, k, t, f));
    }
    /// `if (acc <op> k) goto target` for any distance: a short skip around a long ja.
    fn jump_far(&mut self, op: u16, k: u32, target: usize) {
        let skip = self.label();
        self.jump(op, k, Label::Next, Label::At(skip));
        self.code.push(Insn::Ja(target));
        self.bind(skip);
    }
    fn ret(&mut self, v: u32) {
        self.stmt(RET_K, v);
    }
    fn finish(self) -> Result<Vec<libc::sock_filter>> {
        let at = |l: usize| self.labels[l].expect("every label is bound");
        let off = |i: usize, l: Label| -> Result<u8> {
            let target = match l {
                Label::Next => i + 1,
                Label::At(x) => at(x),
            };
            u8::try_from(target - (i + 1)).context("seccomp: conditional jump out of range")
        };
        self.code
            .iter()
            .enumerate()
            .map(|(i, insn)| {
                Ok(match *insn {
                    Insn::Stmt(op, k) => libc::sock_filter {
                        code: op,
                        jt: 0,
                        jf: 0,
                        k,
                    },
                    Insn::Jump(op, k, t, f) => libc::sock_filter {
                        code: op,
                        jt: off(i, t)?,
                        jf: off(i, f)?,
                        k,
                    },
                    Insn::Ja(l) => libc::sock_filter {
                        code: JMP_JA,
                        jt: 0,
                        jf: 0,
                        k: (at(l) - (i + 1)) as u32,
                    },
                })
            })
            .collect()
    }
}

fn ret_value(a: Action, errno: Option<u32>, default_errno: u32) -> u32 {
    match a {
        Action::ScmpActKill | Action::ScmpActKillThread => RET_KILL_THREAD,
        Action::ScmpActKillProcess => RET_KILL_PROCESS,
        Action::ScmpActTrap => RET_TRAP,
        Action::ScmpActErrno => RET_ERRNO | (errno.unwrap_or(default_errno) & 0xffff),
        // runc's default for a trace rule's data is EPERM, as for errno.
        Action::ScmpActTrace => RET_TRACE | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        Action::ScmpActLog => RET_LOG,
        Action::ScmpActAllow => RET_ALLOW,
        Action::ScmpActNotify => RET_USER_NOTIF,
    }
}

/// One rule of a syscall: comparisons (ANDed) and the return value.
struct Rule {
    args: Vec<LinuxSeccompArg>,
    ret: u32,
}

/// The rules one `syscalls[]` entry becomes, as runc makes them: its conditions ANDed in one
/// rule, except when two or more test the same argument index. Then every condition, on
/// that index or any other, is a rule of its own, so they are ORed: `personality` with
/// `arg0 == A` and `arg0 == B` matches either value (profiles written for runc rely on
/// this), and `arg0 == A, arg0 == B, arg1 == C` matches any of the three.
fn runc_rules(args: &[LinuxSeccompArg]) -> Vec<Vec<LinuxSeccompArg>> {
    let mut seen = [false; 6];
    let repeated = args
        .iter()
        .any(|a| std::mem::replace(&mut seen[a.index()], true));
    if repeated {
        args.iter().map(|a| vec![*a]).collect()
    } else {
        vec![args.to_vec()]
    }
}

pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    compile_for(s, NATIVE)
}

/// The ABIs of a filter on a kernel that runs `on`: the native one (`on[0]`) and those
/// listed in `architectures` that this kernel can run.
fn filter_abis(s: &LinuxSeccomp, on: &[Abi]) -> Vec<Abi> {
    let mut abis = vec![on[0]];
    for a in s.architectures().iter().flatten() {
        match on.iter().find(|x| x.arch == *a) {
            Some(x) if !abis.contains(x) => abis.push(*x),
            Some(_) => {}
            None if *a == Arch::ScmpArchNative => {}
            None => crate::logging::debug(&format!(
                "linux.seccomp.architectures: {a:?} skipped: a {} kernel never runs it",
                on[0].name
            )),
        }
    }
    abis
}

/// Compile for a kernel whose native ABI is `on[0]`; tests compile for every arch.
fn compile_for(s: &LinuxSeccomp, on: &[Abi]) -> Result<Filter> {
    // defaultErrnoRet is the data of the default action, ERRNO or TRACE (as runc).
    let default = ret_value(
        s.default_action(),
        s.default_errno_ret(),
        libc::EPERM as u32,
    );
    let mut notify = s.default_action() == Action::ScmpActNotify;
    // name -> rules, in config order; every name the profile mentions.
    let mut rules: BTreeMap<&str, Vec<Rule>> = BTreeMap::new();
    let mut names: FastSet<&str> = Default::default();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let ret = ret_value(sc.action(), sc.errno_ret(), libc::EPERM as u32);
        notify |= sc.action() == Action::ScmpActNotify;
        let args = sc.args().clone().unwrap_or_default();
        for (j, a) in args.iter().enumerate() {
            if a.index() > 5 {
                bail!("{field}.args[{j}].index {}: must be 0 to 5", a.index());
            }
        }
        for name in sc.names() {
            names.insert(name.as_str());
        }
        // runc drops a rule whose action is the default (libseccomp refuses it), so such a
        // rule does not shadow a later one.
        if ret == default {
            continue;
        }
        let split = runc_rules(&args);
        for name in sc.names() {
            let list = rules.entry(name.as_str()).or_default();
            list.extend(split.iter().map(|args| Rule {
                args: args.clone(),
                ret,
            }));
        }
    }
    // As libseccomp (so runc and crun): the filter always has the native arch, and
    // `architectures` adds to it; a list without it must not SIGSYS every native syscall.
    let abis = filter_abis(s, on);
    let has = |a: Abi| abis.contains(&a);
    warn_unknown(&names, on[0]);
    let listed: Vec<Abi> = on
        .iter()
        .filter(|a| s.architectures().iter().flatten().any(|x| *x == a.arch))
        .copied()
        .collect();
    let enosys = Enosys::new(s, &listed, &names);
    let groups = group(rules);
    let mut asm = Asm {
        code: Vec::new(),
        labels: Vec::new(),
    };
    // x32 rides on x86_64's audit value: its block is reached from x86_64's.
    let blocks: Vec<(Abi, usize)> = abis
        .iter()
        .filter(|a| **a != X32)
        .map(|a| (*a, asm.label()))
        .collect();
    asm.stmt(LD_W_ABS, OFF_ARCH);
    for (a, label) in &blocks {
        asm.jump_far(JMP_JEQ_K, a.audit, *label);
    }
    asm.ret(RET_KILL_PROCESS);

    for (a, label) in blocks {
        asm.bind(label);
        asm.stmt(LD_W_ABS, OFF_NR);
        if a != X86_64 {
            enosys.emit(&mut asm, a);
            dispatch(&mut asm, a, &groups, default)?;
            continue;
        }
        let bx32 = asm.label();
        let rules64 = asm.label();
        // nr -1 (a tracer's skipped syscall) has the x32 bit, but to libseccomp it is an
        // x86_64 number (no rule: the default action) unless x32 is in the filter.
        if !has(X32) {
            asm.jump_far(JMP_JEQ_K, u32::MAX, rules64);
        }
        asm.jump_far(JMP_JGE_K, X32_BIT, bx32);
        enosys.emit(&mut asm, X86_64);
        asm.bind(rules64);
        dispatch(&mut asm, X86_64, &groups, default)?;
        asm.bind(bx32);
        if has(X32) {
            asm.stmt(LD_W_ABS, OFF_NR);
            enosys.emit(&mut asm, X32);
            dispatch(&mut asm, X32, &groups, default)?;
        } else {
            asm.ret(RET_KILL_PROCESS);
        }
    }

    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if notify {
        flags |= FLAG_NEW_LISTENER;
    }
    let prog = asm.finish()?;
    if prog.len() > 4096 {
        bail!(
            "linux.seccomp: the filter needs {} BPF instructions, the kernel allows 4096",
            prog.len()
        );
    }
    Ok(Filter {
        prog,
        flags,
        notify,
        listener: None,
        big_endian: on[0].big_endian,
    })
}

/// runc skips names that libseccomp does not know, and says so: a profile that names a
/// syscall newer than this table would otherwise silently get the default action for it.
fn warn_unknown(names: &FastSet<&str>, native: Abi) {
    for name in unknown_names(names, native) {
        crate::logging::warn(&format!(
            "linux.seccomp: unknown syscall {name:?} skipped: not in carrack's syscall table"
        ));
    }
}

/// The names no table of ALL has, sorted. The native table knows nearly every name a
/// profile has: the other tables are read only while some name is still unknown (hashing
/// all eight tables' names was a tenth of a seccomp `run`).
fn unknown_names<'a>(names: &FastSet<&'a str>, native: Abi) -> Vec<&'a str> {
    let mut unknown = names.clone();
    for a in std::iter::once(&native).chain(ALL) {
        if unknown.is_empty() {
            break;
        }
        for (n, _) in a.table {
            unknown.remove(n);
        }
    }
    let mut unknown: Vec<&str> = unknown.into_iter().collect();
    unknown.sort_unstable();
    unknown
}

/// runc's "patchbpf": a syscall numbered above every syscall the profile names gets ENOSYS
/// instead of the default action, per listed arch, so that glibc and musl fall back to the
/// older call (`fchmodat2` -> `fchmodat`) under a profile written before the new call
/// existed. As runc 1.1: only when the default action refuses (not ALLOW, LOG or TRACE) and
/// is not already ENOSYS; only for the arches in `architectures`; "highest" is the largest
/// number, in that arch's table, of any name in the profile (whatever its rule's action).
struct Enosys {
    last: Vec<(Abi, u32)>,
}

impl Enosys {
    fn new(s: &LinuxSeccomp, listed: &[Abi], names: &FastSet<&str>) -> Self {
        let permissive = matches!(
            s.default_action(),
            Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
        );
        if permissive || s.default_errno_ret() == Some(libc::ENOSYS as u32) {
            return Enosys { last: Vec::new() };
        }
        let last = listed
            .iter()
            .filter_map(|&a| {
                let max = a
                    .table
                    .iter()
                    .filter(|(n, _)| names.contains(n))
                    .map(|(_, nr)| *nr)
                    .max()?;
                // As runc: an arch whose largest number is 0 (only `read`) gets no stub.
                (max != 0).then_some((a, max))
            })
            .collect();
        Enosys { last }
    }

    /// The accumulator holds nr: `if nr > last: return ENOSYS`.
    fn emit(&self, asm: &mut Asm, a: Abi) {
        if let Some((_, last)) = self.last.iter().find(|(x, _)| *x == a) {
            let rest = asm.label();
            asm.jump(JMP_JGT_K, *last, Label::Next, Label::At(rest));
            asm.ret(RET_ERRNO | libc::ENOSYS as u32);
            asm.bind(rest);
        }
    }
}

/// What runc sends to a seccomp agent with the listener fd (its ContainerProcessState).
pub fn listener_message(pid: i64, metadata: &str, state_json: &str) -> String {
    let state: serde_json::Value = serde_json::from_str(state_json).unwrap_or_default();
    serde_json::json!({
        // The state's (config::OCI_VERSION): linux/ sits below config/ (scripts/check-layers).
        "ociVersion": state["ociVersion"].clone(),
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
    .to_string()
}

/// The accumulator holds nr. A binary tree over the sorted syscall numbers (about log2(n)
/// comparisons per syscall at run time), leaves jumping to shared bodies: syscalls with the
/// same rules (most are plain ALLOW) share one body.
fn dispatch(asm: &mut Asm, abi: Abi, groups: &Groups, default: u32) -> Result<()> {
    let table = abi.table;
    let mut labels: Vec<Option<usize>> = vec![None; groups.bodies.len()];
    let mut entries: Vec<(u32, usize)> = Vec::with_capacity(groups.by_name.len());
    for (name, nr) in table {
        let Some(&g) = groups.by_name.get(name) else {
            continue;
        };
        let label = *labels[g].get_or_insert_with(|| asm.label());
        entries.push((*nr, label));
    }
    entries.sort_unstable();
    tree(asm, &entries, default);
    for (g, label) in labels.iter().enumerate() {
        if let Some(l) = label {
            asm.bind(*l);
            emit_rules(asm, &groups.bodies[g], default, abi);
        }
    }
    Ok(())
}

/// Hash maps keyed by syscall names and rule lists, which come from the config: the compiler
/// looks up every entry of each arch's table (a few thousand lookups for Docker's profile),
/// and std's SipHash was a tenth of a seccomp `run`'s own instructions. FxHash (rustc's):
/// a multiply and a rotate per word; resistance to collision attacks is not needed for the
/// few hundred keys a profile has.
type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((w, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*w));
            bytes = rest;
        }
        if let Some((w, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u32::from_le_bytes(*w).into());
            bytes = rest;
        }
        for b in bytes {
            self.add((*b).into());
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i.into());
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i.into());
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The table index comes from the low bits, which a multiply mixes least.
        self.0.rotate_left(26)
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A rule as a hashable value: (arg index, value, valueTwo, op) per comparison, and the return.
type RuleKey = (Vec<(usize, u64, Option<u64>, u8)>, u32);

/// Syscalls grouped by identical rule lists, so they share one body.
struct Groups<'a> {
    bodies: Vec<Vec<Rule>>,
    by_name: FastMap<&'a str, usize>,
}

fn group(rules: BTreeMap<&str, Vec<Rule>>) -> Groups<'_> {
    let mut index: FastMap<Vec<RuleKey>, usize> = FastMap::default();
    let mut g = Groups {
        bodies: Vec::new(),
        by_name: FastMap::default(),
    };
    for (name, rs) in rules {
        let key = rs
            .iter()
            .map(|r| {
                (
                    r.args
                        .iter()
                        .map(|a| (a.index(), a.value(), a.value_two(), a.op() as u8))
                        .collect(),
                    r.ret,
                )
            })
            .collect::<Vec<_>>();
        let n = g.bodies.len();
        let id = *index.entry(key).or_insert(n);
        if id == n {
            g.bodies.push(rs);
        }
        g.by_name.insert(name, id);
    }
    g
}

fn tree(asm: &mut Asm, entries: &[(u32, usize)], default: u32) {
    if entries.len() <= 4 {
        for (nr, body) in entries {
            asm.jump_far(JMP_JEQ_K, *nr, *body);
        }
        asm.ret(default);
        return;
    }
    let mid = entries.len() / 2;
    let right = asm.label();
    asm.jump_far(JMP_JGE_K, entries[mid].0, right);
    tree(asm, &entries[..mid], default);
    asm.bind(right);
    tree(asm, &entries[mid..], default);
}

/// As libseccomp (so runc): an unconditional rule wins over every conditional one of the same
/// syscall, and the first unconditional one over later ones; else the conditional rules in
/// config order, then the default. Every path ends in a ret; the accumulator may be clobbered.
fn emit_rules(asm: &mut Asm, rs: &[Rule], default: u32, abi: Abi) {
    if let Some(r) = rs.iter().find(|r| r.args.is_empty()) {
        asm.ret(r.ret);
        return;
    }
    for r in rs {
        let fail = asm.label();
        for a in &r.args {
            if abi.wide {
                emit_cmp(asm, a, abi, fail);
            } else {
                emit_cmp32(asm, a, abi, fail);
            }
        }
        asm.ret(r.ret);
        asm.bind(fail);
    }
    asm.ret(default);
}

/// MASKED_EQ's expected value, masked as libseccomp does: bits outside the mask never count.
fn masked(a: &LinuxSeccompArg) -> u64 {
    a.value_two().unwrap_or(0) & a.value()
}

/// Where the (low, high) 32-bit halves of argument `i` are in seccomp_data.
fn arg_halves(i: usize, abi: Abi) -> (u32, u32) {
    let at = OFF_ARGS + 8 * i as u32;
    if abi.big_endian {
        (at + 4, at)
    } else {
        (at, at + 4)
    }
}

/// A 32-bit ABI (i386, x32, arm): libseccomp, so runc, compares only the low halves of the
/// argument and of the values. Falls through when the comparison holds, else to `fail`.
fn emit_cmp32(asm: &mut Asm, a: &LinuxSeccompArg, abi: Abi, fail: usize) {
    let (v, v2) = (a.value() as u32, masked(a) as u32);
    let pass = asm.label();
    let (p, f) = (Label::At(pass), Label::At(fail));
    asm.stmt(LD_W_ABS, arg_halves(a.index(), abi).0);
    match a.op() {
        Op::ScmpCmpEq => asm.jump(JMP_JEQ_K, v, p, f),
        Op::ScmpCmpNe => asm.jump(JMP_JEQ_K, v, f, p),
        Op::ScmpCmpGt => asm.jump(JMP_JGT_K, v, p, f),
        Op::ScmpCmpGe => asm.jump(JMP_JGE_K, v, p, f),
        Op::ScmpCmpLt => asm.jump(JMP_JGE_K, v, f, p),
        Op::ScmpCmpLe => asm.jump(JMP_JGT_K, v, f, p),
        Op::ScmpCmpMaskedEq => {
            asm.stmt(ALU_AND_K, v);
            asm.jump(JMP_JEQ_K, v2, p, f);
        }
    }
    asm.bind(pass);
}

/// Falls through when `arg <op> value` holds, jumps to `fail` otherwise.
fn emit_cmp(asm: &mut Asm, a: &LinuxSeccompArg, abi: Abi, fail: usize) {
    let (lo_off, hi_off) = arg_halves(a.index(), abi);
    let (v, v2) = (a.value(), masked(a));
    let (vhi, vlo) = ((v >> 32) as u32, v as u32);
    let pass = asm.label();
    let (p, f) = (Label::At(pass), Label::At(fail));
    match a.op() {
        Op::ScmpCmpEq => {
            asm.stmt(LD_W_ABS, hi_off);
            asm.jump(JMP_JEQ_K, vhi, Label::Next, f);
            asm.stmt(LD_W_ABS, lo_off);
            asm.jump(JMP_JEQ_K, vlo, p, f);
        }
        Op::ScmpCmpNe => {
            asm.stmt(LD_W_ABS, hi_off);
            asm.jump(JMP_JEQ_K, vhi, Label::Next, p);
            asm.stmt(LD_W_ABS, lo_off);
            asm.jump(JMP_JEQ_K, vlo, f, p);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            let low_op = if a.op() == Op::ScmpCmpGt {
                JMP_JGT_K
            } else {
                JMP_JGE_K
            };
            asm.stmt(LD_W_ABS, hi_off);
            asm.jump(JMP_JGT_K, vhi, p, Label::Next);
            asm.jump(JMP_JEQ_K, vhi, Label::Next, f);
            asm.stmt(LD_W_ABS, lo_off);
            asm.jump(low_op, vlo, p, f);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            // a < v  <=>  !(a >= v);  a <= v  <=>  !(a > v)
            let low_op = if a.op() == Op::ScmpCmpLt {
                JMP_JGE_K
            } else {
                JMP_JGT_K
            };
            asm.stmt(LD_W_ABS, hi_off);
            asm.jump(JMP_JGT_K, vhi, f, Label::Next);
            asm.jump(JMP_JEQ_K, vhi, Label::Next, p);
            asm.stmt(LD_W_ABS, lo_off);
            asm.jump(low_op, vlo, f, p);
        }
        Op::ScmpCmpMaskedEq => {
            // value is the mask, valueTwo the expected masked value.
            let (mhi, mlo) = ((v >> 32) as u32, v as u32);
            asm.stmt(LD_W_ABS, hi_off);
            asm.stmt(ALU_AND_K, mhi);
            asm.jump(JMP_JEQ_K, (v2 >> 32) as u32, Label::Next, f);
            asm.stmt(LD_W_ABS, lo_off);
            asm.stmt(ALU_AND_K, mlo);
            asm.jump(JMP_JEQ_K, v2 as u32, p, f);
        }
    }
    asm.bind(pass);
}

impl Filter {
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    #[cfg(test)]
    #[allow(clippy::len_without_is_empty)] // tests count instructions
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// With SCMP_ACT_NOTIFY: connect to `listenerPath` now, in the parent, while the host
    /// path is reachable. Init inherits the socket (clone3 copies the fd table).
    pub fn connect_listener(&mut self, s: &LinuxSeccomp) -> Result<()> {
        if !self.notify {
            return Ok(());
        }
        let path = s
            .listener_path()
            .as_ref()
            .context("linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY")?;
        let sock = std::os::unix::net::UnixStream::connect(path)
            .with_context(|| format!("linux.seccomp.listenerPath {}: connect", path.display()))?;
        self.listener = Some(Listener {
            sock,
            metadata: s.listener_metadata().clone().unwrap_or_default(),
        });
        Ok(())
    }

    pub fn metadata(&self) -> &str {
        self.listener.as_ref().map_or("", |l| l.metadata.as_str())
    }

    /// Load into the calling thread. With SCMP_ACT_NOTIFY the new listener fd is sent, with
    /// `message` (see `listener_message`), to the socket of `connect_listener`, and our copy
    /// is closed so that the agent alone holds it.
    pub fn install(&self, message: &str) -> Result<()> {
        let prog = libc::sock_fprog {
            len: self.prog.len() as u16,
            filter: self.prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at self.prog, a live Vec of at most 4096 instructions (checked when
        // built) whose length it carries; the kernel only reads it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                1, /* SET_MODE_FILTER */
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!("linux.seccomp: load the filter (flags {:#x})", self.flags)
            });
        }
        if self.flags & FLAG_NEW_LISTENER == 0 {
            return Ok(());
        }
        // SAFETY: r is the new listener fd seccomp returned (FLAG_NEW_LISTENER, r >= 0 checked
        // above); nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(r as i32) };
        let l = self
            .listener
            .as_ref()
            .context("linux.seccomp.listenerPath: no listener socket")?;
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let fds = [fd.as_raw_fd()];
        let iov = [std::io::IoSlice::new(message.as_bytes())];
        sendmsg::<()>(
            l.sock.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .context("linux.seccomp.listenerPath: send the listener fd")?;
        Ok(())
    }

    /// Run the program on a seccomp_data, for tests and fuzz/ (cargo fuzz sets cfg(fuzzing)).
    #[cfg(any(test, fuzzing))]
    pub fn eval(&self, nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u32; 16];
        data[0] = nr;
        data[1] = arch;
        for (i, a) in args.iter().enumerate() {
            let (lo, hi) = if self.big_endian { (5, 4) } else { (4, 5) };
            data[lo + 2 * i] = *a as u32;
            data[hi + 2 * i] = (*a >> 32) as u32;
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let f = &self.prog[pc];
            pc += 1;
            match f.code {
                LD_W_ABS => acc = data[(f.k / 4) as usize],
                ALU_AND_K => acc &= f.k,
                RET_K => return f.k,
                JMP_JA => pc += f.k as usize,
                op => {
                    let hit = match op {
                        JMP_JEQ_K => acc == f.k,
                        JMP_JGT_K => acc > f.k,
                        JMP_JGE_K => acc >= f.k,
                        _ => panic!("unknown op {op:#x}"),
                    };
                    pc += if hit { f.jt } else { f.jf } as usize;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "seccomp_diff.rs"]
mod diff;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Compiled for an x86_64 kernel, whatever the build's arch: the numbers below are x86's.
    fn filter(v: serde_json::Value) -> Filter {
        filter_on(v, ON_X86_64)
    }

    fn filter_on(v: serde_json::Value, on: &[Abi]) -> Filter {
        compile_for(&serde_json::from_value(v).unwrap(), on).unwrap()
    }

    const X64: u32 = AUDIT_ARCH_X86_64;
    const I386: u32 = AUDIT_ARCH_I386;

    #[test]
    fn arches_each_with_their_own_numbers() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_eq!(f.eval(0, X64, [0; 6]), RET_ALLOW); // read on x86_64
        assert_eq!(f.eval(3, I386, [0; 6]), RET_ALLOW); // read on i386
        assert_eq!(f.eval(83, X64, [0; 6]), RET_ERRNO | 38); // mkdir: above write (1): ENOSYS
        assert_eq!(f.eval(0, I386, [0; 6]), RET_ERRNO | 1); // i386 0 is restart_syscall: EPERM
        assert_eq!(f.eval(X32_BIT, X64, [0; 6]), RET_KILL_PROCESS); // x32 not listed
        assert_eq!(f.eval(0, 0xc000_00b7, [0; 6]), RET_KILL_PROCESS); // aarch64
    }

    #[test]
    fn syscalls_newer_than_6_1_are_known() {
        // fchmodat2 (452), mseal (462), file_setattr (469): numbers past the 6.1 table.
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["fchmodat2", "mseal", "file_setattr"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]
        }));
        for nr in [452, 462, 469] {
            assert_eq!(f.eval(nr, X64, [0; 6]), RET_ERRNO | 5, "x86_64 {nr}");
            assert_eq!(f.eval(nr, I386, [0; 6]), RET_ERRNO | 5, "i386 {nr}");
            assert_eq!(f.eval(X32_BIT + nr, X64, [0; 6]), RET_ERRNO | 5, "x32 {nr}");
        }
    }

    #[test]
    fn syscalls_above_the_profile_get_enosys_per_listed_arch() {
        let profile = |default: &str, errno: Option<u32>, arches: &[&str]| {
            filter(json!({
                "defaultAction": default, "defaultErrnoRet": errno, "architectures": arches,
                "syscalls": [{"names": ["read", "openat", "kexec_load"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3}]
            }))
        };
        const ENOSYS: u32 = RET_ERRNO | 38;
        let all = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
        let f = profile("SCMP_ACT_ERRNO", None, &all);
        // x86_64: openat 257 is the highest named; kexec_load 246 is below it.
        assert_eq!(f.eval(257, X64, [0; 6]), RET_ALLOW);
        assert_eq!(f.eval(258, X64, [0; 6]), ENOSYS); // mkdirat
        assert_eq!(f.eval(452, X64, [0; 6]), ENOSYS); // fchmodat2
        assert_eq!(f.eval(90, X64, [0; 6]), RET_ERRNO | 1); // chmod: older, the default
        assert_eq!(f.eval(83, X64, [0; 6]), RET_ERRNO | 3); // mkdir
                                                            // i386: openat 295 is the highest named.
        assert_eq!(f.eval(295, I386, [0; 6]), RET_ALLOW); // i386 openat
        assert_eq!(f.eval(296, I386, [0; 6]), ENOSYS);
        assert_eq!(f.eval(294, I386, [0; 6]), RET_ERRNO | 1);
        // x32: its own highest (kexec_load is x32's own 528, above openat = 257).
        assert_eq!(f.eval(X32_BIT + 529, X64, [0; 6]), ENOSYS);
        assert_eq!(f.eval(X32_BIT + 258, X64, [0; 6]), RET_ERRNO | 1);
        // Only the listed arches: x86_64 alone leaves x32 numbers to the arch check.
        let f = profile("SCMP_ACT_KILL_PROCESS", None, &["SCMP_ARCH_X86_64"]);
        assert_eq!(f.eval(452, X64, [0; 6]), ENOSYS);
        assert_eq!(f.eval(X32_BIT + 452, X64, [0; 6]), RET_KILL_PROCESS);
        // No architectures, a permissive default, or a default of ENOSYS: no stub, as runc.
        let f = profile("SCMP_ACT_ERRNO", None, &[]);
        assert_eq!(f.eval(452, X64, [0; 6]), RET_ERRNO | 1);
        for d in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
            let f = profile(d, None, &all);
            assert_ne!(f.eval(452, X64, [0; 6]), ENOSYS, "{d}");
        }
        let f = profile("SCMP_ACT_ERRNO", Some(38), &all);
        assert_eq!(f.eval(452, X64, [0; 6]), ENOSYS);
        let f = profile("SCMP_ACT_ERRNO", Some(13), &all);
        assert_eq!(f.eval(452, X64, [0; 6]), ENOSYS);
        assert_eq!(f.eval(90, X64, [0; 6]), RET_ERRNO | 13);
    }

    #[test]
    fn rules_combine_as_libseccomp() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                // Same action as the default: dropped, so it does not shadow the next rule.
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_LOG",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_GE"}]},
                // Conditional then unconditional: the unconditional one wins.
                {"names": ["rmdir"], "action": "SCMP_ACT_TRAP",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["rmdir"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["rmdir"], "action": "SCMP_ACT_KILL"},
                // Trace without errnoRet carries EPERM, as runc.
                {"names": ["chdir"], "action": "SCMP_ACT_TRACE"}
            ]
        }));
        assert_eq!(f.eval(83, X64, [1, 0, 0, 0, 0, 0]), RET_LOG);
        assert_eq!(f.eval(84, X64, [1, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(f.eval(80, X64, [0; 6]), RET_TRACE | 1);
    }

    #[test]
    fn x32_when_listed() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }));
        assert_eq!(f.eval(83, X64, [0; 6]), RET_ERRNO | 38);
        assert_eq!(f.eval(X32_BIT + 83, X64, [0; 6]), RET_ERRNO | 38);
        assert_eq!(f.eval(X32_BIT, X64, [0; 6]), RET_ALLOW);
    }

    #[test]
    fn native_arch_is_always_in_the_filter() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }));
        assert_eq!(f.eval(0, X64, [0; 6]), RET_ALLOW); // read on x86_64: not killed
        assert_eq!(f.eval(83, X64, [0; 6]), RET_ERRNO | 38); // mkdir: the rule applies
        assert_eq!(f.eval(39, I386, [0; 6]), RET_ERRNO | 38); // i386 mkdir
        assert_eq!(f.eval(X32_BIT + 83, X64, [0; 6]), RET_ERRNO | 38); // x32 mkdir
        assert_eq!(f.eval(0, 0xc000_00b7, [0; 6]), RET_KILL_PROCESS); // aarch64: not listed
    }

    #[test]
    fn every_operator_on_both_halves() {
        let big: u64 = 0x1_0000_0005;
        let rule = |op: &str, v: u64, v2: u64| {
            filter(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
                              "args": [{"index": 1, "value": v, "valueTwo": v2, "op": op}]}]
            }))
        };
        let hit = |f: &Filter, a: u64| f.eval(135, X64, [0, a, 0, 0, 0, 0]) == RET_ERRNO | 9;
        let eq = rule("SCMP_CMP_EQ", big, 0);
        assert!(hit(&eq, big) && !hit(&eq, 5) && !hit(&eq, big + 1));
        let ne = rule("SCMP_CMP_NE", big, 0);
        assert!(!hit(&ne, big) && hit(&ne, 5) && hit(&ne, big + (1 << 32)));
        let gt = rule("SCMP_CMP_GT", big, 0);
        assert!(hit(&gt, big + 1) && !hit(&gt, big) && hit(&gt, 1 << 40) && !hit(&gt, 6));
        let ge = rule("SCMP_CMP_GE", big, 0);
        assert!(hit(&ge, big) && !hit(&ge, big - 1) && !hit(&ge, 0xffff_ffff));
        let lt = rule("SCMP_CMP_LT", big, 0);
        assert!(hit(&lt, big - 1) && hit(&lt, 0xffff_ffff) && !hit(&lt, big) && !hit(&lt, 1 << 33));
        let le = rule("SCMP_CMP_LE", big, 0);
        assert!(hit(&le, big) && !hit(&le, big + 1) && hit(&le, 7));
        let m = rule("SCMP_CMP_MASKED_EQ", 0xff00_0000_00ff, 0x1200_0000_0034);
        assert!(
            hit(&m, 0x12ab_cdef_ff34) && !hit(&m, 0x13ab_cdef_ff34) && !hit(&m, 0x1200_0000_0035)
        );
    }

    #[test]
    fn several_args_are_anded_and_rules_fall_through() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 3, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_LOG",
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
            ]
        }));
        assert_eq!(f.eval(56, X64, [1, 0, 3, 0, 0, 0]), RET_ALLOW);
        assert_eq!(f.eval(56, X64, [1, 0, 4, 0, 0, 0]), RET_ERRNO | 1);
        assert_eq!(f.eval(56, X64, [2, 0, 0, 0, 0, 0]), RET_LOG);
    }

    #[test]
    fn conditions_on_one_index_are_ored_as_runc() {
        let f = filter(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
                          "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                                   {"index": 0, "value": 0x20008, "op": "SCMP_CMP_EQ"},
                                   {"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]}]
        }));
        let ret = |a0: u64, a1: u64| f.eval(135, X64, [a0, a1, 0, 0, 0, 0]);
        assert_eq!(ret(8, 0), RET_ERRNO | 9);
        assert_eq!(ret(0x20008, 0), RET_ERRNO | 9);
        assert_eq!(ret(0, 5), RET_ERRNO | 9); // the other index joins the OR, as in runc
        assert_eq!(ret(0, 0), RET_ALLOW);
        assert_eq!(ret(0xffff_ffff, 4), RET_ALLOW);
    }

    #[test]
    fn unknown_names_are_those_no_table_has() {
        let names: FastSet<&str> = ["read", "zz_nope", "arm_fadvise64_64", "a_nope", "mkdir"]
            .into_iter()
            .collect();
        // arm_fadvise64_64 is only in arm's table; mkdir is not in aarch64's.
        assert_eq!(unknown_names(&names, X86_64), ["a_nope", "zz_nope"]);
        assert_eq!(unknown_names(&names, AARCH64), ["a_nope", "zz_nope"]);
        let known: FastSet<&str> = ["read", "mkdir"].into_iter().collect();
        assert!(unknown_names(&known, X86_64).is_empty());
    }

    /// Timing, not a check: `cargo test --release --lib -- --ignored compile_time --nocapture`.
    #[test]
    #[ignore]
    fn compile_time() {
        let text = include_str!("../../oci-tests/data/docker-20.10-default-seccomp.json");
        let s: LinuxSeccomp = serde_json::from_str(text).unwrap();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            for _ in 0..200 {
                std::hint::black_box(compile(std::hint::black_box(&s)).unwrap());
            }
            println!("compile: {:?} each", t.elapsed() / 200);
        }
    }

    #[test]
    fn docker_profile_compiles_and_behaves() {
        let text = include_str!("../../oci-tests/data/docker-20.10-default-seccomp.json");
        let s: LinuxSeccomp = serde_json::from_str(text).unwrap();
        let t = std::time::Instant::now();
        let f = compile(&s).unwrap();
        println!(
            "docker profile: {} instructions, compiled in {:?}",
            f.len(),
            t.elapsed()
        );
        assert!(f.len() < 4096);
        assert_eq!(f.eval(0, X64, [0; 6]), RET_ALLOW); // read
        assert_eq!(f.eval(165, X64, [0; 6]), RET_ERRNO | 1); // mount: denied
        assert_eq!(f.eval(135, X64, [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW); // personality query
        assert_eq!(f.eval(135, X64, [0x42, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
        assert_eq!(f.eval(3, I386, [0; 6]), RET_ALLOW); // i386 read
        assert_eq!(f.eval(21, I386, [0; 6]), RET_ERRNO | 1); // i386 mount
    }

    #[test]
    fn every_advertised_action_operator_arch_and_flag_compiles() {
        for (i, action) in ACTIONS.iter().enumerate() {
            let f = filter_on(
                json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": arches(),
                    "flags": FLAGS,
                    "syscalls": [{"names": ["mkdir"], "action": action, "errnoRet": 5,
                                  "args": [{"index": 0, "value": 1, "op": OPERATORS[i % OPERATORS.len()]}]}]
                }),
                NATIVE,
            );
            assert!(f.len() > 0, "{action}");
        }
    }

    #[test]
    fn installed_filter_returns_the_errno() {
        let f = filter_on(
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": arches(),
                "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
            }),
            NATIVE,
        );
        // SAFETY: fork in the multi-threaded test harness: the child below only makes raw syscalls
        // and _exits, never returning into the harness; install without a listener allocates only
        // on its error path (the error message).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if f.install("").is_err() {
                // SAFETY: _exit in the forked child: runs none of the harness's atexit handlers or
                // destructors.
                unsafe { libc::_exit(90) };
            }
            // SAFETY: the path is a NUL-terminated C string literal.
            let r = unsafe { libc::mkdir(c"/tmp/carrack-seccomp-test-never".as_ptr(), 0o700) };
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            // SAFETY: _exit in the forked child, as above.
            unsafe { libc::_exit(if r == -1 && e == 38 { 0 } else { 91 }) };
        }
        let mut status = 0;
        // SAFETY: waitpid writes one int, `status`, a live local.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "{status}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "90: install failed, 91: mkdir not denied with 38"
        );
    }

    /// Correct by construction: each ABI's audit value is the kernel's (oci-spec's Arch
    /// discriminants are libseccomp's tokens, the AUDIT_ARCH values but for x32), its table
    /// is its own, and each kernel's list starts with its native ABI.
    #[test]
    fn abis_have_their_kernel_values() {
        for &a in ALL {
            if a != X32 {
                assert_eq!(a.arch as u32, a.audit, "{}", a.name);
            }
            let t = serde_json::to_value(a.arch).unwrap();
            assert_eq!(t, a.name, "{}", a.name);
            // 64-bit ABIs have the 64-bit audit bit, the compat ABIs do not; x32 has x86_64's
            // but 32-bit arguments.
            assert_eq!(a.audit & 0x8000_0000 != 0, a.wide || a == X32, "{}", a.name);
            // big-endian ABIs lack __AUDIT_ARCH_LE
            assert_eq!(a.audit & 0x4000_0000 == 0, a.big_endian, "{}", a.name);
        }
        let nr = |a: Abi, n: &str| a.table.iter().find(|(x, _)| *x == n).unwrap().1;
        assert_eq!(nr(X86_64, "mkdir"), 83);
        assert_eq!(nr(AARCH64, "mkdirat"), 34);
        assert_eq!(nr(ARM, "mkdir"), 39);
        assert_eq!(nr(S390X, "mkdir"), 39);
        assert_eq!(nr(PPC64LE, "mkdir"), 39);
        assert_eq!(nr(RISCV64, "mkdirat"), 34);
        for on in [
            ON_X86_64, ON_X86, ON_AARCH64, ON_ARM, ON_PPC64LE, ON_S390X, ON_RISCV64,
        ] {
            assert!(
                on[0].wide || on.len() == 1,
                "a 32-bit kernel runs no other ABI"
            );
        }
        assert_eq!(NATIVE[0].big_endian, cfg!(target_endian = "big"));
    }

    /// On an arm64 kernel: aarch64 and, when listed, arm (compat tasks), each with its own
    /// numbers; x86 ABIs in the list are never reported by that kernel and get no block.
    #[test]
    fn aarch64_kernel_checks_aarch64_and_arm() {
        const A64: u32 = AUDIT_ARCH_AARCH64;
        const A32: u32 = AUDIT_ARCH_ARM;
        let p = |arches: &[&str]| {
            filter_on(
                json!({
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "architectures": arches,
                    "syscalls": [
                        {"names": ["read", "mkdirat", "getpid"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 0x1_0000_0008u64, "op": "SCMP_CMP_EQ"}]}
                    ]
                }),
                ON_AARCH64,
            )
        };
        let f = p(&["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X86_64"]);
        assert_eq!(f.eval(63, A64, [0; 6]), RET_ALLOW); // read
        assert_eq!(f.eval(34, A64, [0; 6]), RET_ALLOW); // mkdirat
        assert_eq!(f.eval(172, A64, [0; 6]), RET_ALLOW); // getpid
        assert_eq!(f.eval(83, A64, [0; 6]), RET_ERRNO | 1); // 83 is fsync on aarch64
        assert_eq!(f.eval(3, A32, [0; 6]), RET_ALLOW); // arm read
        assert_eq!(f.eval(20, A32, [0; 6]), RET_ALLOW); // arm getpid
        assert_eq!(f.eval(63, A32, [0; 6]), RET_ERRNO | 1); // 63 is dup2 on arm
                                                            // 64-bit comparison on aarch64, the low half only on arm (as libseccomp).
        assert_eq!(f.eval(92, A64, [0x1_0000_0008, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(f.eval(92, A64, [0x8, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
        assert_eq!(f.eval(136, A32, [0x8, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(f.eval(0, X64, [0; 6]), RET_KILL_PROCESS); // no x86 block on arm64
                                                              // Unlisted arm: killed; the native aarch64 is there even when not listed.
        let f = p(&["SCMP_ARCH_ARM"]);
        assert_eq!(f.eval(63, A64, [0; 6]), RET_ALLOW);
        assert_eq!(f.eval(3, A32, [0; 6]), RET_ALLOW);
        let f = p(&["SCMP_ARCH_AARCH64"]);
        assert_eq!(f.eval(3, A32, [0; 6]), RET_KILL_PROCESS);
        // runc's ENOSYS stub with aarch64's numbers: above personality (92)... the profile's
        // highest is getpid, 172.
        assert_eq!(f.eval(452, A64, [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(f.eval(173, A64, [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(f.eval(171, A64, [0; 6]), RET_ERRNO | 1);
    }

    /// s390x is big-endian: an argument's high half comes first in seccomp_data.
    #[test]
    fn s390x_compares_halves_in_big_endian_order() {
        let f = filter_on(
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 1, "value": 0x2_0000_0001u64, "op": "SCMP_CMP_GE"}]}]
            }),
            ON_S390X,
        );
        let nr = 136; // personality on s390x
        assert_eq!(
            f.eval(nr, AUDIT_ARCH_S390X, [0, 0x2_0000_0001, 0, 0, 0, 0]),
            RET_ERRNO | 1
        );
        assert_eq!(
            f.eval(nr, AUDIT_ARCH_S390X, [0, 0x3_0000_0000, 0, 0, 0, 0]),
            RET_ERRNO | 1
        );
        assert_eq!(
            f.eval(nr, AUDIT_ARCH_S390X, [0, 0x2_0000_0000, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            f.eval(nr, AUDIT_ARCH_S390X, [0, 0x1_ffff_ffff, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(f.eval(nr, AUDIT_ARCH_X86_64, [0; 6]), RET_KILL_PROCESS);
    }
}
