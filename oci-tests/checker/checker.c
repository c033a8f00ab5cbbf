/* oci-tests checker: runs as the container's process and prints, as one JSON object on stdout,
 * what the container really got. Static, libc only, so it runs in any rootfs.
 *
 *   checker [--read PATH] [--stat PATH] [--write PATH] [--syscall NAME=NR[:A0[:A1]]]
 *           [--syscall32 NAME=NR] [--exit CODE]
 *
 * The harness (oci-tests/src) compares the JSON with the case's config.json. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static int first;

static void str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}
static void key(const char *k) {
    if (!first) putchar(',');
    first = 0;
    str(k);
    putchar(':');
}
static void open_obj(const char *k) { key(k); putchar('{'); first = 1; }
static void open_arr(const char *k) { key(k); putchar('['); first = 1; }
static void close_obj(void) { putchar('}'); first = 0; }
static void close_arr(void) { putchar(']'); first = 0; }
static void item_sep(void) { if (!first) putchar(','); first = 0; }
static void kv_s(const char *k, const char *v) { key(k); if (v) str(v); else fputs("null", stdout); }
static void kv_i(const char *k, long long v) { key(k); printf("%lld", v); }
static void kv_u(const char *k, unsigned long long v) { key(k); printf("%llu", v); }

/* Whole small file, or NULL with errno set. */
static char *slurp(const char *path) {
    static char buf[1 << 17];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
    int e = errno;
    close(fd);
    if (r < 0) { errno = e; return NULL; }
    buf[n] = 0;
    return buf;
}

static void file_field(const char *k, const char *path) {
    char *s = slurp(path);
    if (s) kv_s(k, s);
    else { open_obj(k); kv_i("errno", errno); close_obj(); }
}

static void ids(void) {
    kv_i("uid", getuid()); kv_i("gid", getgid());
    kv_i("euid", geteuid()); kv_i("egid", getegid());
    gid_t g[256];
    int n = getgroups(256, g);
    open_arr("groups");
    for (int i = 0; i < n; i++) { item_sep(); printf("%u", g[i]); }
    close_arr();
    mode_t m = umask(0); umask(m);
    kv_i("umask", m);
    kv_i("pid", getpid()); kv_i("ppid", getppid());
}

static void where(void) {
    char cwd[4096];
    kv_s("cwd", getcwd(cwd, sizeof cwd));
    open_arr("env");
    for (char **e = environ; *e; e++) { item_sep(); str(*e); }
    close_arr();
    struct utsname u;
    uname(&u);
    kv_s("hostname", u.nodename);
    kv_s("domainname", u.domainname);
}

static void namespaces(void) {
    static const char *ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                               "time", "time_for_children", "user", "uts"};
    char p[64], t[128];
    open_obj("ns");
    for (unsigned i = 0; i < sizeof ns / sizeof *ns; i++) {
        snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
        ssize_t n = readlink(p, t, sizeof t - 1);
        if (n < 0) continue;
        t[n] = 0;
        kv_s(ns[i], t);
    }
    close_obj();
}

static void limits(void) {
    static const struct { const char *n; int r; } rl[] = {
        {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK}};
    open_obj("rlimits");
    for (unsigned i = 0; i < sizeof rl / sizeof *rl; i++) {
        struct rlimit r;
        getrlimit(rl[i].r, &r);
        open_obj(rl[i].n);
        kv_u("soft", r.rlim_cur); kv_u("hard", r.rlim_max);
        close_obj();
    }
    close_obj();
}

struct sched_attr_k {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

static void scheduling(void) {
    struct sched_attr_k a;
    memset(&a, 0, sizeof a);
    open_obj("sched");
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0) {
        kv_i("policy", a.policy); kv_u("flags", a.flags); kv_i("nice", a.nice);
        kv_i("priority", a.priority); kv_u("runtime", a.runtime);
        kv_u("deadline", a.deadline); kv_u("period", a.period);
    } else kv_i("errno", errno);
    close_obj();
    long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
    open_obj("ioprio");
    kv_i("class", io >= 0 ? io >> 13 : -1); kv_i("priority", io >= 0 ? io & 0xff : -1);
    close_obj();
    cpu_set_t set;
    open_arr("affinity");
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) { item_sep(); printf("%d", c); }
    close_arr();
    kv_i("personality", personality(0xffffffff));
    int mode = -1;
    unsigned long nodes[16] = {0};
    open_obj("mempolicy");
    if (syscall(SYS_get_mempolicy, &mode, nodes, 1024UL, 0, 0UL) == 0) {
        kv_i("mode", mode); kv_u("nodes", nodes[0]);
    } else kv_i("errno", errno);
    close_obj();
}

