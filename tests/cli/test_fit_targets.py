# SPDX-License-Identifier: MIT
"""Bootloader targets: fit verify --target NAME [--strict] and fit build --target NAME.

For every rule of barebox, depthcharge and LinuxBoot (u-root), a FIT that breaks
it gets that finding (a warning, exit 0; with --strict a failure, exit 1) and a
FIT that follows it gets none. The FITs are written here as .its sources and
compiled by dtc (external data by mkimage -E), the data compressed by the
command-line compressors: nothing of bootpack's goes into what is checked.
U-Boot's rules are proven by the QEMU boots (tests/cli/test_boot_qemu*.py; the
u-boot-2023.01 kernel_noload rule by test_gzip_kernel_noload_does_not_boot);
here their findings are checked once each.

The man page's rule table must equal the code's (`fit verify --target help
--json`); `python3 tests/cli/test_fit_targets.py --regen` rewrites it.
"""

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import libfdt
import pytest

from conftest import REPO, run

ARCH = ["-A", "arm64", "-O", "linux", "-n", "Linux-targets"]
# Fast levels: the rules look at the format, not the ratio (test_noload_ratio excepted).
COMPRESS = {
    "gzip": ["gzip", "-1", "-n", "-c"], "bzip2": ["bzip2", "-1", "-c"],
    "lz4": ["lz4", "-1", "-c"], "lzma": ["xz", "--format=lzma", "-0", "-c"],
    "lzo": ["lzop", "-1", "-c"], "zstd": ["zstd", "-1", "-q", "-c"],
}
_compressed = {}
MAN = REPO / "doc" / "bootpack.1"
MAN_BEGIN = ".\\\" BEGIN TARGET RULES"
MAN_END = ".\\\" END TARGET RULES"


# --------------------------------------------------------------------------
# FITs from .its sources


def compressed(src, comp, work):
    """@src compressed by the command-line tool for FIT compression @comp (once per module)."""
    if comp == "none":
        return src
    if (src, comp) not in _compressed or not _compressed[src, comp].exists():
        out = work / f"{src.name}.{comp}"
        out.write_bytes(run(COMPRESS[comp] + [src]).stdout)
        _compressed[src, comp] = out
    return _compressed[src, comp]


def base_spec(samples):
    """A FIT every target boots: kernel, one DTB, configuration with compatible, default."""
    return {
        "images": {
            "kernel": {"type": "kernel_noload", "compression": "none", "load": 0, "entry": 0,
                       "file": samples / "Image"},
            "fdt-1": {"type": "flat_dt", "compression": "none", "file": samples / "demo-a.dtb"},
        },
        "configs": {"conf-1": {"kernel": "kernel", "fdt": ["fdt-1"],
                               "compatible": fdt_compatible(samples / "demo-a.dtb")}},
        "default": "conf-1",
    }


def fdt_compatible(path):
    fdt = libfdt.Fdt(path.read_bytes())
    return bytes(fdt.getprop(0, "compatible")).decode().rstrip("\0").split("\0")


def its_source(spec, work):
    lines = ["/dts-v1/;", "/ {", '\tdescription = "bootloader target test";',
             "\t#address-cells = <1>;", "\timages {"]
    for name, im in spec["images"].items():
        data = compressed(im["file"], im["compression"], work)
        lines += [f"\t\t{name} {{", f'\t\t\tdescription = "{name}";',
                  f'\t\t\ttype = "{im["type"]}";', '\t\t\tarch = "arm64";', '\t\t\tos = "linux";',
                  f'\t\t\tcompression = "{im["compression"]}";',
                  f'\t\t\tdata = /incbin/("{data}");']
        for prop in ("load", "entry"):
            if prop in im:
                lines.append(f"\t\t\t{prop} = <{im[prop]:#x}>;")
        lines += sig_nodes(im.get("signature"))
        lines.append("\t\t};")
    lines += ["\t};", "\tconfigurations {"]
    if spec.get("default"):
        lines.append(f'\t\tdefault = "{spec["default"]}";')
    for name, c in spec["configs"].items():
        lines.append(f"\t\t{name} {{")
        for prop in ("kernel", "ramdisk"):
            if c.get(prop):
                lines.append(f'\t\t\t{prop} = "{c[prop]}";')
        for prop in ("fdt", "compatible"):
            if c.get(prop):
                lines.append(f"\t\t\t{prop} = " + ", ".join(f'"{v}"' for v in c[prop]) + ";")
        lines += sig_nodes(c.get("signature"))
        lines.append("\t\t};")
    lines += ["\t};", "};", ""]
    return "\n".join(lines)


