# SPDX-License-Identifier: MIT
"""bootpack fit build against the kernel's scripts/make_fit.py (6.12).

Both tools get identical arguments (DTBs through an @dtbs-list file, as
Kbuild passes them) and the resulting trees must match node for node and
property for property (see fitcompare.py for what is compared how).
"""

import os
import shutil
from pathlib import Path

import pytest

from conftest import (ARCH_ARGS, COMPRESSIONS, MODES, REPO, SYSTEM_PYTHON, Dataset,
                      bootpack_path, build_args, run)
from fitcompare import Fit, FitMismatch, compare_fits, decode_str


def assert_same(ref_path, out_path, **kw):
    ref, out = Fit.load(ref_path), Fit.load(out_path)
    try:
        compare_fits(ref, out, **kw)
    except FitMismatch as exc:
        pytest.fail(f"bootpack output differs from reference:\n  reference: {ref_path}\n"
                    f"  bootpack:  {out_path}\n{exc}", pytrace=False)
    return ref, out


# --------------------------------------------------------------------------
# Samples and corpus, every compression, embedded and external

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", COMPRESSIONS)
def test_samples(fits, sample_set, comp, mode):
    external = mode == "external"
    ref = fits.reference(sample_set, comp, external)
    out = fits.bootpack(sample_set, comp, external)
    _, fit = assert_same(ref, out)
    # sanity: the .dtbo in the list was skipped, everything else is there
    assert [n.name for n in fit.images()] == ["kernel"] + [
        f"fdt-{i + 1}" for i in range(len(sample_set.dtbs))]


# lzma at preset 6 is the slow one (about a minute per corpus FIT under
# ASan, most of it liblzma setting up an 8 MiB dictionary per DTB); its
# external layout is the same code as every other codec's and is compared on
# the samples above, so the corpus runs it embedded only.
CORPUS_CASES = [(c, m) for c in COMPRESSIONS for m in MODES
                if (c, m) != ("lzma", "external")]


@pytest.mark.corpus
@pytest.mark.parametrize("comp,mode", CORPUS_CASES)
def test_corpus(fits, corpus_set, comp, mode):
    external = mode == "external"
    ref = fits.reference(corpus_set, comp, external)
    out = fits.bootpack(corpus_set, comp, external)
    _, fit = assert_same(ref, out)
    assert len(fit.images()) == 1 + len(corpus_set.dtbs)


# --------------------------------------------------------------------------
# Command-line forms

def test_kbuild_long_options(fits, sample_set, tmp_path, tools):
    """The exact option spelling of Kbuild's cmd_fit (long options, quoted name)."""
    outs = {}
    for tool in ("ref", "bootpack"):
        out = tmp_path / f"{tool}.fit"
        args = ["-o", out, "--arch", "arm64", "--os", "linux", "--name", "Linux 6.12.0 (kbuild)",
                "-v", "--compress", "gzip", "-k", sample_set.kernel, f"@{sample_set.list_file}"]
        cmd = ([SYSTEM_PYTHON, fits.make_fit_path] if tool == "ref"
               else [bootpack_path(), "fit", "build"])
        run([*cmd, *args], cwd=sample_set.cwd)
        outs[tool] = out
    assert_same(outs["ref"], outs["bootpack"])


def _args_file_run(fits, sample_set, tmp_path, name, external):
    outs = {}
    for tool in ("ref", "bootpack"):
        out = tmp_path / f"{tool}-{int(external)}.fit"
        argfile = tmp_path / f"{tool}-{int(external)}.args"
        lines = ["-o", str(out), "-A", "arm64", "-O", "linux", "-n", name,
                 "-c", "zstd", "-k", str(sample_set.kernel)] + (["-E"] if external else [])
        argfile.write_text("\n".join(lines) + "\n")
        cmd = ([SYSTEM_PYTHON, fits.make_fit_path] if tool == "ref"
               else [bootpack_path(), "fit", "build"])
        run([*cmd, f"@{argfile}", f"@{sample_set.list_file}"], cwd=sample_set.cwd)
        outs[tool] = out
    _, fit = assert_same(outs["ref"], outs["bootpack"])
    assert fit.node("/images/kernel").get_str("description") == name


