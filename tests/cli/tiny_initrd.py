# SPDX-License-Identifier: MIT
"""A tiny initramfs for boot proofs: a static /init that prints the kernel
command line and a marker on the console, then powers the machine off.

    path = build_initrd("x86_64", workdir)   # or "aarch64"
    # on the console: "bootpack-init: cmdline=[...]" then MARKER[arch]

/init is a C program built here with the distribution's compilers (gcc for
x86_64, aarch64-linux-gnu-gcc for aarch64; -static, so the archive needs
nothing else). The archive is an uncompressed newc cpio written by Python:
the directories /dev and /proc, the character device /dev/console (5:1,
which the kernel opens as init's stdin/stdout/stderr) and /init. Fixed
owner, modes and mtimes: the same program gives the same archive.
"""

import re
import shutil
import subprocess
from pathlib import Path

COMPILERS = {"x86_64": ("gcc", "gcc libc6-dev"),
             "aarch64": ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross")}
# What /init prints last, per architecture: the kernel never prints it.
MARKER = {arch: f"bootpack-init: {arch} /init ran, powering off" for arch in COMPILERS}
CMDLINE_PREFIX = "bootpack-init: cmdline=["

INIT_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

int main(void)
{
	static char cmdline[4096], out[8192];
	ssize_t n = -1;
	int fd, con = open("/dev/console", O_WRONLY | O_NOCTTY);

	if (con < 0)
		con = 1;
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL) == 0 &&
	    (fd = open("/proc/cmdline", O_RDONLY)) >= 0) {
		n = read(fd, cmdline, sizeof(cmdline) - 1);
		close(fd);
	}
	if (n < 0) {
		snprintf(out, sizeof(out), "bootpack-init: cannot read /proc/cmdline\n");
	} else {
		/* The kernel ends /proc/cmdline with a newline. */
		while (n > 0 && (cmdline[n - 1] == '\n' || cmdline[n - 1] == '\0'))
			n--;
		cmdline[n] = '\0';
		/* One write: the kernel's own lines do not get in between. */
		snprintf(out, sizeof(out), "%s%s]\n%s\n", CMDLINE_PREFIX, cmdline, MARKER);
	}
	put(con, out, strlen(out));
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
"""


def missing_compilers(arch):
    """What is missing to build /init for @arch (empty when ready)."""
    cc, pkgs = COMPILERS[arch]
    return [] if shutil.which(cc) else [f"{cc} (apt-get install {pkgs})"]


def _c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_init(arch, out, workdir):
    """Compile the static /init for @arch into @out. Raises
    subprocess.CalledProcessError (with the compiler's output) on failure."""
    src = Path(workdir) / f"init-{arch}.c"
    src.write_text(INIT_C)
    cc = COMPILERS[arch][0]
    subprocess.run([cc, "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror",
                    f"-DMARKER={_c_string(MARKER[arch])}",
                    f"-DCMDLINE_PREFIX={_c_string(CMDLINE_PREFIX)}",
                    "-o", str(out), str(src)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _newc(name, mode, data=b"", rdev=(0, 0), ino=0):
    """One newc cpio member: header, NUL-terminated name and data, each
    padded to 4 bytes."""
    fields = [ino, mode, 0, 0, 1 if mode & 0o170000 != 0o040000 else 2, 0, len(data),
              0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    head += bytes(-len(head) % 4)
    return head + data + bytes(-len(data) % 4)


def write_cpio(out, init_bytes):
    members = [(".", 0o040755, b"", (0, 0)),
               ("dev", 0o040755, b"", (0, 0)),
               ("dev/console", 0o020600, b"", (5, 1)),
               ("proc", 0o040555, b"", (0, 0)),
               ("init", 0o100755, init_bytes, (0, 0))]
    blob = b"".join(_newc(n, m, d, r, ino=i + 1) for i, (n, m, d, r) in enumerate(members))
    blob += _newc("TRAILER!!!", 0)
    Path(out).write_bytes(blob)


def build_initrd(arch, workdir):
    """@workdir/initrd-@arch.cpio holding a freshly built /init; its path."""
    workdir = Path(workdir)
    init = workdir / f"init-{arch}"
    build_init(arch, init, workdir)
    out = workdir / f"initrd-{arch}.cpio"
    write_cpio(out, init.read_bytes())
    return out


def done_pattern(arch):
    """The console line /init prints last, as a regex for qemu_efi.boot_uki()."""
    return re.compile(re.escape(MARKER[arch].encode()) + rb"\r?\n")


def printed_cmdlines(console):
    """The command lines /init printed on @console (text), in order."""
    return re.findall(re.escape(CMDLINE_PREFIX) + r"(.*)\]\n", console)
