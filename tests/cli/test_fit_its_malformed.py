# SPDX-License-Identifier: MIT
"""Hostile and broken .its sources: one clear line each, exit 1, nothing written.

Each case is a source (and what it pulls in) that dtc rejects, that would
make dtc hang or eat memory (/incbin/ of a FIFO, a device, a huge file), or
that compiles but is not a FIT mkimage could finish or U-Boot could use
(unknown algorithms, missing keys, references to missing images). The
expected message names the source line or the node path.
"""

import os
import stat

import pytest

from conftest import run
from signkeys import sign_keys  # noqa: F401

GOOD_IMAGES = """
		kernel {
			data = /incbin/("kernel.bin");
			type = "kernel";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0x80000>;
			entry = <0x80000>;
			hash-1 { algo = "sha256"; };
		};
		fdt-1 {
			data = /incbin/("board.dtb");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 { algo = "sha256"; };
		};"""

GOOD_CONFS = """
		default = "conf-1";
		conf-1 {
			kernel = "kernel";
			fdt = "fdt-1";
		};"""


def its(images=GOOD_IMAGES, confs=GOOD_CONFS, head=""):
    return f"""/dts-v1/;
{head}
/ {{
	description = "test";
	#address-cells = <1>;
	images {{{images}
	}};
	configurations {{{confs}
	}};
}};
"""


def signed_conf(sig):
    return GOOD_CONFS.replace('fdt = "fdt-1";', f'fdt = "fdt-1";\n\t\t\tsignature-1 {{ {sig} }};')


def incbin(name):
    return GOOD_IMAGES.replace('"kernel.bin"', f'"{name}"')


def make_fifo(d):
    os.mkfifo(d / "pipe")


def make_huge(d):
    with open(d / "huge.bin", "wb") as f:
        f.truncate(3 << 30)  # sparse: costs nothing on disk


# (id, source, setup, extra options, expected message part)
CASES = [
    ("dtc-syntax", "/dts-v1/;\n/ {\n\timages {\n\t\tkernel { data = <1 2; };\n\t};\n};\n",
     None, [], "dtc: Error: bad.its:4."),
    ("dtc-no-version", "/ { images { }; };\n", None, [], "dtc: "),
    ("incbin-missing", its(incbin("nope.bin")), None, [],
     "line 8: /incbin/(\"nope.bin\"): No such file or directory"),
    ("incbin-fifo", its(incbin("pipe")), make_fifo, [],
     "line 8: /incbin/(\"pipe\"): a FIFO, not a regular file"),
    ("incbin-dev-zero", its(incbin("/dev/zero")), None, [],
     "/incbin/(\"/dev/zero\"): a character device, not a regular file"),
    ("incbin-directory", its(incbin(".")), None, [], "a directory, not a regular file"),
    ("incbin-huge", its(incbin("huge.bin")), make_huge, [], "more than a FIT can hold"),
    ("include-fifo", its(head='/include/ "pipe"'), make_fifo, [],
     "line 2: /include/(\"pipe\"): a FIFO"),
    ("hash-unknown-algo", its(GOOD_IMAGES.replace('"sha256"; };\n\t\t};\n\t\tfdt-1',
                                                  '"sha3-256"; };\n\t\t};\n\t\tfdt-1')),
     None, [], "/images/kernel/hash-1: unknown hash algorithm 'sha3-256'"),
    ("hash-no-algo", its(GOOD_IMAGES.replace('hash-1 { algo = "sha256"; };\n\t\t};\n\t\tfdt-1',
                                             'hash-1 { };\n\t\t};\n\t\tfdt-1')),
     None, [], "/images/kernel/hash-1 has no 'algo' string"),
    ("image-no-data", its(GOOD_IMAGES.replace('data = /incbin/("board.dtb");', "")), None, [],
     "/images/fdt-1 has no 'data'"),
    ("no-images", "/dts-v1/;\n/ { description = \"x\"; };\n", None, [], "no /images node"),
    ("config-missing-image", its(confs=GOOD_CONFS.replace('"fdt-1"', '"fdt-9"')), None, [],
     "/configurations/conf-1: fdt 'fdt-9' is not an image in /images"),
    ("config-missing-loadable", its(confs=GOOD_CONFS.replace(
        'fdt = "fdt-1";', 'fdt = "fdt-1";\n\t\t\tloadables = "kernel", "gone";')), None, [],
     "/configurations/conf-1: loadables 'gone' is not an image in /images"),
    ("default-missing", its(confs=GOOD_CONFS.replace('"conf-1";', '"conf-7";', 1)), None, [],
     "/configurations: default 'conf-7' is not a configuration"),
    ("signature-unknown-algo", its(confs=signed_conf(
        'algo = "sha256,rsa1024"; key-name-hint = "dev";')), None, ["-k", "KEYS"],
     "/configurations/conf-1/signature-1: "),
    ("signature-unknown-hash", its(confs=signed_conf(
        'algo = "md5,rsa2048"; key-name-hint = "dev";')), None, ["-k", "KEYS"],
     "/configurations/conf-1/signature-1: "),
    ("signature-no-hint", its(confs=signed_conf('algo = "sha256,rsa2048";')), None,
     ["-k", "KEYS"], "/configurations/conf-1/signature-1 has no 'key-name-hint'"),
    ("signature-no-algo", its(confs=signed_conf('key-name-hint = "dev";')), None,
     ["-k", "KEYS"], "/configurations/conf-1/signature-1 has no 'algo'"),
    ("signature-key-missing", its(confs=signed_conf(
        'algo = "sha256,rsa2048"; key-name-hint = "nokey";')), None, ["-k", "KEYS"],
     "/configurations/conf-1/signature-1: no key file "),
    ("signed-image-without-hash", its(GOOD_IMAGES.replace(
        'hash-1 { algo = "sha256"; };\n\t\t};\n\t\tfdt-1', '};\n\t\tfdt-1'),
        confs=signed_conf('algo = "sha256,rsa2048"; key-name-hint = "dev";')), None,
     ["-k", "KEYS"], "image 'kernel' has no hash node"),
    ("position-overlaps-tree", its(), None, ["-E", "-p", "10"],
     "external data position 0x10 overlaps the tree"),
    ("dtc-not-found", its(), None, ["--dtc", "/nonexistent/dtc"], "cannot run /nonexistent/dtc"),
]


