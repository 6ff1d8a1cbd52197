# SPDX-License-Identifier: MIT
"""Fixtures for bootpack's CLI and interoperability tests.

Run with Debian's Python (it has python3-pytest and python3-libfdt):

    /usr/bin/python3 -m pytest tests/cli

Environment (set by meson's test(); otherwise derived from the repo):
    BOOTPACK          the bootpack binary     (default: build/src/bootpack)
    BOOTPACK_SAMPLES  samples build dir       (default: build/samples)
    BOOTPACK_CACHE    corpus cache            (default: ~/.cache/bootpack)

Missing tools, binaries, samples or corpus make tests fail, never skip.

Every bootpack run through subprocess.run (conftest.run or a test's own
helper) is guarded: each input file it names (arguments other than the -o
target, @FILE argument files and the paths inside them, -T lists) is hashed
before and after, and a changed input fails the test.
"""

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fitcompare import Fit  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
FETCH_CORPUS = REPO / "scripts" / "fetch-corpus"

COMPRESSIONS = ["none", "gzip", "bzip2", "lz4", "lzma", "lzo", "zstd"]
MODES = ["embedded", "external"]

# Everything the reference script, the checks and the fixtures call.
REQUIRED_TOOLS = [
    "mkimage", "dumpimage", "fdtdump", "dtc", "fdtoverlay",
    "gzip", "bzip2", "lz4", "lzma", "xz", "lzop", "zstd",
]

ARCH_ARGS = ["-A", "arm64", "-O", "linux", "-n", "Linux-6.1.0-bootpack-test"]

SAMPLE_DTBS = ["demo-a.dtb", "demo-b.dtb", "demo-c.dtb", "demo-d.dtb", "demo-a-overlay.dtb"]
SAMPLE_FILES = SAMPLE_DTBS + ["demo-overlay.dtbo", "Image"]


def default_basetemp():
    """BUILD/pytest-tmp for the build whose bootpack is under test: what tests
    write stays out of /tmp and goes with the build directory."""
    mine = os.environ.get("BOOTPACK")
    build = Path(mine).resolve().parents[1] if mine else REPO / "build"
    return build / "pytest-tmp"


# tryfirst: before pytest's tmpdir plugin reads --basetemp.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "corpus: uses the real Debian kernel/DTB corpus (slow)")
    subprocess.run = _guarded_run
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = str(default_basetemp())


def pytest_collection_modifyitems(session, config, items):
    """Tests that need the zboot kernels (or the kept kbuild-6.12 tree) run
    last. On an empty cache `make check` builds those kernels in the
    background meanwhile (about ten minutes of both cores); a worker that
    reaches such a test early would sit waiting for them instead of running
    everything else first."""
    last = {"zboot_kernels", "kbuild_tree"}
    items.sort(key=lambda item: bool(last & set(getattr(item, "fixturenames", ()))))


def pytest_sessionfinish(session, exitstatus):
    """A green run leaves nothing behind; a failed one keeps its files."""
    config = session.config
    if exitstatus == 0 and config.option.basetemp and not hasattr(config, "workerinput"):
        shutil.rmtree(config.option.basetemp, ignore_errors=True)


# --------------------------------------------------------------------------
# Inputs are never modified: hash them around every bootpack run.

_real_run = subprocess.run
# --key-out: the control devicetree fit sign adds its key to (an output, in place).
OUTPUT_OPTIONS = ("-o", "--output", "--key-out")


def _is_bootpack(argv0):
    name = os.fsdecode(argv0)
    if os.path.basename(name) != "bootpack":
        return False
    mine = os.environ.get("BOOTPACK")
    return not mine or os.path.realpath(name) == os.path.realpath(mine)


def _listed_paths(path, how):
    """Paths named inside an @FILE (shell-like quoting) or a -T list (lines)."""
    try:
        if path.stat().st_size > (1 << 20):
            return []
        text = path.read_text(errors="replace")
        return shlex.split(text) if how == "@" else text.splitlines()
    except (OSError, ValueError):
        return []