@pytest.mark.parametrize("mode", MODES)
def test_args_file(fits, sample_set, tmp_path, tools, mode):
    """All options in an @file, one argument per line, plus a trailing @dtbs-list."""
    _args_file_run(fits, sample_set, tmp_path, "Linux-6.12-argfile", mode == "external")


def test_positional_dtbs(fits, sample_set, tmp_path, tools):
    """DTBs given directly on the command line instead of an @file."""
    outs = {}
    for tool in ("ref", "bootpack"):
        out = tmp_path / f"{tool}.fit"
        cmd = ([SYSTEM_PYTHON, fits.make_fit_path] if tool == "ref"
               else [bootpack_path(), "fit", "build"])
        run([*cmd, "-o", out, *ARCH_ARGS, "-k", sample_set.kernel, "-c", "lz4",
             *[str(p) for p in reversed(sample_set.dtbs)]], cwd=sample_set.cwd)
        outs[tool] = out
    assert_same(outs["ref"], outs["bootpack"])


def test_dtbo_entries_ignored(fits, sample_set, tmp_path, tools):
    """Both tools skip .dtbo list entries (Kbuild lists overlays) without opening
    them. make_fit.py also skips any other non-.dtb name; bootpack rejects those
    on purpose (see test_cli_errors.py::test_non_dtb_input_is_an_error)."""
    lst = tmp_path / "dtbs-list"
    entries = sample_set.entries[:2] + ["does-not-exist.dtbo"] + sample_set.entries[2:]
    lst.write_text("".join(e + "\n" for e in entries))
    ds = Dataset("non-dtb", sample_set.kernel, lst, sample_set.cwd)
    outs = {}
    for tool in ("ref", "bootpack"):
        out = tmp_path / f"{tool}.fit"
        cmd = ([SYSTEM_PYTHON, fits.make_fit_path] if tool == "ref"
               else [bootpack_path(), "fit", "build"])
        run([*cmd, *build_args(ds, out, "none", False)], cwd=ds.cwd)
        outs[tool] = out
    assert_same(outs["ref"], outs["bootpack"])


def test_files_from(fits, sample_set, tmp_path, tools):
    """bootpack's -T LIST gives the same bytes as @LIST."""
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    a = fits.bootpack(sample_set, "gzip", True, env=env)
    b = tmp_path / "files-from.fit"
    run([bootpack_path(), "fit", "build", "-o", b, *ARCH_ARGS, "-k", sample_set.kernel,
         "-c", "gzip", "-E", "-T", sample_set.list_file], cwd=sample_set.cwd,
        env=dict(os.environ, **env))
    assert a.read_bytes() == b.read_bytes()


# --------------------------------------------------------------------------
# -D / --decompose-dtbs on a Kbuild-like object tree

DTS_DIR = "arch/arm64/boot/dts/bootpack"
DTC_FLAGS = ("-Wno-interrupt_provider -Wno-unit_address_vs_reg -Wno-avoid_unnecessary_addr_size "
             "-Wno-alias_paths -Wno-graph_child_address -Wno-simple_bus_reg")


def dtc_cmd(target, source, base):
    """cmd_dtc from scripts/Makefile.dtbs (6.12), as make expands it."""
    d, name = os.path.split(target)
    dep = f"{d}/.{name}.d"
    tmp = f"{d}/.{name}.dts.tmp"
    return (f"gcc -E -Wp,-MMD,{dep}.pre.tmp -nostdinc -I ./scripts/dtc/include-prefixes -undef "
            f"-D__DTS__ -x assembler-with-cpp -o {tmp} {source} ; "
            f"./scripts/dtc/dtc -o {target} -b 0 -i{d}/ -i./scripts/dtc/include-prefixes "
            f"{DTC_FLAGS}{' -@' if base else ''} -d {dep}.dtc.tmp {tmp} ; "
            f"cat {dep}.pre.tmp {dep}.dtc.tmp > {dep}")


def fixdep_cmd_file(target, cmdline, source):
    """A .cmd file as scripts/basic/fixdep writes it for if_changed_dep."""
    return (f"savedcmd_{target} := {cmdline}\n\n"
            f"source_{target} := {source}\n\n"
            f"deps_{target} := \\\n\n"
            f"{target}: $(deps_{target})\n\n"
            f"$(deps_{target}):\n")


