/* The SELinux labels busybox cannot show, for scripts/vm/selinux.sh (static, in the VM):
 *   selabel file PATH   the security.selinux xattr of PATH (not following a last symlink)
 *   selabel keyring     the label of the caller's session keyring (KEYCTL_GET_SECURITY)
 * Prints the label (without its trailing NUL) and a newline; exits 1 with the error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define KEYCTL_GET_SECURITY 17
#define KEY_SPEC_SESSION_KEYRING (-3)

int main(int argc, char **argv) {
  char buf[4096];
  long n;
  if (argc == 3 && strcmp(argv[1], "file") == 0) {
    n = lgetxattr(argv[2], "security.selinux", buf, sizeof buf - 1);
  } else if (argc == 2 && strcmp(argv[1], "keyring") == 0) {
    n = syscall(SYS_keyctl, KEYCTL_GET_SECURITY, KEY_SPEC_SESSION_KEYRING, buf, sizeof buf - 1);
  } else {
    fprintf(stderr, "usage: selabel file PATH | selabel keyring\n");
    return 2;
  }
  if (n < 0) {
    fprintf(stderr, "selabel: %s\n", strerror(errno));
    return 1;
  }
  if (n > (long)sizeof buf - 1) n = sizeof buf - 1;
  buf[n] = 0;
  printf("%s\n", buf);
  return 0;
}
