//! Differential test of the seccomp compiler against libseccomp, the reference (runc uses it).
//!
//! Profiles (Docker's, the oci-tests fixtures, and seeded random ones: every operator, 64-bit
//! values, every action and several errnos, the arches) are compiled by carrack and by
//! libseccomp 2.5 through tests/seccomp-diff/libseccomp.py (Debian's python3-seccomp, as runc
//! 1.1 would: the test's only use of libseccomp), and both BPF programs run in the classic-BPF
//! interpreter below over the same seccomp_data inputs: every syscall number the profile names
//! per arch and its neighbours, numbers past the table, and arguments at each comparison's
//! edges (value-1, value, value+1, each half flipped, masks). Every input must give the same
//! action. The same script resolves every name of carrack's syscall tables (8 arches) with
//! libseccomp; a number that differs fails the test.
//! Each profile is compiled for an x86_64 kernel (x86_64, x86, x32) and, with its arches moved
//! to arm64's (aarch64, arm), for an arm64 kernel: libseccomp builds that filter on this host
//! too (the host arch removed, aarch64 added), so both compilers' aarch64 and arm blocks are
//! compared wherever the build runs.
//!
//! Deliberate differences, modelled or excluded here (and counted in the printed summary):
//! - runc's -ENOSYS stub is not part of libseccomp's program: the reference result is ENOSYS
//!   where runc's stub would give it (nr above the profile's highest for a listed arch).
//! - the bad-arch action is KILL_PROCESS on both sides (runc leaves libseccomp's KILL_THREAD).
//! - libseccomp refuses some profiles (EEXIST: two rules with the same conditions and
//!   different actions; runc then fails the container); carrack takes the first. Skipped.
//! - overlapping conditional rules of one syscall with different actions: carrack takes the
//!   first in config order, libseccomp its own tree order (unspecified). Inputs where two such
//!   rules match with different actions are excluded.
//! - inputs where libseccomp contradicts the profile read directly (`matching_actions`) and
//!   carrack agrees with it: libseccomp 2.5.4 merges 64-bit GT/GE/LT/LE conditions on one
//!   argument wrongly. Counted as `libseccomp_wrong`.
//! - numbers of names libseccomp 2.5.4 does not know (it skips their rules). Counted.
//! - i386 and arm arguments have zero upper halves (the kernel zero-extends compat arguments).
//! - arches a kernel never reports (x86 ones in an arm64 filter): libseccomp gives them a
//!   block, carrack none (its bad-arch KILL_PROCESS); only reachable arches' inputs are run.
//!   Runs in `cargo test` (scripts/test installs python3-seccomp).

use super::{compile_for, syscall_table, Abi, ON_AARCH64, ON_X86_64, X32, X32_BIT};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/seccomp-diff/libseccomp.py"
);
const PYTHON: &str = "/usr/bin/python3";
const ENOSYS: u32 = 0x0005_0000 | 38;

/// A classic BPF program as the kernel sees it.
type Prog = Vec<(u16, u8, u8, u32)>;

/// The seccomp subset of classic BPF (what the kernel's seccomp_check_filter accepts), run on
/// a struct seccomp_data; panics on anything the kernel would reject.
fn run(prog: &Prog, data: &[u32; 16]) -> u32 {
    let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
    for _ in 0..=prog.len() {
        let (code, jt, jf, k) = *prog.get(pc).expect("pc past the end");
        pc += 1;
        let src = if code & 0x08 != 0 { x } else { k };
        match code & 0x07 {
            0x00 | 0x01 => {
                let v = match code & 0xe0 {
                    0x00 => k,
                    0x20 => {
                        assert!(code & 0x18 == 0 && k % 4 == 0 && k < 64, "ld {code:#x} {k}");
                        data[(k / 4) as usize]
                    }
                    0x60 => mem[k as usize],
                    0x80 => 64,
                    m => panic!("load mode {m:#x}"),
                };
                if code & 0x07 == 0 {
                    a = v
                } else {
                    x = v
                }
            }
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x04 => {
                a = match code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).expect("division by zero"),
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src).expect("modulo by zero"),
                    0xa0 => a ^ src,
                    o => panic!("alu op {o:#x}"),
                }
            }
            0x05 => {
                let hit = match code & 0xf0 {
                    0x00 => {
                        pc += k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    o => panic!("jump op {o:#x}"),
                };
                pc += if hit { jt } else { jf } as usize;
            }
            0x06 => return if code & 0x18 == 0x10 { a } else { k },
            // misc: TAX (0x07) copies A to X, TXA (0x87) X to A.
            _ if code & 0x80 != 0 => a = x,
            _ => x = a,
        }
    }
    panic!("program does not end")
}

