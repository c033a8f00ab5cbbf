/*
 * What an engine's shim does around a container, for scripts/bench's
 * create → start → wait → delete row:
 *
 *   bench-reap CMD1... ';' CMD2... ';' ... ';' LAST...
 *
 * The program makes itself a child subreaper (as containerd-shim and
 * conmon do), runs each command but the last in turn (each must exit 0),
 * then waits until every orphan it inherited has exited and reaps it:
 * the container's init, which create left behind and start released.
 * Then it runs LAST (the plain `delete`, which must find the container
 * stopped) and exits with its status. Commands are execvp'd, no shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "bench-reap: %s: %s\n", what, strerror(errno));
	_exit(127);
}

/* Run argv to completion; its exit status. */
static int run(char **argv)
{
	int status;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execvp(argv[0], argv);
		die(argv[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	char **cmd = argv + 1;
	int i, rc;
	if (argc < 2) {
		fprintf(stderr, "usage: bench-reap CMD... ';' ... ';' LAST...\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("PR_SET_CHILD_SUBREAPER");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], ";") != 0)
			continue;
		argv[i] = NULL;
		rc = run(cmd);
		if (rc != 0) {
			fprintf(stderr, "bench-reap: %s exited %d\n", cmd[0], rc);
			return rc;
		}
		cmd = argv + i + 1;
	}
	/* Every orphan (the container's init) has exited and is reaped. */
	while (wait(NULL) >= 0 || errno == EINTR)
		;
	if (errno != ECHILD)
		die("wait");
	return run(cmd);
}
