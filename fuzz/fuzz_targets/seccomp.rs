//! `linux.seccomp` built from structured input (arbitrary): names from the syscall tables or
//! made up, every action, operator, arch and flag, argument indexes past 5, and seccomp_data
//! probes to run the compiled program on.
#![no_main]
use arbitrary::Arbitrary;
use carrack_fuzz::syscall_table;
use serde_json::{json, Value};

// The names carrack's compiler accepts (and `features` advertises).
use carrack::linux::seccomp::{ACTIONS, OPERATORS as OPS};
const ARCHES: &[&str] = &[
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
];
const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
const AUDIT_ARCHES: &[u32] = &[0xc000_003e, 0x4000_0003, 0xc000_00b7];

#[derive(Arbitrary, Debug)]
enum Name {
    X86_64(u16),
    I386(u16),
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Arg {
    index: u8,
    value: u64,
    value_two: Option<u64>,
    op: u8,
}

#[derive(Arbitrary, Debug)]
struct Rule {
    names: Vec<Name>,
    action: u8,
    errno: Option<u16>,
    args: Vec<Arg>,
}

#[derive(Arbitrary, Debug)]
struct Probe {
    nr: u16,
    high_nr: bool,
    arch: u8,
    args: [u64; 6],
}

#[derive(Arbitrary, Debug)]
struct Input {
    default: u8,
    default_errno: Option<u16>,
    arches: Vec<u8>,
    flags: Vec<u8>,
    rules: Vec<Rule>,
    probes: Vec<Probe>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

fn name(n: &Name) -> Value {
    let from = |t: &[(&'static str, u32)], i: u16| json!(t[i as usize % t.len()].0);
    match n {
        Name::X86_64(i) => from(syscall_table::X86_64, *i),
        Name::I386(i) => from(syscall_table::I386, *i),
        Name::Other(s) => json!(s),
    }
}

fn profile(i: &Input) -> Value {
    let rules: Vec<Value> = i
        .rules
        .iter()
        .map(|r| {
            let args: Vec<Value> = r
                .args
                .iter()
                .map(|a| {
                    let mut v = json!({"index": a.index % 8, "value": a.value,
                                       "op": pick(OPS, a.op)});
                    if let Some(two) = a.value_two {
                        v["valueTwo"] = json!(two);
                    }
                    v
                })
                .collect();
            let mut v = json!({"names": r.names.iter().map(name).collect::<Vec<_>>(),
                               "action": pick(ACTIONS, r.action), "args": args});
            if let Some(e) = r.errno {
                v["errnoRet"] = json!(e);
            }
            v
        })
        .collect();
    let mut p = json!({
        "defaultAction": pick(ACTIONS, i.default),
        "architectures": i.arches.iter().map(|a| pick(ARCHES, *a)).collect::<Vec<_>>(),
        "flags": i.flags.iter().map(|f| pick(FLAGS, *f)).collect::<Vec<_>>(),
        "syscalls": rules,
    });
    if let Some(e) = i.default_errno {
        p["defaultErrnoRet"] = json!(e);
    }
    p
}

libfuzzer_sys::fuzz_target!(|i: Input| {
    let probes: Vec<(u32, u32, [u64; 6])> = i
        .probes
        .iter()
        .map(|p| {
            let nr = p.nr as u32 | if p.high_nr { 0x4000_0000 } else { 0 };
            (
                nr,
                AUDIT_ARCHES[p.arch as usize % AUDIT_ARCHES.len()],
                p.args,
            )
        })
        .collect();
    carrack_fuzz::seccomp(&profile(&i), &probes);
});