def sig_nodes(algo):
    """A signature-1 node as mkimage writes one (the value is not checked by these rules)."""
    if not algo:
        return []
    return ["\t\t\tsignature-1 {", f'\t\t\t\talgo = "{algo}";', '\t\t\t\tkey-name-hint = "dev";',
            "\t\t\t\tvalue = [" + " ".join(["5a"] * 256) + "];", "\t\t\t};"]


def make_fit(spec, work, name, external=False):
    its = work / f"{name}.its"
    its.write_text(its_source(spec, work))
    out = work / f"{name}.fit"
    if external:
        run(["mkimage", "-E", "-f", its, out])
    else:
        run(["dtc", "-I", "dts", "-O", "dtb", "-o", out, its])
    return out


def verify(bootpack, fit, target, strict=False, check=False):
    args = [bootpack, "fit", "verify", "--json", "--target", target, fit]
    if strict:
        args.insert(-1, "--strict")
    proc = run(args, check=check)
    doc = json.loads(proc.stdout)[0]
    return proc, [c for c in doc["checks"] if c.get("rule")]


def rule_table(bootpack):
    return json.loads(run([bootpack, "fit", "verify", "--target", "help", "--json"]).stdout)


@pytest.fixture
def work(tmp_path):
    return tmp_path


@pytest.fixture(scope="module")
def no_compat_dtb(tmp_path_factory):
    """A devicetree whose root has no compatible: depthcharge cannot rank it."""
    d = tmp_path_factory.mktemp("nocompat")
    (d / "n.dts").write_text('/dts-v1/;\n/ {\n\tmodel = "no compatible";\n};\n')
    run(["dtc", "-I", "dts", "-O", "dtb", "-o", d / "n.dtb", d / "n.dts"])
    return d / "n.dtb"


# --------------------------------------------------------------------------
# One case per rule: how to break it, how to follow it.


def set_comp(image, comp):
    def f(s):
        s["images"][image]["compression"] = comp
    return f


def add_ramdisk(comp):
    def f(s):
        s["images"]["ramdisk"] = {"type": "ramdisk", "compression": comp,
                                  "file": s["images"]["kernel"]["file"].parent / "demo-c.dtb"}
        s["configs"]["conf-1"]["ramdisk"] = "ramdisk"
    return f


def cfg(**props):
    def f(s):
        for k, v in props.items():
            if v is None:
                s["configs"]["conf-1"].pop(k, None)
            else:
                s["configs"]["conf-1"][k] = v
    return f


def chain(*fs):
    def f(s):
        for g in fs:
            g(s)
    return f


def overlay(s):
    samples = s["images"]["kernel"]["file"].parent
    s["images"]["fdt-ovl"] = {"type": "flat_dt", "compression": "none",
                              "file": samples / "demo-overlay.dtbo"}
    s["configs"]["conf-1"]["fdt"] = ["fdt-1", "fdt-ovl"]


def image_sig(algo):
    def f(s):
        s["images"]["kernel"]["signature"] = algo
    return f


def no_default(s):
    s["default"] = None


def ok(s):
    pass


EXTERNAL = "external"