def _input_files(args, cwd):
    base = Path(cwd) if cwd else Path.cwd()
    names, outputs, prev = [], set(), None
    for a in args:
        a = os.fsdecode(a) if isinstance(a, bytes) else str(a)
        if prev in OUTPUT_OPTIONS:
            outputs.add(os.path.realpath(base / a))
        else:
            names.append(a)
            if a.startswith("@"):
                names += [n for n in _listed_paths(base / a[1:], "@")]
            if prev in ("-T", "--files-from"):
                names += _listed_paths(base / a, "T")
        prev = a
    files = set()
    for n in names:
        p = base / (n[1:] if n.startswith("@") else n)
        # An input named as the output too is the output's business.
        if n and p.is_file() and os.path.realpath(p) not in outputs:
            files.add(p)
    return files


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _guarded_run(*popenargs, **kwargs):
    cmd = popenargs[0] if popenargs else kwargs.get("args")
    if isinstance(cmd, (list, tuple)) and cmd and _is_bootpack(cmd[0]):
        before = {p: _digest(p) for p in _input_files(cmd[1:], kwargs.get("cwd"))}
        proc = _real_run(*popenargs, **kwargs)
        changed = [str(p) for p, h in before.items() if not p.is_file() or _digest(p) != h]
        shown = " ".join(os.fsdecode(c) if isinstance(c, bytes) else str(c) for c in cmd)
        assert not changed, f"bootpack modified its input(s) {', '.join(changed)}: {shown}"
        return proc
    return _real_run(*popenargs, **kwargs)


