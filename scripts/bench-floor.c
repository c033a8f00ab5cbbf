/*
 * The physical floor for scripts/bench: the least work that starts a
 * container from a bundle's rootfs, with no runtime in between.
 *
 *   bench-floor ROOTFS [NAMESPACE...]
 *
 * NAMESPACE is an OCI namespace type (pid network ipc uts mount cgroup user);
 * scripts/bench passes the ones in the bundle's config.json. The program
 * clones a child into those namespaces, and the child makes its mounts
 * private, bind-mounts ROOTFS onto itself, pivot_roots into it, detaches the
 * old root and execs /bin/true. The parent waits and exits with the child's
 * status. No cgroups, no /proc, no devices, no seccomp, no state: whatever a
 * runtime costs above this is the runtime's own work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "bench-floor: %s: %s\n", what, strerror(errno));
	_exit(127);
}

static int ns_flag(const char *name)
{
	static const struct {
		const char *name;
		int flag;
	} table[] = {
		{ "pid", CLONE_NEWPID },   { "network", CLONE_NEWNET },
		{ "ipc", CLONE_NEWIPC },   { "uts", CLONE_NEWUTS },
		{ "mount", CLONE_NEWNS },  { "cgroup", CLONE_NEWCGROUP },
		{ "user", CLONE_NEWUSER },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].flag;
	fprintf(stderr, "bench-floor: unknown namespace %s\n", name);
	exit(2);
}

/* Runs in the child: enter ROOTFS the way a runtime does, then exec. */
static void enter_rootfs_and_exec(const char *rootfs, int has_mount_ns)
{
	if (has_mount_ns) {
		/* Keep our pivot_root from propagating back to the host. */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			die("make / private");
		/* pivot_root needs the new root to be a mount point. */
		if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			die("bind rootfs");
		if (chdir(rootfs) < 0)
			die("chdir rootfs");
		/* pivot_root(".", ".") stacks the old root on top of the new one. */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			die("pivot_root");
		if (umount2(".", MNT_DETACH) < 0)
			die("detach old root");
	} else if (chroot(rootfs) < 0) {
		die("chroot");
	}
	if (chdir("/") < 0)
		die("chdir /");
	char *const argv[] = { "/bin/true", NULL };
	char *const envp[] = { "PATH=/bin", NULL };
	execve(argv[0], argv, envp);
	die("exec /bin/true");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s ROOTFS [NAMESPACE...]\n", argv[0]);
		return 2;
	}
	int flags = 0;
	for (int i = 2; i < argc; i++)
		flags |= ns_flag(argv[i]);

	/* clone without a new stack behaves like fork, so the child can simply
	 * return from the syscall and carry on in this function. */
	long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		die("clone");
	if (pid == 0)
		enter_rootfs_and_exec(argv[1], flags & CLONE_NEWNS);

	int status;
	if (waitpid((pid_t)pid, &status, 0) < 0)
		die("waitpid");
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