# (target, rule, node, break, follow); "external" builds with mkimage -E.
CASES = [
    ("barebox", "barebox-external", "kernel", EXTERNAL, ok),
    ("barebox", "barebox-compression", "kernel", set_comp("kernel", "lzma"),
     set_comp("kernel", "gzip")),
    ("barebox", "barebox-compression", "fdt-1", set_comp("fdt-1", "lz4"),
     set_comp("fdt-1", "zstd")),
    ("barebox", "barebox-ramdisk-compression", "ramdisk", add_ramdisk("gzip"),
     add_ramdisk("none")),
    ("barebox", "barebox-compressed-fdt", "conf-1",
     chain(set_comp("fdt-1", "gzip"), cfg(compatible=None)), set_comp("fdt-1", "gzip")),
    ("barebox", "barebox-overlays", "conf-1", overlay, ok),
    ("barebox", "barebox-signature-algo", "conf-1", cfg(signature="sha512,rsa4096"),
     cfg(signature="sha256,rsa4096")),
    ("barebox", "barebox-image-signature", "kernel", image_sig("sha256,rsa2048"), ok),
    ("depthcharge", "depthcharge-external", "fdt-1", EXTERNAL, ok),
    ("depthcharge", "depthcharge-compression", "kernel", set_comp("kernel", "gzip"),
     set_comp("kernel", "lz4")),
    ("depthcharge", "depthcharge-compression", "fdt-1", set_comp("fdt-1", "zstd"),
     set_comp("fdt-1", "lzma")),
    ("depthcharge", "depthcharge-ramdisk-compression", "ramdisk", add_ramdisk("lzma"),
     add_ramdisk("none")),
    ("depthcharge", "depthcharge-kernel-fdt", "conf-1", cfg(fdt=None), ok),
    ("depthcharge", "depthcharge-compressed-fdt", "conf-1",
     chain(set_comp("fdt-1", "lzma"), cfg(compatible=None)), set_comp("fdt-1", "lzma")),
    ("depthcharge", "depthcharge-overlays", "conf-1", chain(overlay, cfg(compatible=None)),
     overlay),
    ("depthcharge", "depthcharge-fdt-compatible", "conf-1", "nocompat", cfg(compatible=None)),
    ("linuxboot", "linuxboot-external", "kernel", EXTERNAL, ok),
    ("linuxboot", "linuxboot-kernel-compression", "kernel", set_comp("kernel", "gzip"), ok),
    ("linuxboot", "linuxboot-ramdisk-compression", "ramdisk", add_ramdisk("gzip"),
     add_ramdisk("none")),
    ("linuxboot", "linuxboot-default", "", no_default, ok),
    ("linuxboot", "linuxboot-fdt", "conf-1", ok, cfg(fdt=None)),
    ("linuxboot", "linuxboot-config-signature", "conf-1", cfg(signature="sha256,rsa2048"), ok),
    # U-Boot: the findings once each (the boots are in test_boot_qemu*.py).
    ("u-boot", "u-boot-compressed-fdt", "conf-1",
     chain(set_comp("fdt-1", "gzip"), cfg(compatible=None)), set_comp("fdt-1", "gzip")),
    ("u-boot", "u-boot-ramdisk-compression", "ramdisk", add_ramdisk("gzip"),
     add_ramdisk("none")),
    ("u-boot-2023.01", "u-boot-noload-compressed", "kernel", set_comp("kernel", "gzip"), ok),
    ("u-boot", "u-boot-noload-addresses", "kernel",
     lambda s: s["images"]["kernel"].pop("entry"), ok),
]


def case_id(c):
    return f"{c[0]}:{c[1]}:{c[2] or 'fit'}"