static void fds(void) {
    open_obj("fds");
    DIR *d = opendir("/proc/self/fd");
    int self = d ? dirfd(d) : -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
        char p[300], t[4096];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, t, sizeof t - 1);
        t[n < 0 ? 0 : n] = 0;
        kv_s(e->d_name, t);
    }
    if (d) closedir(d);
    close_obj();
}

static void terminal(void) {
    open_obj("tty");
    for (int fd = 0; fd < 3; fd++) {
        char k[8];
        snprintf(k, sizeof k, "%d", fd);
        if (!isatty(fd)) { kv_s(k, NULL); continue; }
        kv_s(k, ttyname(fd));
    }
    struct winsize w;
    if (ioctl(0, TIOCGWINSZ, &w) == 0) { kv_i("rows", w.ws_row); kv_i("cols", w.ws_col); }
    close_obj();
}

static void clocks(void) {
    struct timespec m, b;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_BOOTTIME, &b);
    open_obj("clocks");
    kv_i("monotonic", m.tv_sec); kv_i("boottime", b.tv_sec);
    close_obj();
}

static void stat_one(const char *path) {
    struct stat st;
    open_obj(path);
    if (lstat(path, &st) != 0) { kv_i("errno", errno); close_obj(); return; }
    const char *t = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
                  : S_ISCHR(st.st_mode) ? "c" : S_ISBLK(st.st_mode) ? "b"
                  : S_ISFIFO(st.st_mode) ? "p" : S_ISLNK(st.st_mode) ? "link" : "other";
    kv_s("type", t);
    kv_i("mode", st.st_mode & 07777);
    kv_i("uid", st.st_uid); kv_i("gid", st.st_gid);
    kv_i("major", major(st.st_rdev)); kv_i("minor", minor(st.st_rdev));
    kv_i("size", st.st_size);
    if (S_ISLNK(st.st_mode)) {
        char t2[4096];
        ssize_t n = readlink(path, t2, sizeof t2 - 1);
        t2[n < 0 ? 0 : n] = 0;
        kv_s("target", t2);
    }
    close_obj();
}

static long syscall32(long nr, long a0, long a1) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
    return ret;
}

/* --syscall getpid=39 runs syscall 39 and reports its return and errno. */
static void do_syscall(const char *spec, int compat) {
    char name[64];
    long nr = 0, a[2] = {0, 0};
    const char *eq = strchr(spec, '=');
    if (!eq || eq - spec >= (long)sizeof name) return;
    memcpy(name, spec, eq - spec);
    name[eq - spec] = 0;
    sscanf(eq + 1, "%li:%li:%li", &nr, &a[0], &a[1]);
    open_obj(name);
    if (compat) {
        long r = syscall32(nr, a[0], a[1]);
        kv_i("ret", r < 0 && r > -4096 ? -1 : r);
        kv_i("errno", r < 0 && r > -4096 ? -r : 0);
    } else {
        errno = 0;
        long r = syscall(nr, a[0], a[1]);
        kv_i("ret", r); kv_i("errno", r < 0 ? errno : 0);
    }
    close_obj();
}

int main(int argc, char **argv) {
    int code = 0;
    first = 1;
    putchar('{');
    ids();
    where();
    namespaces();
    limits();
    scheduling();
    fds();
    terminal();
    clocks();
    file_field("status", "/proc/self/status");
    file_field("mountinfo", "/proc/self/mountinfo");
    file_field("cgroup", "/proc/self/cgroup");
    file_field("oom_score_adj", "/proc/self/oom_score_adj");
    file_field("uid_map", "/proc/self/uid_map");
    file_field("gid_map", "/proc/self/gid_map");
    file_field("setgroups", "/proc/self/setgroups");
    kv_i("dumpable", prctl(PR_GET_DUMPABLE));
    open_obj("files");
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--read")) file_field(argv[i + 1], argv[i + 1]);
    close_obj();
    open_obj("stats");
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--stat")) stat_one(argv[i + 1]);
    close_obj();
    open_obj("writes");
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--write")) continue;
        int fd = open(argv[i + 1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        int e = fd < 0 ? errno : (write(fd, "x", 1) == 1 ? 0 : errno);
        if (fd >= 0) close(fd);
        kv_i(argv[i + 1], e);
    }
    close_obj();
    open_obj("syscalls");
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--syscall")) do_syscall(argv[i + 1], 0);
        if (!strcmp(argv[i], "--syscall32")) do_syscall(argv[i + 1], 1);
    }
    close_obj();
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--exit")) code = atoi(argv[i + 1]);
    puts("}");
    fflush(stdout);
    return code;
}