/// struct seccomp_data; its u64 arguments in the ABI's byte order.
fn data(arch: u32, nr: u32, args: [u64; 6], big_endian: bool) -> [u32; 16] {
    let mut d = [0u32; 16];
    (d[0], d[1]) = (nr, arch);
    for (i, v) in args.iter().enumerate() {
        let (lo, hi) = (*v as u32, (*v >> 32) as u32);
        (d[4 + 2 * i], d[5 + 2 * i]) = if big_endian { (hi, lo) } else { (lo, hi) };
    }
    d
}

/// xorshift64*: deterministic profiles and inputs, the seed printed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const ACTIONS: &[&str] = &[
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
const OPS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_MASKED_EQ",
];
/// Big-endian ABIs: of those libseccomp knows, s390x's (also s390, ppc64, mips, parisc).
const BIG_ENDIAN: &[&str] = &["SCMP_ARCH_S390X"];
const X86_ARCHES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
/// Names on every x86 arch, some only on i386 (socketcall, waitpid) and one only on x86_64
/// and x32 (accept), plus newer ones (up to file_setattr 469) and one nobody knows.
const NAMES: &[&str] = &[
    "read",
    "write",
    "openat",
    "close",
    "mmap",
    "mkdir",
    "mkdirat",
    "personality",
    "clone",
    "clone3",
    "ioctl",
    "fchmodat",
    "fchmodat2",
    "kexec_load",
    "add_key",
    "socket",
    "accept",
    "socketcall",
    "waitpid",
    "getpriority",
    "setpriority",
    "prctl",
    "futex",
    "mseal",
    "file_setattr",
    "listmount",
    "open_tree_attr",
    "restart_syscall",
    "exit_group",
    "io_uring_setup",
    "mkdir",
    "open",
    "renameat",
    "cacheflush",
    "arm_fadvise64_64",
    "carrack_no_such_syscall",
];
const ERRNOS: &[u64] = &[0, 1, 13, 38, 95, 4095];

fn value(r: &mut Rng) -> u64 {
    match r.below(6) {
        0 => r.below(8) as u64,
        1 => *r.pick(&[
            0xffff_ffff,
            0x1_0000_0000,
            0x8000_0000,
            u64::MAX,
            0x7fff_ffff_ffff_ffff,
        ]),
        2 => r.next() & 0xffff_ffff,
        3 => r.next(),
        4 => (r.below(4) as u64) << 32 | r.below(4) as u64,
        _ => 1 << r.below(64),
    }
}

fn random_profile(r: &mut Rng) -> Value {
    let mut arches: Vec<&str> = X86_ARCHES
        .iter()
        .copied()
        .filter(|_| r.below(3) > 0)
        .collect();
    if r.below(6) == 0 {
        arches.clear();
    }
    let default = *r.pick(
        &ACTIONS
            .iter()
            .filter(|a| **a != "SCMP_ACT_NOTIFY")
            .collect::<Vec<_>>(),
    );
    let mut p = json!({"defaultAction": default, "architectures": arches, "syscalls": []});
    if r.below(3) == 0 {
        p["defaultErrnoRet"] = json!(r.pick(ERRNOS));
    }
    for _ in 0..1 + r.below(8) {
        let names: Vec<&str> = (0..1 + r.below(3)).map(|_| *r.pick(NAMES)).collect();
        let action = *r.pick(ACTIONS);
        let mut rule = json!({"names": names, "action": action});
        if r.below(2) == 0 {
            rule["errnoRet"] = json!(r.pick(ERRNOS));
        }
        let args: Vec<Value> = (0..r.below(4))
            .map(|_| {
                json!({"index": r.below(6), "value": value(r), "valueTwo": value(r),
                       "op": r.pick(OPS)})
            })
            .collect();
        if !args.is_empty() {
            rule["args"] = json!(args);
        }
        p["syscalls"].as_array_mut().unwrap().push(rule);
    }
    p
}