def apply(samples, how, no_compat_dtb):
    spec = base_spec(samples)
    if how == "nocompat":
        spec["images"]["fdt-1"]["file"] = no_compat_dtb
        spec["configs"]["conf-1"].pop("compatible")
    elif callable(how):
        how(spec)
    return spec


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rule(bootpack, samples, work, no_compat_dtb, case):
    target, rule, node, breaks, follows = case
    spec = apply(samples, ok if breaks == EXTERNAL else breaks, no_compat_dtb)
    bad = make_fit(spec, work, "bad", external=breaks == EXTERNAL)

    proc, found = verify(bootpack, bad, target)
    hits = [c for c in found if c["rule"] == rule and c["node"] == node]
    assert hits, f"{rule} not reported at {node!r}: {found}"
    assert proc.returncode == 0 and all(c["level"] == "warning" for c in hits)
    table = {r["id"]: r for r in rule_table(bootpack)["rules"]}
    assert hits[0]["source"] == table[rule]["source"] and table[rule]["message"] in hits[0]["message"]

    proc, found = verify(bootpack, bad, target, strict=True)
    assert proc.returncode == 1
    assert any(c["rule"] == rule and c["level"] == "failure" for c in found)

    good = make_fit(apply(samples, follows, no_compat_dtb), work, "good")
    _, found = verify(bootpack, good, target)
    assert not [c for c in found if c["rule"] == rule], found