def build_objtree(root, samples):
    """Kernel-like objtree (in-tree build) with real dtc/fdtoverlay runs.

    Commands run from `root` exactly as recorded in the .cmd files, with
    ./scripts/dtc/{dtc,fdtoverlay} linked to the system tools.
    """
    for tool in ("gcc", "dtc", "fdtoverlay"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required for the -D objtree")
    (root / "scripts/dtc/include-prefixes").mkdir(parents=True)
    os.symlink(shutil.which("dtc"), root / "scripts/dtc/dtc")
    os.symlink(shutil.which("fdtoverlay"), root / "scripts/dtc/fdtoverlay")
    (root / DTS_DIR).mkdir(parents=True)
    shutil.copy(samples / "Image", root / "arch/arm64/boot/Image")

    src = REPO / "samples" / "dts"
    for name in ("demo-a.dts", "demo-b.dts", "demo-overlay.dtso"):
        shutil.copy(src / name, root / DTS_DIR / name)

    def record_and_run(target, cmdline, text):
        d, name = os.path.split(target)
        (root / d / f".{name}.cmd").write_text(text)
        run(["sh", "-c", cmdline], cwd=root)

    for stem, ext, srcext, base in (("demo-a", ".dtb", ".dts", True),
                                    ("demo-b", ".dtb", ".dts", False),
                                    ("demo-overlay", ".dtbo", ".dtso", False)):
        target = f"{DTS_DIR}/{stem}{ext}"
        source = f"{DTS_DIR}/{stem}{srcext}"
        cmdline = dtc_cmd(target, source, base)
        record_and_run(target, cmdline, fixdep_cmd_file(target, cmdline, source))

    for composite, tail in (("demo-a-overlay.dtb", ""), ("demo-a-extra.dtb", " ")):
        target = f"{DTS_DIR}/{composite}"
        # cmd_fdtoverlay (if_changed, so no fixdep part). With CHECK_DTBS unset
        # its trailing $(cmd_dtb_check) leaves a space at the end of the line.
        cmdline = (f"./scripts/dtc/fdtoverlay -o {target} -i {DTS_DIR}/demo-a.dtb "
                   f"{DTS_DIR}/demo-overlay.dtbo{tail}")
        record_and_run(target, cmdline, f"savedcmd_{target} := {cmdline}\n")

    # A composite first: its base gets fdt-1 and is reused by the plain
    # demo-a.dtb entry and by the second composite.
    entries = ["demo-a-extra.dtb", "demo-a.dtb", "demo-overlay.dtbo", "demo-b.dtb",
               "demo-a-overlay.dtb"]
    lst = root / "arch/arm64/boot/dts/dtbs-list"
    lst.write_text("".join(f"{DTS_DIR}/{e}\n" for e in entries))
    return Dataset("objtree", "arch/arm64/boot/Image", lst.relative_to(root), root)


@pytest.fixture(scope="session")
def objtree(samples, tmp_path_factory, tools):
    root = tmp_path_factory.mktemp("objtree")
    return build_objtree(root, samples)


def kbuild_args(out, ds, comp, external):
    """Argument order of Kbuild's cmd_fit with FIT_DECOMPOSE_DTBS=1, relative paths."""
    args = ["-o", out, "--arch", "arm64", "--os", "linux", "--name", "Linux 6.12.0",
            "--decompose-dtbs", "--compress", comp, "-k", str(ds.kernel), f"@{ds.list_file}"]
    if external:
        args.insert(0, "-E")
    return args


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", ["none", "gzip", "lzo"])
def test_decompose(fits, objtree, comp, mode):
    external = mode == "external"
    root = objtree.cwd
    ref = f"ref-{comp}-{mode}.fit"
    out = f"bp-{comp}-{mode}.fit"
    run([SYSTEM_PYTHON, fits.make_fit_path, *kbuild_args(ref, objtree, comp, external)], cwd=root)
    run([bootpack_path(), "fit", "build", *kbuild_args(out, objtree, comp, external)], cwd=root)
    _, fit = assert_same(root / ref, root / out)

    # Explicitly: base stored once, overlay stored once, composites become lists.
    images = fit.images()
    assert [n.name for n in images] == ["kernel", "fdt-1", "fdt-2", "fdt-3"]
    assert [n.get_str("description") for n in images[1:]] == [
        "demo-a.dtb", "demo-overlay.dtbo", "demo-b.dtb"]
    confs = fit.node("/configurations").children
    fdt_lists = [c.get("fdt").split(b"\0")[:-1] for c in confs]
    assert fdt_lists == [[b"fdt-1", b"fdt-2"], [b"fdt-1"], [b"fdt-3"], [b"fdt-1", b"fdt-2"]]
    base = (root / DTS_DIR / "demo-a.dtb").read_bytes()
    overlay = (root / DTS_DIR / "demo-overlay.dtbo").read_bytes()
    assert fit.payload(images[1]) == base
    assert fit.payload(images[2]) == overlay


# --------------------------------------------------------------------------
# -r / --ramdisk (not in 6.12's make_fit.py: checked against bootpack's spec,
# everything else against make_fit.py)

RAMDISK_PROPS = ["description", "type", "arch", "os", "compression", "data", "load"]
# mkimage -E inserts data-offset then data-size at the start of the node
RAMDISK_PROPS_EXT = ["data-size", "data-offset"] + [p for p in RAMDISK_PROPS if p != "data"]


def check_ramdisk(fit, ramdisk, external):
    rd_bytes = Path(ramdisk).read_bytes()
    names = [n.name for n in fit.images()]
    assert names[:2] == ["kernel", "ramdisk"], f"/images order: {names}"
    assert all(n.startswith("fdt-") for n in names[2:]), names
    node = fit.node("/images/ramdisk")
    assert node.prop_names() == (RAMDISK_PROPS_EXT if external else RAMDISK_PROPS)
    assert node.get_str("description") == "Ramdisk"
    assert node.get_str("type") == "ramdisk"
    assert node.get_str("arch") == "arm64"
    assert node.get_str("os") == "linux"
    assert node.get_str("compression") == "none"
    assert node.get_u32("load") == 0
    stored = fit.stored_data(node)
    assert stored == rd_bytes, "ramdisk data must be stored as-is"
    for conf in fit.node("/configurations").children:
        assert conf.prop_names() == ["compatible", "description", "fdt", "kernel", "ramdisk"], \
            f"{conf.path}: {conf.prop_names()}"
        assert conf.get_str("ramdisk") == "ramdisk"


def strip_ramdisk(fit):
    fit.node("/images").remove_child("ramdisk")
    for conf in fit.node("/configurations").children:
        conf.remove_prop("ramdisk")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comp", ["none", "gzip", "zstd"])
def test_ramdisk(fits, sample_set, sample_ramdisk, comp, mode, tmp_path):
    external = mode == "external"
    out = fits.bootpack(sample_set, comp, external, extra=["-r", sample_ramdisk])
    fit = Fit.load(out)
    check_ramdisk(fit, sample_ramdisk, external)

    if external:
        # Same layout/order mkimage -E gives for bootpack's own embedded output
        emb = fits.bootpack(sample_set, comp, False, extra=["-r", sample_ramdisk])
        conv = tmp_path / "mkimage-E.fit"
        shutil.copy(emb, conv)
        run(["mkimage", "-E", "-F", conv])
        assert_same(conv, out)

    strip_ramdisk(fit)
    ref = Fit.load(fits.reference(sample_set, comp, external))
    try:
        compare_fits(ref, fit)
    except FitMismatch as exc:
        pytest.fail(f"with the ramdisk removed, output differs from make_fit.py:\n{exc}",
                    pytrace=False)


@pytest.mark.corpus
def test_ramdisk_corpus(fits, corpus_set, corpus):
    initrd = corpus / "initrd.img"
    out = fits.bootpack(corpus_set, "gzip", True, extra=["-r", initrd])
    fit = Fit.load(out)
    check_ramdisk(fit, initrd, True)
    strip_ramdisk(fit)
    compare_fits(Fit.load(fits.reference(corpus_set, "gzip", True)), fit)


def test_compression_names(fits, sample_set):
    """Every image carries the FIT compression name it was built with."""
    for comp in COMPRESSIONS:
        fit = Fit.load(fits.bootpack(sample_set, comp, False))
        for node in fit.images():
            assert decode_str(node.get("compression")) == comp, node.path