def run(cmd, cwd=None, env=None, check=True, timeout=1800, stdin=None):
    """Run a command, capturing output; fail the test with details on error."""
    cmd = [str(c) for c in cmd]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        pytest.fail(f"cannot run {cmd[0]}: {exc}")
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {timeout}s: {' '.join(cmd)}")
    proc.elapsed = time.monotonic() - start
    if check and proc.returncode != 0:
        pytest.fail(f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                    f"cwd: {cwd}\nstdout:\n{proc.stdout.decode(errors='replace')[-4000:]}\n"
                    f"stderr:\n{proc.stderr.decode(errors='replace')[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def tools():
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail("required tools missing: " + ", ".join(missing) +
                    " (apt-get install u-boot-tools device-tree-compiler gzip bzip2 lz4 "
                    "xz-utils lzop zstd)")
    return {t: shutil.which(t) for t in REQUIRED_TOOLS}


def built_program(env_var, default, what, hint):
    """A program of the build: $env_var, else @default; fails the test if absent."""
    path = Path(os.environ.get(env_var) or default)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{what} not found at {path} ({hint})")
    return path.resolve()


def bootpack_path():
    return built_program("BOOTPACK", REPO / "build" / "src" / "bootpack", "bootpack binary",
                         "meson setup build && ninja -C build")


@pytest.fixture(scope="session")
def bootpack():
    return bootpack_path()


def pe_gen_path():
    """The synthetic PE generator (tests/unit/pe_gen_main.c)."""
    return built_program("BOOTPACK_PE_GEN", REPO / "build" / "tests" / "pe-gen", "pe-gen",
                         "ninja -C build")


@pytest.fixture(scope="session")
def pe_gen():
    return pe_gen_path()


@pytest.fixture(scope="session")
def samples():
    path = Path(os.environ.get("BOOTPACK_SAMPLES") or REPO / "build" / "samples")
    missing = [f for f in SAMPLE_FILES if not (path / f).is_file()]
    if missing:
        pytest.fail(f"sample files missing in {path}: {', '.join(missing)} (ninja -C build)")
    return path.resolve()


def _fetch(*args):
    proc = subprocess.run([str(FETCH_CORPUS), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        pytest.fail(f"scripts/fetch-corpus {' '.join(args)} failed (exit {proc.returncode}):\n"
                    f"{proc.stderr.decode(errors='replace')[-4000:]}")
    lines = proc.stdout.decode().strip().splitlines()
    if not lines:
        pytest.fail("scripts/fetch-corpus printed no cache path")
    return Path(lines[-1])


@pytest.fixture(scope="session")
def make_fit_py(tools):
    """The reference scripts/make_fit.py from linux-source-6.12."""
    path = _fetch("--ref-only") / "ref" / "make_fit.py"
    if not path.is_file():
        pytest.fail(f"{path} missing after fetch-corpus")
    return path


@pytest.fixture(scope="session")
def corpus(tools):
    """The real-data corpus directory (Image, dtbs/, dtbs-list, initrd.img)."""
    path = _fetch() / "corpus"
    for f in ("Image", "dtbs-list", "initrd.img", "PACKAGE"):
        if not (path / f).is_file():
            pytest.fail(f"corpus incomplete: {path / f} missing")
    return path


class Dataset:
    """A kernel plus an ordered DTB list (given to both tools as @LIST)."""

    def __init__(self, name, kernel, list_file, cwd):
        self.name = name
        self.kernel = Path(kernel)
        self.list_file = Path(list_file)
        self.cwd = Path(cwd)
        text = (self.cwd / self.list_file).read_text()  # list_file may be relative to cwd
        self.entries = [line for line in text.splitlines() if line]

    @property
    def dtbs(self):
        """DTB files in list order, as the tools keep them (non-.dtb skipped)."""
        return [self.cwd / e for e in self.entries if os.path.splitext(e)[1] == ".dtb"]


@pytest.fixture(scope="session")
def sample_set(samples, tmp_path_factory):
    d = tmp_path_factory.mktemp("sample-set")
    lst = d / "dtbs-list"
    # The .dtbo is listed like Kbuild lists overlays; both tools must skip it.
    names = ["demo-a.dtb", "demo-b.dtb", "demo-overlay.dtbo", "demo-c.dtb",
             "demo-d.dtb", "demo-a-overlay.dtb"]
    lst.write_text("".join(f"{samples / n}\n" for n in names))
    return Dataset("samples", samples / "Image", lst, d)


@pytest.fixture(scope="session")
def sample_ramdisk(tmp_path_factory):
    """Deterministic 300 KiB of mixed text and pseudo-random bytes."""
    path = tmp_path_factory.mktemp("ramdisk") / "initrd.img"
    chunks, h = [], b"bootpack-ramdisk"
    while sum(map(len, chunks)) < 300 * 1024:
        h = hashlib.sha256(h).digest()
        chunks.append(h if h[0] & 1 else b"bootpack ramdisk text " * 4)
    path.write_bytes(b"".join(chunks)[:300 * 1024 + 5])  # odd size on purpose
    return path


@pytest.fixture(scope="session")
def corpus_set(corpus):
    return Dataset("corpus", corpus / "Image", corpus / "dtbs-list", corpus)


def build_args(ds, out, comp, external, extra=()):
    args = ["-o", out, *ARCH_ARGS, "-k", ds.kernel, "-c", comp]
    if external:
        args.append("-E")
    args += list(extra)
    args.append(f"@{ds.list_file}")
    return [str(a) for a in args]


# --------------------------------------------------------------------------
# Outputs shared between tests, pytest-xdist workers and runs.

def cache_root():
    return Path(os.environ.get("BOOTPACK_CACHE") or Path.home() / ".cache" / "bootpack")


def session_dir(tmp_path_factory):
    """A directory every xdist worker of this session shares (the base temp
    directory; a worker's own is a subdirectory of it, popen-gwN)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    d = base / "shared"
    d.mkdir(exist_ok=True)
    return d


@contextlib.contextmanager
def file_lock(path):
    """An exclusive fcntl lock on @path (created), e.g. between xdist workers."""
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def produce_once(path, make):
    """@path, made by make(tmp) (which writes tmp) unless it exists: the first
    process to get the lock makes it, the others wait and reuse it."""
    path = Path(path)
    if path.is_file():
        return path
    with file_lock(path.with_name(path.name + ".lock")):
        if not path.is_file():
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            make(tmp)
            os.replace(tmp, path)
    return path


_digests = {}


def file_digest(path):
    """sha256 of @path, remembered by (path, size, mtime)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        _digests[key] = _digest(path).hex()
    return _digests[key]


_tool_versions = None

# What make_fit.py's output depends on besides its inputs: the script, the
# compressors and mkimage it runs (pigz replaces gzip when installed).
REF_PACKAGES = ["u-boot-tools", "gzip", "pigz", "bzip2", "lz4", "xz-utils", "lzop", "zstd",
                "python3-libfdt", "python3"]


def tool_versions():
    global _tool_versions
    if _tool_versions is None:
        proc = _real_run(["dpkg-query", "-W", *REF_PACKAGES], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=False)
        _tool_versions = proc.stdout.decode()
    return _tool_versions


REF_CACHE_DAYS = 30


def prune_ref_cache(d):
    """Drop cached references not used for REF_CACHE_DAYS (inputs change)."""
    old = time.time() - REF_CACHE_DAYS * 86400
    for p in [*d.glob("*.fit"), *d.glob("*.fit.lock")]:
        try:
            if p.stat().st_mtime < old:
                p.unlink()
        except OSError:
            pass


class FitFactory:
    """Builds FITs with make_fit.py and bootpack, once per distinct input.

    Reference outputs (make_fit.py) are kept across runs in
    $BOOTPACK_CACHE/ref-fits, keyed by a hash of everything they depend on
    (script, kernel and DTB bytes, list order, options, tool versions); on a
    warm cache make_fit.py does not run at all. bootpack's outputs are built
    once per session and shared by the xdist workers (never across runs: they
    are what is under test)."""

    def __init__(self, tmpdir, make_fit_path, ref_dir):
        self.tmpdir = Path(tmpdir)
        self.make_fit_path = make_fit_path
        self.ref_dir = Path(ref_dir)
        self._cache = {}
        self.timings = {}

    def _out(self, tag):
        return self.tmpdir / (tag.replace("/", "_") + ".fit")

    @staticmethod
    def _ds_key(ds):
        """The dataset's content: kernel and DTB bytes, list entries in order."""
        h = hashlib.sha256(file_digest(ds.cwd / ds.kernel).encode())
        for e in ds.entries:
            h.update(e.encode() + b"\0")
        for p in ds.dtbs:
            h.update(file_digest(p).encode())
        return h.hexdigest()

    def _ref_key(self, ds, comp, external):
        h = hashlib.sha256()
        for part in ("ref-fit 1", file_digest(self.make_fit_path), tool_versions(),
                     # the list file's name does not matter, its entries do
                     " ".join(build_args(ds, "OUT", comp, external)).replace(
                         str(ds.list_file), "LIST"),
                     self._ds_key(ds)):
            h.update(part.encode() + b"\0")
        return h.hexdigest()[:32]

    def reference(self, ds, comp, external):
        """Output of the reference make_fit.py (it runs mkimage -E -F for -E)."""
        key = ("ref", ds.name, comp, external)
        if key not in self._cache:
            def make(out):
                proc = run([SYSTEM_PYTHON, self.make_fit_path,
                            *build_args(ds, out, comp, external)], cwd=ds.cwd)
                self.timings[key] = proc.elapsed
            name = f"{ds.name}-{comp}-{'E' if external else 'e'}-{self._ref_key(ds, comp, external)}"
            path = produce_once(self.ref_dir / f"{name}.fit", make)
            os.utime(path)  # in use: keep it from prune_ref_cache
            self._cache[key] = path
        return self._cache[key]

    def bootpack(self, ds, comp, external, extra=(), env=None):
        key = ("bootpack", ds.name, comp, external, tuple(extra), tuple(sorted((env or {}).items())))
        if key not in self._cache:
            tag = hashlib.sha256(repr((key, self._ds_key(ds))).encode()).hexdigest()[:16]

            def make(out):
                full_env = dict(os.environ, **(env or {}))
                proc = run([bootpack_path(), "fit", "build",
                            *build_args(ds, out, comp, external, extra)],
                           cwd=ds.cwd, env=full_env)
                self.timings[key] = proc.elapsed
            self._cache[key] = produce_once(
                self._out(f"bp-{ds.name}-{comp}-{int(external)}-{tag}"), make)
        return self._cache[key]


@pytest.fixture(scope="session")
def fits(tmp_path_factory, make_fit_py, tools):
    """Shared, caching builder: see FitFactory."""
    ref_dir = cache_root() / "ref-fits"
    ref_dir.mkdir(parents=True, exist_ok=True)
    prune_ref_cache(ref_dir)
    shared = session_dir(tmp_path_factory) / "fits"
    shared.mkdir(exist_ok=True)
    return FitFactory(shared, make_fit_py, ref_dir)


def load(path):
    return Fit.load(path)


# --------------------------------------------------------------------------
# Real arm64 EFI zboot kernels (vmlinuz.efi, CONFIG_EFI_ZBOOT), built from
# Debian's linux-source-6.1/-6.12 by scripts/build-zboot-kernels and cached in
# ${BOOTPACK_CACHE}/zboot (a no-op once the cache is complete).

from typing import NamedTuple  # noqa: E402

BUILD_ZBOOT = REPO / "scripts" / "build-zboot-kernels"

# (kernel version, compression name as the zboot header spells it at 0x18)
ZBOOT_BUILDS = ([("6.1", c) for c in ("gzip", "lz4", "lzma", "lzo", "xzkern", "zstd22")] +
                [("6.12", c) for c in ("gzip", "zstd")])


class ZbootKernel(NamedTuple):
    version: str      # "6.1" or "6.12"
    compression: str  # kernel name: gzip lz4 lzma lzo xzkern zstd22 (6.1), gzip zstd (6.12)
    efi: Path         # vmlinuz.efi
    image: Path       # arch/arm64/boot/Image, the uncompressed kernel
    config: Path      # the final .config
    build_info: Path  # BUILD-INFO ("key: value" lines)

    def info(self):
        """BUILD-INFO as a dict (package, config-sha256, zimg-payload-offset, ...)."""
        out = {}
        for line in self.build_info.read_text().splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                out[key] = value
        return out


def say(config, text):
    """Show @text on the terminal now, even from an xdist worker and with
    output capture on: for waits that would otherwise look like a hang."""
    capman = config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()


def build_zboot(request, *names, what="the zboot kernels"):
    """Runs scripts/build-zboot-kernels [NAMES] (a no-op when cached; else it
    builds, or waits for the build `make check` started in the background,
    saying so) and returns the cache directory it prints."""
    ready = _real_run([str(BUILD_ZBOOT), "--cached", *names], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, check=False).returncode == 0
    if not ready:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        say(request.config, f"tests/cli: {test}: waiting for {what} "
            "(scripts/build-zboot-kernels; its progress lines are prefixed 'kernels:' "
            "under make check)")
    start = time.monotonic()
    try:
        proc = subprocess.run([str(BUILD_ZBOOT), *names], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False, timeout=3600)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scripts/build-zboot-kernels timed out after {exc.timeout}s:\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-4000:]}")
    if not ready:
        say(request.config, f"tests/cli: {what} ready after {time.monotonic() - start:.0f} s")
    if proc.returncode != 0:
        pytest.fail(f"scripts/build-zboot-kernels failed (exit {proc.returncode}):\n"
                    f"stderr:\n{proc.stderr.decode(errors='replace')[-4000:]}\n"
                    f"stdout:\n{proc.stdout.decode(errors='replace')[-1000:]}")
    lines = proc.stdout.decode().strip().splitlines()
    if not lines:
        pytest.fail("scripts/build-zboot-kernels printed no cache path")
    return Path(lines[-1])


@pytest.fixture(scope="session")
def zboot_kernels(request):
    """{("6.1", "gzip"): ZbootKernel(...), ...} for every kernel in ZBOOT_BUILDS.

    Runs scripts/build-zboot-kernels once per session; a full build from an
    empty cache takes about 10 minutes (see the script's header). `make check`
    starts that build in the background at its beginning; a test that needs
    the kernels before they are ready says so and waits for them.
    """
    zdir = build_zboot(request, *(f"{v}-{c}" for v, c in ZBOOT_BUILDS))
    kernels = {}
    for ver, comp in ZBOOT_BUILDS:
        d = zdir / f"{ver}-{comp}"
        k = ZbootKernel(ver, comp, d / "vmlinuz.efi", d / "Image", d / "config", d / "BUILD-INFO")
        missing = [p.name for p in (k.efi, k.image, k.config, k.build_info) if not p.is_file()]
        if missing:
            pytest.fail(f"zboot cache incomplete after build-zboot-kernels: {d}: "
                        f"{', '.join(missing)} missing")
        kernels[(ver, comp)] = k
    return kernels


# --------------------------------------------------------------------------
# systemd-boot's EFI binaries: x64 from the installed systemd-boot-efi, aa64
# from systemd-boot-efi:arm64 (scripts/fetch-corpus --efi-stubs, cached).

SDBOOT_X64_DIR = Path("/usr/lib/systemd/boot/efi")
EFI_STUB_NAMES = {"x64": ("linuxx64.efi.stub", "systemd-bootx64.efi"),
                  "aa64": ("linuxaa64.efi.stub", "systemd-bootaa64.efi")}


@pytest.fixture(scope="session")
def efi_stubs():
    """{"linuxx64.efi.stub": Path, "systemd-bootx64.efi": ..., and the aa64 pair}."""
    dirs = {"x64": SDBOOT_X64_DIR, "aa64": _fetch("--efi-stubs") / "efi-stubs" / "arm64"}
    out = {}
    for arch, names in EFI_STUB_NAMES.items():
        for n in names:
            p = dirs[arch] / n
            if not p.is_file():
                pytest.fail(f"{p} missing" + (" (apt-get install systemd-boot-efi)"
                                              if arch == "x64" else " after fetch-corpus"))
            out[n] = p
    return out


# --------------------------------------------------------------------------
# The UKI boot proof: Debian's amd64 kernel (scripts/fetch-corpus
# --amd64-kernel, cached) and a tiny initramfs per architecture (a static
# /init built here, tests/cli/tiny_initrd.py).

@pytest.fixture(scope="session")
def amd64_kernel():
    """Debian's signed x86_64 vmlinuz (a bzImage with an EFI stub)."""
    d = _fetch("--amd64-kernel") / "kernels" / "amd64"
    for f in ("vmlinuz", "PACKAGE"):
        if not (d / f).is_file():
            pytest.fail(f"amd64 kernel cache incomplete: {d / f} missing after fetch-corpus")
    return d / "vmlinuz"


@pytest.fixture(scope="session")
def tiny_initrd(tmp_path_factory):
    """tiny_initrd(arch) -> Path of a newc cpio whose /init prints the kernel
    command line and a marker, then powers off; arch "x86_64" or "aarch64".
    Built once per session (shared by the xdist workers)."""
    import tiny_initrd as ti
    shared = session_dir(tmp_path_factory) / "tiny-initrd"
    shared.mkdir(exist_ok=True)

    def get(arch):
        missing = ti.missing_compilers(arch)
        if missing:
            pytest.fail(f"cannot build /init for {arch}; missing: {'; '.join(missing)}")

        def make(out):
            work = tmp_path_factory.mktemp(f"tiny-initrd-{arch}")
            try:
                built = ti.build_initrd(arch, work)
            except subprocess.CalledProcessError as exc:
                pytest.fail(f"building /init for {arch} failed: {' '.join(exc.cmd)}\n"
                            f"{exc.stdout.decode(errors='replace')[-4000:]}")
            shutil.copyfile(built, out)
        return produce_once(shared / f"initrd-{arch}.cpio", make)

    return get