def test_text_finding_names_rule_and_source(bootpack, samples, work):
    fit = make_fit(base_spec(samples), work, "ext", external=True)
    proc = run([bootpack, "fit", "verify", "-q", "--target", "barebox", "--strict", fit],
               check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert (f"bootpack: '{fit}': kernel: barebox: data stored outside the tree" in err
            and "[barebox-external; barebox common/image-fit.c fit_open_image()" in err), err
    assert "FAILED: 2 problems found" in err     # kernel and fdt-1


def test_file_text_is_escaped(bootpack, samples, work):
    """A compression name from the file reaches the terminal only escaped."""
    spec = base_spec(samples)
    its = its_source(spec, work).replace('compression = "none";\n\t\t\tdata = /incbin/("' +
                                         str(samples / "Image"),
                                         'compression = "x\\x1b[2Jy";\n\t\t\tdata = /incbin/("' +
                                         str(samples / "Image"), 1)
    assert "x1b" in its
    (work / "esc.its").write_text(its)
    run(["dtc", "-I", "dts", "-O", "dtb", "-o", work / "esc.fit", work / "esc.its"])
    proc = run([bootpack, "fit", "verify", "-q", "--target", "depthcharge", work / "esc.fit"],
               check=False)
    assert b"\x1b" not in proc.stderr and b'compression "x\\x1b[2Jy"' in proc.stderr, proc.stderr


@pytest.mark.parametrize("target", ["u-boot", "u-boot-2023.01", "barebox", "depthcharge",
                                    "linuxboot"])
def test_clean_fit_has_no_findings(bootpack, samples, work, target):
    spec = base_spec(samples)
    if target == "linuxboot":
        spec["configs"]["conf-1"].pop("fdt")   # u-root would ignore it
    proc, found = verify(bootpack, make_fit(spec, work, "clean"), target, strict=True)
    assert proc.returncode == 0 and found == []


def test_unit_address_refused_by_uboot(bootpack, samples, work):
    spec = base_spec(samples)
    spec["images"]["kernel@1"] = spec["images"].pop("kernel")
    spec["configs"]["conf-1"]["kernel"] = "kernel@1"
    _, found = verify(bootpack, make_fit(spec, work, "at"), "u-boot")
    assert [c["node"] for c in found if c["rule"] == "u-boot-unit-address"] == [""]


def test_noload_ratio(bootpack, samples, work):
    """U-Boot gives a compressed kernel_noload 4x its stored size (rounded up to 1 MiB):
    a kernel padded with 8 MiB of zeros gzips to far less than 2 MiB; the sample kernel
    itself fits."""
    big = work / "big"
    big.write_bytes((samples / "Image").read_bytes() + bytes(8 << 20))
    assert len(gzip.compress(big.read_bytes())) * 4 < 7 << 20
    spec = base_spec(samples)
    spec["images"]["kernel"].update(file=big, compression="gzip")
    _, found = verify(bootpack, make_fit(spec, work, "big"), "u-boot")
    assert [c["node"] for c in found if c["rule"] == "u-boot-noload-ratio"] == ["kernel"]
    spec["images"]["kernel"]["file"] = samples / "Image"
    _, found = verify(bootpack, make_fit(spec, work, "small"), "u-boot")
    assert not [c for c in found if c["rule"] == "u-boot-noload-ratio"]


# --------------------------------------------------------------------------
# fit build --target


def build(bootpack, samples, out, target, *extra, dtbs=("demo-a.dtb",)):
    return run([bootpack, "fit", "build", "--target", target, "-o", out, *ARCH,
                "-k", samples / "Image", *extra, *[samples / d for d in dtbs]], check=False)


REFUSALS = [
    ("barebox", ["-c", "lzma"], "barebox-compression"),
    ("barebox", ["-c", "lz4"], "barebox-compression"),
    ("barebox", ["-E"], "barebox-external"),
    ("barebox", ["-D"], "barebox-overlays"),
    ("depthcharge", ["-c", "gzip"], "depthcharge-compression"),
    ("depthcharge", ["-E"], "depthcharge-external"),
    ("linuxboot", ["-c", "zstd"], "linuxboot-kernel-compression"),
    ("linuxboot", ["-E"], "linuxboot-external"),
    ("u-boot-2023.01", ["-c", "gzip"], "u-boot-noload-compressed"),
]


@pytest.mark.parametrize("target,opts,rule", REFUSALS, ids=lambda v: str(v))
def test_build_refuses(bootpack, samples, work, target, opts, rule):
    out = work / "x.fit"
    proc = build(bootpack, samples, out, target, *opts)
    table = {r["id"]: r for r in rule_table(bootpack)["rules"]}
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert f"[{rule}; {table[rule]['source']}]" in err and f"--target {target}:" in err, err
    assert not out.exists() and os.listdir(work) == []


def test_build_depthcharge_needs_a_dtb(bootpack, samples, work):
    proc = build(bootpack, samples, work / "x.fit", "depthcharge", dtbs=())
    assert proc.returncode == 2 and b"[depthcharge-kernel-fdt;" in proc.stderr


def test_build_barebox_refuses_sha512_signature(bootpack, samples, work):
    key = work / "k.pem"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", key])
    proc = build(bootpack, samples, work / "x.fit", "barebox", "--sign", key,
                 "--algo", "sha512,rsa2048")
    assert proc.returncode == 2 and b"[barebox-signature-algo;" in proc.stderr
    assert not (work / "x.fit").exists()
    proc = build(bootpack, samples, work / "y.fit", "barebox", "--sign", key)
    assert proc.returncode == 0, proc.stderr
    _, found = verify(bootpack, work / "y.fit", "barebox", strict=True)
    assert found == []


@pytest.mark.parametrize("target,opts", [
    ("barebox", ["-c", "zstd"]), ("barebox", ["-c", "bzip2"]),
    ("depthcharge", ["-c", "lz4"]), ("depthcharge", ["-c", "lzma"]),
    ("u-boot-2023.01", ["-c", "gzip", "--load-address", "0x40400000"]),
    ("u-boot", ["-c", "gzip", "-E"]),
])
def test_build_accepted_forms_verify_clean(bootpack, samples, work, target, opts):
    out = work / "ok.fit"
    proc = build(bootpack, samples, out, target, *opts)
    assert proc.returncode == 0 and b"warning" not in proc.stderr, proc.stderr
    proc, found = verify(bootpack, out, target, strict=True)
    assert found == [] and proc.returncode == 0


def test_build_linuxboot_chooses_default(bootpack, samples, work):
    out = work / "lb.fit"
    proc = build(bootpack, samples, out, "linuxboot", dtbs=("demo-a.dtb", "demo-b.dtb"))
    assert proc.returncode == 0
    fdt = libfdt.Fdt(out.read_bytes())
    conf = fdt.path_offset("/configurations")
    assert fdt.getprop(conf, "default").as_str() == "conf-1"
    # What it cannot choose away is warned of: u-root ignores the fdt.
    err = proc.stderr.decode()
    assert err.count("[linuxboot-fdt;") == 2 and "[linuxboot-default;" not in err, err
    # An explicit --default-config is kept.
    proc = build(bootpack, samples, out, "linuxboot", "--default-config", "conf-2",
                 dtbs=("demo-a.dtb", "demo-b.dtb"))
    fdt = libfdt.Fdt(out.read_bytes())
    assert fdt.getprop(fdt.path_offset("/configurations"), "default").as_str() == "conf-2"


def test_build_no_compression_chosen(bootpack, samples, work):
    """No -c: 'none', which every target reads; a target never picks a compression."""
    for target in ("u-boot", "barebox", "depthcharge", "linuxboot"):
        out = work / f"{target}.fit"
        assert build(bootpack, samples, out, target).returncode == 0
        fdt = libfdt.Fdt(out.read_bytes())
        kernel = fdt.path_offset("/images/kernel")
        assert fdt.getprop(kernel, "compression").as_str() == "none"


def test_target_help_and_unknown(bootpack):
    for cmd in (["fit", "verify"], ["fit", "build"]):
        proc = run([bootpack, *cmd, "--target", "help"])
        text = proc.stdout.decode()
        for name in ("u-boot", "u-boot-2023.01", "barebox", "depthcharge", "linuxboot"):
            assert f"\n  {name} " in text
        proc = run([bootpack, *cmd, "--target", "grub", "x"], check=False)
        assert proc.returncode == 2 and b"unknown bootloader" in proc.stderr
    proc = run([bootpack, "fit", "verify", "--strict", "x"], check=False)
    assert proc.returncode == 2 and b"--strict needs --target" in proc.stderr


def test_every_rule_has_a_test(bootpack):
    """Each non-U-Boot rule is broken by a case above; U-Boot rules are at least reported."""
    tested = {c[1] for c in CASES} | {"u-boot-unit-address", "u-boot-noload-ratio"}
    assert {r["id"] for r in rule_table(bootpack)["rules"]} == tested


# --------------------------------------------------------------------------
# The man page's table is the code's.


def man_escape(s):
    return s.replace("\\", "\\e").replace("-", "\\-")


def render_man(table):
    out = [MAN_BEGIN + " (generated: python3 tests/cli/test_fit_targets.py --regen)",
           ".PP", "Targets:", ".RS"]
    for t in table["targets"]:
        out += [".TP", f".B {man_escape(t['name'])}", man_escape(t["description"]) + "."]
    out += [".RE", ".PP", "Rules:", ".RS"]
    for r in table["rules"]:
        out += [".TP", f".B {man_escape(r['id'])}",
                "(" + man_escape(", ".join(r["targets"])) + "; " + r["effect"] + ")",
                "If " + man_escape(r["check"]) + ": " + man_escape(r["message"]) + ".",
                ".br", "Source: " + man_escape(r["source"]) + "."]
    out += [".RE", MAN_END]
    return "\n".join(out) + "\n"


def man_block(text):
    start = text.index(MAN_BEGIN)
    end = text.index(MAN_END, start) + len(MAN_END) + 1
    return start, end


def test_man_table_matches_code(bootpack):
    text = MAN.read_text()
    start, end = man_block(text)
    assert text[start:end] == render_man(rule_table(bootpack)), \
        "doc/bootpack.1's target table differs from the code's: " \
        "python3 tests/cli/test_fit_targets.py --regen"


if __name__ == "__main__" and sys.argv[1:] == ["--regen"]:
    exe = os.environ.get("BOOTPACK") or str(REPO / "build" / "src" / "bootpack")
    table = json.loads(subprocess.run([exe, "fit", "verify", "--target", "help", "--json"],
                                      check=True, stdout=subprocess.PIPE).stdout)
    text = MAN.read_text()
    start, end = man_block(text)
    MAN.write_text(text[:start] + render_man(table) + text[end:])