/// The oci-tests fixtures (oci-tests/src/cases/seccomp.rs) as profiles.
fn fixtures() -> Vec<Value> {
    let allow_with = |rules: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": X86_ARCHES, "syscalls": rules});
    let rule = |action: &str, args: Value| json!({"names": ["getpriority"], "action": action, "errnoRet": 42, "args": args});
    let mut v: Vec<Value> = ACTIONS
        .iter()
        .map(|a| allow_with(json!([rule(a, json!(null))])))
        .collect();
    for args in [
        json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]),
        json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]),
        json!([{"index": 0, "value": 4294967297u64, "op": "SCMP_CMP_EQ"}]),
        json!([{"index": 0, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]),
    ] {
        v.push(allow_with(json!([rule("SCMP_ACT_ERRNO", args)])));
    }
    let mut native = allow_with(json!([rule("SCMP_ACT_ERRNO", json!(null))]));
    native["architectures"] = json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    v.push(native);
    v.push(allow_with(
        json!([{"names": ["oci_no_such_syscall", "getpriority"],
                                "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]),
    ));
    let mut docker77 = docker();
    docker77["defaultErrnoRet"] = json!(77);
    v.push(docker77);
    v
}

fn docker() -> Value {
    serde_json::from_str(include_str!(
        "../../oci-tests/data/docker-20.10-default-seccomp.json"
    ))
    .unwrap()
}

/// The same profile as on an arm64 host: x86 arches swapped for arm64's (Docker's archMap).
fn on_arm64(p: &Value) -> Value {
    let mut p = p.clone();
    if let Some(a) = p["architectures"].as_array_mut() {
        for x in a.iter_mut() {
            let to = match x.as_str() {
                Some("SCMP_ARCH_X86_64") => "SCMP_ARCH_AARCH64",
                Some("SCMP_ARCH_X86") => "SCMP_ARCH_ARM",
                Some(o) => o,
                None => continue,
            };
            *x = json!(to);
        }
        a.dedup();
    }
    p
}

/// Argument values at the edges of every comparison on index `i` of these rules.
fn edges(rules: &[&Value], i: u64) -> Vec<u64> {
    let mut e = vec![0, 1, 0xffff_ffff, 0x1_0000_0000, u64::MAX];
    for a in rules
        .iter()
        .flat_map(|r| r["args"].as_array().into_iter().flatten())
    {
        if a["index"].as_u64() != Some(i) {
            continue;
        }
        let (v, v2) = (
            a["value"].as_u64().unwrap_or(0),
            a["valueTwo"].as_u64().unwrap_or(0),
        );
        for b in [v, v2, v2 | !v, v2 ^ (v & v.wrapping_neg())] {
            e.extend([
                b.wrapping_sub(1),
                b,
                b.wrapping_add(1),
                b ^ 0xffff_ffff_0000_0000,
            ]);
            e.extend([
                b & 0xffff_ffff,
                b ^ 1 << 32,
                (b & 0xffff_ffff) | (b.wrapping_add(1) & !0xffff_ffff),
            ]);
        }
    }
    e.sort_unstable();
    e.dedup();
    e
}

/// Which distinct actions carrack's conditional rules for this syscall give on these args
/// (the same-index split as runc; rules with the default action dropped, as runc).
fn matching_actions(rules: &[&Value], args: &[u64; 6], wide: bool, default: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for r in rules {
        let s: oci_spec::runtime::LinuxSyscall = serde_json::from_value((*r).clone()).unwrap();
        let ret = super::ret_value(s.action(), s.errno_ret(), libc::EPERM as u32);
        if ret == default {
            continue;
        }
        for conds in super::runc_rules(&s.args().clone().unwrap_or_default()) {
            let hit = conds.iter().all(|c| {
                let mut x = args[c.index()];
                let (mut v, mut v2) = (c.value(), c.value_two().unwrap_or(0));
                if !wide {
                    (x, v, v2) = (x as u32 as u64, v as u32 as u64, v2 as u32 as u64);
                }
                use oci_spec::runtime::LinuxSeccompOperator as O;
                match c.op() {
                    O::ScmpCmpEq => x == v,
                    O::ScmpCmpNe => x != v,
                    O::ScmpCmpGt => x > v,
                    O::ScmpCmpGe => x >= v,
                    O::ScmpCmpLt => x < v,
                    O::ScmpCmpLe => x <= v,
                    O::ScmpCmpMaskedEq => x & v == v2 & v,
                }
            });
            if hit && !out.contains(&ret) {
                out.push(ret);
            }
        }
    }
    out
}

#[derive(Default, Debug)]
struct Count {
    profiles: usize,
    rejected: usize,
    inputs: usize,
    /// of which on the arm64 kernel (aarch64 and arm blocks)
    arm64_inputs: usize,
    enosys: usize,
    overlapping: usize,
    table_checked: usize,
    multiplexed: usize,
    newer_than_libseccomp: usize,
    newer_than_libseccomp_inputs: usize,
    libseccomp_wrong: usize,
}

#[test]
fn carrack_and_libseccomp_give_the_same_action_for_every_input() {
    if !std::path::Path::new(PYTHON).exists()
        || !std::process::Command::new(PYTHON)
            .args(["-c", "import seccomp"])
            .status()
            .is_ok_and(|s| s.success())
    {
        panic!("the differential test needs Debian's python3-seccomp: apt-get install python3-seccomp (scripts/test does)");
    }
    let seed: u64 = std::env::var("CARRACK_SECCOMP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5ecc_0b9f);
    let mut rng = Rng(seed);
    let mut profiles = vec![docker()];
    profiles.extend(fixtures());
    let n_fixed = profiles.len();
    profiles.extend((0..400).map(|_| random_profile(&mut rng)));
    // Every profile on an x86_64 kernel, then on an arm64 kernel.
    let n = profiles.len();
    let mut kernels: Vec<&[Abi]> = vec![ON_X86_64; n];
    for i in 0..n {
        profiles.push(on_arm64(&profiles[i]));
        kernels.push(ON_AARCH64);
    }
    let natives: Vec<&str> = kernels.iter().map(|on| on[0].name).collect();

    let tables: BTreeMap<&str, &[(&str, u32)]> = [
        ("SCMP_ARCH_X86_64", syscall_table::X86_64),
        ("SCMP_ARCH_X86", syscall_table::I386),
        ("SCMP_ARCH_X32", syscall_table::X32),
        ("SCMP_ARCH_AARCH64", syscall_table::AARCH64),
        ("SCMP_ARCH_ARM", syscall_table::ARM),
        ("SCMP_ARCH_PPC64LE", syscall_table::PPC64),
        ("SCMP_ARCH_S390X", syscall_table::S390X),
        ("SCMP_ARCH_RISCV64", syscall_table::RISCV64),
    ]
    .into_iter()
    .collect();
    let names: BTreeMap<&str, Vec<&str>> = tables
        .iter()
        .map(|(a, t)| (*a, t.iter().map(|(n, _)| *n).collect()))
        .collect();
    let req = json!({"profiles": profiles, "natives": natives, "tables": names});
    let reply = python(&req);
    let mut count = Count::default();

    // The tables: libseccomp's number for each name, where it knows the name.
    let mut wrong = Vec::new();
    for (arch, t) in &tables {
        for (name, nr) in t.iter() {
            match reply["tables"][arch][name].as_u64() {
                None => count.newer_than_libseccomp += 1,
                Some(n) if n == *nr as u64 => count.table_checked += 1,
                // On ppc64 and s390x libseccomp answers the multiplexer's number (socketcall,
                // ipc) for the socket and SysV IPC calls, which it filters both ways; the
                // kernel's syscall.tbl gives them their own numbers too (socket is 326 on ppc64).
                Some(n) if multiplexer(t, n) => count.multiplexed += 1,
                Some(n) => wrong.push(format!("{arch} {name}: carrack {nr}, libseccomp {n}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "syscall numbers differ:\n{}",
        wrong.join("\n")
    );

    let mut failures = Vec::new();
    for (pi, (p, r)) in profiles
        .iter()
        .zip(reply["profiles"].as_array().unwrap())
        .enumerate()
    {
        count.profiles += 1;
        let on = kernels[pi];
        if r.get("rejected").is_some() {
            count.rejected += 1;
            assert!(
                pi % n >= n_fixed,
                "libseccomp rejects fixed profile {pi}: {r}"
            );
            continue;
        }
        let reference: Prog = serde_json::from_value(r["bpf"].clone()).unwrap();
        let s: LinuxSeccomp = serde_json::from_value(p.clone()).unwrap();
        let ours: Prog = compile_for(&s, on)
            .unwrap_or_else(|e| panic!("profile {pi}: {e:#}"))
            .prog
            .iter()
            .map(|f| (f.code, f.jt, f.jf, f.k))
            .collect();
        let default = super::ret_value(s.default_action(), s.default_errno_ret(), 1);
        let listed: Vec<&str> = p["architectures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .collect();
        let mut in_filter = listed.clone();
        if !in_filter.contains(&on[0].name) {
            in_filter.push(on[0].name);
        }
        // runc's findLastSyscalls, with a libseccomp as current as carrack's table: per listed
        // arch, the largest number of any name in the profile; none with a permissive default
        // or a default errno of ENOSYS.
        let permissive = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"]
            .contains(&p["defaultAction"].as_str().unwrap())
            || p["defaultErrnoRet"] == 38;
        let profile_names: Vec<&str> = p["syscalls"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| {
                r["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|n| n.as_str())
            })
            .collect();
        let last: BTreeMap<&str, u32> = on
            .iter()
            .filter(|a| !permissive && listed.contains(&a.name))
            .filter_map(|a| {
                let m = a
                    .table
                    .iter()
                    .filter(|(n, _)| profile_names.contains(n))
                    .map(|(_, nr)| *nr)
                    .max()?;
                (m != 0).then_some((a.name, m))
            })
            .collect();
        for abi in on {
            let (arch, audit, table, wide) = (&abi.name, abi.audit, abi.table, abi.wide);
            // Numbers of names libseccomp 2.5.4 does not know yet: it skips their rules.
            let unknown: Vec<u32> = table
                .iter()
                .filter(|(n, _)| reply["tables"][arch][n].is_null())
                .map(|(_, nr)| *nr)
                .collect();
            let bit = if *abi == X32 { X32_BIT } else { 0 };
            // Rules by syscall number on this arch.
            let mut by_nr: BTreeMap<u32, Vec<&Value>> = BTreeMap::new();
            for rule in p["syscalls"].as_array().into_iter().flatten() {
                for n in rule["names"].as_array().unwrap() {
                    if let Some((_, nr)) = table.iter().find(|(t, _)| Some(*t) == n.as_str()) {
                        by_nr.entry(*nr).or_default().push(rule);
                    }
                }
            }
            let mut nrs: Vec<u32> = vec![bit, bit + 1, bit + 452, bit + 469, bit + 470, bit + 1000];
            for nr in by_nr.keys() {
                nrs.extend([nr.wrapping_sub(1), *nr, nr + 1]);
            }
            if let Some(l) = last.get(*arch) {
                nrs.extend([*l, l + 1]);
            }
            nrs.extend([
                X32_BIT - 1,
                u32::MAX,
                (rng.next() as u32) & 0x3fff_ffff | bit,
            ]);
            nrs.sort_unstable();
            nrs.dedup();
            for nr in nrs {
                let rules = by_nr.get(&nr).cloned().unwrap_or_default();
                let e: Vec<Vec<u64>> = (0..6).map(|i| edges(&rules, i)).collect();
                let n_args = if rules.iter().any(|r| r.get("args").is_some()) {
                    60
                } else {
                    2
                };
                for k in 0..n_args {
                    let mut args = [0u64; 6];
                    if k > 0 {
                        for (i, a) in args.iter_mut().enumerate() {
                            *a = *rng.pick(&e[i]);
                        }
                    }
                    if !wide && *abi != X32 {
                        args = args.map(|a| a & 0xffff_ffff); // the kernel zero-extends them
                    }
                    if unknown.contains(&nr) {
                        count.newer_than_libseccomp_inputs += 1;
                        continue;
                    }
                    // The byte order from the test's own facts, not the code under test's.
                    let d = data(audit, nr, args, BIG_ENDIAN.contains(arch));
                    count.inputs += 1;
                    count.arm64_inputs += usize::from(on == ON_AARCH64);
                    let got = run(&ours, &d);
                    // runc's stub picks its section by the audit arch and, on x86_64, the x32
                    // bit.
                    let section = match on.iter().find(|a| a.audit == audit) {
                        Some(a) if a.name == "SCMP_ARCH_X86_64" && nr & X32_BIT != 0 => X32.name,
                        Some(a) => a.name,
                        None => unreachable!(),
                    };
                    let enosys_stub =
                        listed.contains(&section) && last.get(section).is_some_and(|l| nr > *l);
                    let want = if enosys_stub {
                        count.enosys += 1;
                        ENOSYS
                    } else {
                        run(&reference, &d)
                    };
                    if got == want {
                        continue;
                    }
                    let unconditional = rules.iter().any(|r| {
                        r.get("args").is_none()
                            && super::ret_value(
                                serde_json::from_value::<oci_spec::runtime::LinuxSyscall>(
                                    (*r).clone(),
                                )
                                .unwrap()
                                .action(),
                                r["errnoRet"].as_u64().map(|e| e as u32),
                                1,
                            ) != default
                    });
                    let matching = matching_actions(&rules, &args, wide, default);
                    if in_filter.contains(arch) && !enosys_stub && !unconditional {
                        if matching.len() > 1 {
                            count.overlapping += 1;
                            continue;
                        }
                        // A third opinion, the profile read directly: where carrack agrees
                        // with it and libseccomp does not, libseccomp is wrong (2.5.4 merges
                        // 64-bit GT/GE/LT/LE conditions on one argument incorrectly: e.g.
                        // `a1 <= 1<<32` OR `a1 > 2<<32` matches a1 = 0x1_ffff_ffff).
                        let direct = matching.first().copied().unwrap_or(default);
                        let x86_64_audit = on[0].name == "SCMP_ARCH_X86_64" && audit == on[0].audit;
                        if got == direct && (nr & X32_BIT == bit || !x86_64_audit) {
                            count.libseccomp_wrong += 1;
                            continue;
                        }
                    }
                    failures.push(format!(
                        "profile {pi} {arch} nr {nr:#x} args {args:x?}: carrack {got:#x}, libseccomp {want:#x}"
                    ));
                    if failures.len() == 1 {
                        // Kept for the developer to read: a name of its own per run.
                        let dump = std::env::temp_dir()
                            .join(format!("carrack-seccomp-diff-{}.json", std::process::id()));
                        std::fs::write(&dump, serde_json::to_vec_pretty(p).unwrap()).unwrap();
                        println!("first mismatching profile: {}", dump.display());
                    }
                }
            }
        }
    }
    println!(
        "seccomp differential test (seed {seed:#x}): {count:?}, {} mismatches",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs differ (first 10):\n{}",
        failures.len(),
        count.inputs,
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn multiplexer(table: &[(&str, u32)], nr: u64) -> bool {
    table
        .iter()
        .any(|(n, x)| matches!(*n, "socketcall" | "ipc") && *x as u64 == nr)
}

fn python(req: &Value) -> Value {
    use std::io::Write;
    let mut child = std::process::Command::new(PYTHON)
        .arg(SCRIPT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run tests/seccomp-diff/libseccomp.py");
    let input = serde_json::to_vec(req).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "libseccomp.py failed");
    serde_json::from_slice(&out.stdout).unwrap()
}