@pytest.mark.parametrize("source,setup,opts,expect", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_its_malformed(bootpack, sign_keys, tmp_path, source, setup, opts,  # noqa: F811
                       expect):
    (tmp_path / "kernel.bin").write_bytes(b"\x01" * 1000)
    (tmp_path / "board.dtb").write_bytes(b"\x02" * 100)
    (tmp_path / "bad.its").write_text(source)
    if setup:
        setup(tmp_path)
    if "KEYS" in opts:
        sign_keys.rsa("dev")
    opts = [str(sign_keys.dir) if o == "KEYS" else o for o in opts]
    out = tmp_path / "out" / "fit.itb"
    out.parent.mkdir()
    out.write_bytes(b"old contents")
    proc = run([bootpack, "fit", "build", "--its", "bad.its", *opts, "-o", out],
               cwd=tmp_path, check=False, timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bootpack: 'bad.its': "), err
    assert expect in lines[0], err
    # Nothing written: the old output stays, no temporary file is left.
    assert out.read_bytes() == b"old contents"
    assert sorted(p.name for p in out.parent.iterdir()) == ["fit.itb"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".bootpack")]


def test_its_commented_incbin_is_not_read(bootpack, tmp_path):
    """The /incbin/ scan skips comments and strings as dtc's lexer does: a
    commented-out FIFO does not stop a build."""
    (tmp_path / "kernel.bin").write_bytes(b"\x01" * 1000)
    (tmp_path / "board.dtb").write_bytes(b"\x02" * 100)
    os.mkfifo(tmp_path / "pipe")
    src = its(head='// /incbin/("pipe")\n/* /include/ "pipe" */')
    src = src.replace('description = "test";', 'description = "/incbin/(\\"pipe\\")";')
    (tmp_path / "ok.its").write_text(src)
    run([bootpack, "fit", "build", "--its", "ok.its", "-o", tmp_path / "ok.itb"], cwd=tmp_path)
    assert stat.S_ISREG((tmp_path / "ok.itb").stat().st_mode)


@pytest.mark.parametrize("args,expect", [
    (["--its", "x.its"], "missing required option -o/--output"),
    (["--its", "x.its", "-p", "1000", "-o", "o.itb"], "need -E/--external"),
    (["--its", "x.its", "-E", "-B", "3", "-o", "o.itb"], "not a hexadecimal power of 2"),
    (["--its", "x.its", "-K", "c.dtb", "-o", "o.itb"], "-K/--key-out needs -k/--key-dir"),
    (["--its", "x.its", "-r", "-o", "o.itb"], "-r/--required needs -K/--key-out"),
    (["--its", "x.its", "-A", "arm64", "-o", "o.itb"], "unknown option '-A'"),
    (["-f", "x.its", "a.itb", "b.itb"], "unexpected argument 'b.itb'"),
], ids=["no-output", "position-without-E", "align-not-power-of-2", "key-out-without-key-dir",
        "required-without-key-out", "make-fit-option", "two-outputs"])
def test_its_usage_errors(bootpack, tmp_path, args, expect):
    proc = run([bootpack, "fit", "build", *args], cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert expect in proc.stderr.decode(), proc.stderr
    assert not list(tmp_path.iterdir())


def test_its_help(bootpack):
    proc = run([bootpack, "fit", "build", "--its", "--help"])
    assert proc.stdout.startswith(b"Usage: bootpack fit build --its FILE.its")
    assert b"--key-dir" in proc.stdout and b"mkimage -E" in proc.stdout
