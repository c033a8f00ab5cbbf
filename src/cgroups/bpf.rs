//! cgroup v2 device control: the policy of `devices::State` compiled to a
//! BPF_PROG_TYPE_CGROUP_DEVICE program (hand-assembled, no clang), loaded with bpf(2) and
//! attached to the container's cgroup, replacing the program carrack attached before.

use super::devices::{State, MKNOD, READ, WRITE};
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// dst in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes used (class | op | source).
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND64_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH64_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// Registers after the prologue: r2 access bits, r3 device type, r4 major, r5 minor.
fn prologue() -> Vec<Insn> {
    vec![
        // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
        ins(LDX_W, 2, 1, 0, 0),
        ins(MOV64_X, 3, 2, 0, 0),
        ins(AND64_K, 3, 0, 0, 0xffff),
        ins(RSH64_K, 2, 0, 0, 16),
        ins(LDX_W, 4, 1, 4, 0),
        ins(LDX_W, 5, 1, 8, 0),
    ]
}

fn ret(v: i32) -> [Insn; 2] {
    [ins(MOV64_K, 0, 0, 0, v), ins(EXIT, 0, 0, 0, 0)]
}

/// The program: each exception is a block that falls through to the next one when it does
/// not apply; a hit returns the exception's verdict; the end returns the default.
/// Under default-deny a hit needs every requested bit granted; under default-allow any
/// overlap denies (the v1 kernel's rules, see `State::permits`).
pub fn program(s: &State) -> Vec<Insn> {
    let mut p = prologue();
    for e in &s.exceptions {
        let mut checks: Vec<(u8, i32)> = Vec::new();
        let t = if e.typ == 'b' {
            BPF_DEVCG_DEV_BLOCK
        } else {
            BPF_DEVCG_DEV_CHAR
        };
        checks.push((3, t));
        if let Some(m) = e.major {
            checks.push((4, m as i32));
        }
        if let Some(m) = e.minor {
            checks.push((5, m as i32));
        }
        let acc = i32::from(e.access & (MKNOD | READ | WRITE));
        // Block length: the checks, mov+and+jump on access, the 2-insn return.
        let len = checks.len() + 3 + 2;
        for (i, (reg, imm)) in checks.iter().enumerate() {
            let skip = (len - i - 1) as i16;
            p.push(ins(JNE_K, *reg, 0, skip, *imm));
        }
        p.push(ins(MOV64_X, 6, 2, 0, 0));
        if s.default_allow {
            // Deny if requested & exception != 0; else next block.
            p.push(ins(AND64_K, 6, 0, 0, acc));
            p.push(ins(JEQ_K, 6, 0, 2, 0));
            p.extend(ret(0));
        } else {
            // Allow if requested & !exception == 0; else next block.
            p.push(ins(AND64_K, 6, 0, 0, !acc & 0x7));
            p.push(ins(JNE_K, 6, 0, 2, 0));
            p.extend(ret(1));
        }
    }
    p.extend(ret(i32::from(s.default_allow)));
    p
}

/// Run `prog` on one request in a tiny interpreter of the opcodes `program` emits, so the
/// generated code is unit-tested without a kernel.
#[cfg(test)]
pub fn interpret(prog: &[Insn], typ: char, major: u32, minor: u32, access: u8) -> Result<u64> {
    let t = if typ == 'b' {
        BPF_DEVCG_DEV_BLOCK
    } else {
        BPF_DEVCG_DEV_CHAR
    } as u32;
    let ctx = [(u32::from(access) << 16) | t, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..4096 {
        let i = prog.get(pc).context("jumped outside the program")?;
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        pc += 1;
        match i.code {
            LDX_W => r[dst] = u64::from(ctx[(i.off / 4) as usize]),
            MOV64_X => r[dst] = r[src],
            MOV64_K => r[dst] = imm,
            AND64_K => r[dst] &= imm,
            RSH64_K => r[dst] >>= imm,
            JNE_K if r[dst] != imm => pc = (pc as i64 + i64::from(i.off)) as usize,
            JEQ_K if r[dst] == imm => pc = (pc as i64 + i64::from(i.off)) as usize,
            JNE_K | JEQ_K => {}
            EXIT => return Ok(r[0]),
            c => bail!("opcode {c:#x} not interpreted"),
        }
    }
    bail!("program did not exit")
}

// ---- bpf(2) ----

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFd {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: attr is a live, fully initialised repr(C) bpf_attr prefix of the given size;
    // the kernel zero-extends the rest.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Load `prog`; the verifier's log is returned in the error.
pub fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    attr.prog_name[..7].copy_from_slice(b"carrack");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a successful BPF_PROG_LOAD returns a new fd that we own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            bail!("bpf(BPF_PROG_LOAD) of the device program: {e}; verifier: {text}")
        }
    }
}

/// Ids of the device programs attached to the cgroup `dir_fd`.
fn attached(dir_fd: &OwnedFd) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut q = Query {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut q).context("bpf(BPF_PROG_QUERY)")?;
    ids.truncate(q.prog_cnt as usize);
    Ok(ids)
}

fn prog_fd(id: u32) -> Result<OwnedFd> {
    let mut a = GetFd {
        id,
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut a)
        .with_context(|| format!("bpf(BPF_PROG_GET_FD_BY_ID {id})"))?;
    // SAFETY: a new fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn attach(dir_fd: &OwnedFd, prog: &OwnedFd, flags: u32, replace: Option<&OwnedFd>) -> Result<()> {
    let mut a = Attach {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: replace.map_or(0, |r| r.as_raw_fd() as u32),
    };
    bpf(BPF_PROG_ATTACH, &mut a).context("bpf(BPF_PROG_ATTACH)")?;
    Ok(())
}

fn detach(dir_fd: &OwnedFd, prog: &OwnedFd) -> Result<()> {
    let mut a = Attach {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut a).context("bpf(BPF_PROG_DETACH)")?;
    Ok(())
}

/// Install `s` on the cgroup2 dir: one old program is swapped atomically (BPF_F_REPLACE);
/// otherwise the new one is attached next to them and the old ones are detached after, so
/// there is never a moment without a policy.
pub fn install(dir: &Path, s: &State) -> Result<()> {
    let prog = load(&program(s))?;
    let dir_fd = super::v2::open_dir(dir)?;
    let old: Vec<OwnedFd> = attached(&dir_fd)?
        .into_iter()
        .map(prog_fd)
        .collect::<Result<_>>()?;
    if let [one] = old.as_slice() {
        let flags = BPF_F_ALLOW_MULTI | BPF_F_REPLACE;
        if attach(&dir_fd, &prog, flags, Some(one)).is_ok() {
            return Ok(());
        }
    }
    attach(&dir_fd, &prog, BPF_F_ALLOW_MULTI, None)
        .with_context(|| format!("attach the device program to {}", dir.display()))?;
    for o in &old {
        detach(&dir_fd, o)
            .with_context(|| format!("detach an old device program from {}", dir.display()))?;
    }
    Ok(())
}

/// How many device programs are attached.
#[cfg(test)]
pub fn attached_count(dir: &Path) -> Result<usize> {
    Ok(attached(&super::v2::open_dir(dir)?)?.len())
}
