# SPDX-License-Identifier: MIT
"""fit sign, fit key add, fit build --sign and fit verify --key.

Interop with Debian's mkimage 2023.01, both ways:
- FITs mkimage signs (-f ITS -k KEYDIR -K CONTROL -r) verify with
  `bootpack fit verify --key CONTROL`, for every algorithm mkimage 2023.01
  signs with: sha1/sha256/sha384/sha512 with rsa2048/3072/4096 in pkcs-1.5
  and pss padding, and sha256,ecdsa256. It has no ecdsa384 (its host
  crypto table stops at ecdsa256): test_mkimage_lacks_ecdsa384 pins that.
- The key node `fit key add` writes equals the one mkimage -K -r writes for
  the same key (RSA: every property and value; ECDSA: mkimage 2023.01
  writes only the curve and point, under /signature/NAME, and bootpack's
  point equals it).
- RSA PKCS#1 v1.5 is deterministic: bootpack's signature value over a tree
  equals mkimage's over the same tree, both ways (bootpack re-signing
  mkimage's FIT, and mkimage -F re-signing bootpack's).
Tampering after signing fails verification (exit 1).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import libfdt
import pytest

from conftest import ARCH_ARGS, run
from fitcompare import Fit
from signkeys import EPOCH, its_fits, its_text, mkimage, real_run, sign_keys  # noqa: F401
from test_fit_inspect import Raw, recompute_hashes

SDE = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)

# (algo, key name, padding): what mkimage 2023.01 signs with.
MKIMAGE_ALGOS = [
    ("sha256,rsa2048", "dev", None),
    ("sha256,rsa2048", "dev", "pss"),
    ("sha1,rsa2048", "dev", None),
    ("sha384,rsa2048", "dev", "pkcs-1.5"),
    ("sha384,rsa3072", "dev3072", "pss"),
    ("sha512,rsa4096", "dev4096", None),
    ("sha256,ecdsa256", "ec", None),
]


def ids(algos):
    return [f"{a}-{p or 'default'}" for a, _, p in algos]


def bp(bootpack, *args, env=None, cwd=None, guard=True):
    args = [str(bootpack), *[a if isinstance(a, bytes) else str(a) for a in args]]
    runner = subprocess.run if guard else real_run
    return runner(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or SDE,
                  cwd=cwd, check=False, timeout=120)


def ok(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def err(proc):
    return proc.stderr.decode(errors="replace")


def out(proc):
    return proc.stdout.decode(errors="replace")


def assert_fails(proc, path, *needles, status=1):
    """Exit @status and one error line about @path containing every needle."""
    e = err(proc)
    assert proc.returncode == status, (proc.returncode, e)
    lines = e.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bootpack: '{path}': "), e
    for n in needles:
        assert n in lines[0], (n, lines[0])


def assert_usage(proc, cmd, msg):
    assert proc.returncode == 2, err(proc)
    assert err(proc) == (f"bootpack {cmd}: {msg}\n"
                         f"Try 'bootpack {cmd} --help' for more information.\n")
    assert proc.stdout == b""


def listing(directory):
    return sorted(p.name for p in Path(directory).iterdir())


def copy(src, dest):
    shutil.copyfile(src, dest)
    return Path(dest)


def sig_nodes(path, parent):
    """{name: Node} of the signature-* subnodes of @parent."""
    node = Fit.load(path).node(parent)
    return {c.name: c for c in node.children if c.name.startswith("signature")}


def edit(path, fn, out=None):
    """fn(libfdt.Fdt) on an embedded FIT, written to @out (default: in place)."""
    data = Path(path).read_bytes()
    fdt = libfdt.Fdt(bytearray(data))
    fdt.resize(len(data) + 65536)
    fn(fdt)
    fdt.pack()
    out = Path(out or path)
    out.write_bytes(bytes(fdt.as_bytearray()))
    return out


def verify(bootpack, fit, ctl, *extra):
    return bp(bootpack, "fit", "verify", "--key", ctl, *extra, fit)


def verify_json(bootpack, fit, ctl, *extra):
    proc = bp(bootpack, "fit", "verify", "--json", "--key", ctl, *extra, fit)
    return proc, json.loads(proc.stdout)


def sig_checks(report, level=None):
    return [c for c in report["checks"] if c["signature"] and (not level or c["level"] == level)]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tmp_path_factory.mktemp("sign")


@pytest.fixture(scope="module")
def signed(bootpack, its_fits, sign_keys, ws):
    """The unsigned its FIT signed by bootpack with dev (RSA-2048), and a
    control DTB holding dev as required for configurations."""
    fit = ws / "signed.fit"
    ctl = copy(sign_keys.control(), ws / "ctl-dev.dtb")
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          "--key-out", ctl, "--required", "conf"))
    return fit, ctl


# --------------------------------------------------------------------------
# mkimage signs, bootpack verifies

@pytest.mark.parametrize("algo,name,padding", MKIMAGE_ALGOS, ids=ids(MKIMAGE_ALGOS))
def test_mkimage_signed_verifies(bootpack, its_fits, algo, name, padding):
    fit, ctl = its_fits.signed(algo, name, padding)
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, (err(proc), rep)
    assert rep[0]["ok"] and rep[0]["failures"] == 0
    sigs = sig_checks(rep[0], "ok")
    assert sorted(c["node"] for c in sigs) == ["conf-1", "conf-2"], rep
    for c in sigs:
        assert (c["signature"], c["algo"]) == ("signature-1", algo), c
    assert rep[0]["signatures_ok"] == 2 and rep[0]["signatures_bad"] == 0
    # The same in text: a line per configuration signature, and the summary.
    proc = ok(verify(bootpack, fit, ctl))
    lines = out(proc).splitlines()
    for conf in ("conf-1", "conf-2"):
        assert any(ln.startswith(f"{conf}: signature-1: ") for ln in lines), lines
    assert lines[-1].startswith(f"{fit}: OK (3 images, 2 configurations, 3 hashes checked, "
                                "2 signatures verified, "), lines


@pytest.mark.parametrize("algo,name,padding", MKIMAGE_ALGOS[:2], ids=ids(MKIMAGE_ALGOS[:2]))
def test_mkimage_signed_images_verify(bootpack, its_fits, algo, name, padding):
    """Image signatures (mkimage -r marks the key required for images too)."""
    fit, ctl = its_fits.signed(algo, name, padding, images=True)
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, (err(proc), rep)
    assert sorted(c["node"] for c in sig_checks(rep[0], "ok")) == ["fdt-1", "fdt-2", "kernel"]


def test_mkimage_ecdsa_with_bootpack_key_node(bootpack, its_fits, sign_keys, ws):
    """mkimage's ECDSA FIT against a control DTB whose key bootpack wrote."""
    fit, _ = its_fits.signed("sha256,ecdsa256", "ec")
    ctl = copy(sign_keys.control(), ws / "ctl-bp-ec.dtb")
    ok(bp(bootpack, "fit", "key", "add", ctl, "-o", ctl, "--key", sign_keys.ec(), "--required",
          "conf"))
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, (err(proc), rep)
    assert [c["key"] for c in sig_checks(rep[0], "ok")] == ["ec", "ec"], rep


@pytest.mark.parametrize("algo", ["sha384,ecdsa384", "sha256,ecdsa384"])
def test_mkimage_lacks_ecdsa384(its_fits, sign_keys, ws, algo):
    """Debian's mkimage 2023.01 knows only ecdsa256: P-384 is proven by
    bootpack's own round trip and unit tests, not by interop."""
    its = ws / f"{algo}.its"
    its.write_text(its_text(its_fits.kernel, its_fits.dtbs[:1], (algo, "ec384", None)))
    sign_keys.ec("ec384", "P-384")
    proc = mkimage(["-f", its, "-k", sign_keys.dir, ws / f"{algo}.fit"], check=False)
    assert proc.returncode != 0
    # mkimage prints this one on standard output
    assert f"Unsupported signature algorithm ({algo})" in out(proc), (out(proc), err(proc))


# --------------------------------------------------------------------------
# bootpack signs, mkimage agrees

def key_node(ctl, path):
    node = Fit.load(ctl).node(path)
    return {n: bytes(v) for n, v in node.props}


@pytest.mark.parametrize("name,algo", [("dev", "sha256,rsa2048"), ("dev3072", "sha384,rsa3072"),
                                       ("dev4096", "sha512,rsa4096")])
@pytest.mark.parametrize("source", ["crt", "key"])
def test_key_node_equals_mkimage(bootpack, its_fits, sign_keys, ws, name, algo, source):
    _, mk_ctl = its_fits.signed(algo, name, None)
    ctl = copy(sign_keys.control(), ws / f"ctl-{name}-{source}.dtb")
    key = sign_keys.by_name(name)
    ok(bp(bootpack, "fit", "key", "add", ctl, "-o", ctl, "--key", key.with_suffix(f".{source}"),
          "--algo", algo, "--required", "conf"))
    want = key_node(mk_ctl, f"/signature/key-{name}")
    got = key_node(ctl, f"/signature/key-{name}")
    assert got == want
    # Nothing else in the tree differs either.
    assert Fit.load(ctl).node("/").prop_names() == Fit.load(mk_ctl).node("/").prop_names()


def test_ecdsa_key_node_point_equals_mkimage(bootpack, its_fits, sign_keys, ws):
    """mkimage 2023.01 writes an ECDSA key as /signature/NAME with only the
    curve and point (no algo, key-name-hint or required: -r is ignored);
    bootpack writes U-Boot's /signature/key-NAME with them, same point."""
    _, mk_ctl = its_fits.signed("sha256,ecdsa256", "ec")
    ctl = copy(sign_keys.control(), ws / "ctl-ec.dtb")
    ok(bp(bootpack, "fit", "key", "add", ctl, "-o", ctl, "--key", sign_keys.ec(), "--required",
          "conf"))
    mk = key_node(mk_ctl, "/signature/ec")
    got = key_node(ctl, "/signature/key-ec")
    assert set(mk) == {"ecdsa,curve", "ecdsa,x-point", "ecdsa,y-point"}
    for prop in mk:
        assert got[prop] == mk[prop], prop
    assert got["algo"] == b"sha256,ecdsa256\0"
    assert got["required"] == b"conf\0"
    assert got["key-name-hint"] == b"ec\0"


PKCS15 = [("sha256,rsa2048", "dev"), ("sha384,rsa3072", "dev3072"), ("sha512,rsa4096", "dev4096"),
          ("sha1,rsa2048", "dev")]
SIGNER = {"signer-name", "signer-version"}


def assert_same_tree_but_signer(a, b):
    """Two FITs equal node for node and property for property, in order,
    except the signer-name and signer-version of signature nodes."""
    def walk(x, y):
        assert x.child_names() == y.child_names(), x.path
        drop = SIGNER if x.name.startswith("signature") else set()
        px = [(n, v) for n, v in x.props if n not in drop]
        py = [(n, v) for n, v in y.props if n not in drop]
        assert [n for n, _ in px] == [n for n, _ in py], x.path
        for (n, vx), (_, vy) in zip(px, py):
            assert vx == vy, f"{x.path}: {n} differs"
        for cx, cy in zip(x.children, y.children):
            walk(cx, cy)
    fa, fb = Fit.load(a), Fit.load(b)
    walk(fa.root, fb.root)
    for img in fa.images():
        assert fa.stored_data(img) == fb.stored_data(fb.node(img.path)), img.path


@pytest.mark.parametrize("algo,name", PKCS15, ids=[a for a, _ in PKCS15])
def test_first_signature_same_as_mkimage(bootpack, its_fits, sign_keys, ws, algo, name):
    """A FIT whose signature nodes are not signed yet: bootpack fit sign and
    mkimage -F -k write the same tree, PKCS#1 v1.5 values and hashed-strings
    (the strings block as it stood before the signing properties) included."""
    key = sign_keys.by_name(name)             # made before mkimage looks for it
    src = its_fits.unfilled(algo, name)
    mk = copy(src, ws / f"first-mk-{algo}.fit")
    mkimage(["-F", "-k", sign_keys.dir, mk])
    assert sig_nodes(mk, "/configurations/conf-1")["signature-1"].has("value")
    out = ws / f"first-bp-{algo}.fit"
    proc = ok(bp(bootpack, "fit", "sign", src, "-o", out, "--key", key,
                 "--algo", algo, "-v"))
    assert f"2 signatures ({algo}, key '{name}')" in out_text(proc)
    assert_same_tree_but_signer(mk, out)
    sig = sig_nodes(out, "/configurations/conf-1")["signature-1"]
    version = out_text(ok(bp(bootpack, "--version"))).split()[-1]
    assert (sig.get_str("signer-name"), sig.get_str("signer-version")) == ("bootpack", version)


def out_text(proc):
    return proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("algo,name", PKCS15[:3], ids=[a for a, _ in PKCS15[:3]])
@pytest.mark.parametrize("signer", ["mkimage", "bootpack"])
def test_resign_same_as_mkimage(bootpack, its_fits, sign_keys, ws, algo, name, signer):
    """Re-signing a signed FIT (mkimage's or bootpack's) with the same key:
    bootpack fit sign replaces each signature exactly as mkimage -F -k does
    (the same value over the same regions), never adding a second one."""
    if signer == "mkimage":
        src, ctl = its_fits.signed(algo, name, None)
    else:
        src = ws / f"bp-{name}.fit"
        ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", src, "--key",
              sign_keys.by_name(name), "--algo", algo))
        ctl = None
    mk = copy(src, ws / f"resign-{signer}-{name}-mk.fit")
    sign_keys.by_name(name)
    mkimage(["-F", "-k", sign_keys.dir, mk])
    out = ws / f"resign-{signer}-{name}-bp.fit"
    proc = ok(bp(bootpack, "fit", "sign", src, "-o", out, "--key", sign_keys.by_name(name),
                 "--algo", algo, "-v"))
    assert ", 2 replaced, " in out_text(proc), out_text(proc)
    assert_same_tree_but_signer(mk, out)
    if ctl:
        ok(verify(bootpack, out, ctl))


def test_signature_nodes_as_mkimage_writes_them(bootpack, its_fits, signed):
    """Same properties in the same order as mkimage's signature node."""
    mk, _ = its_fits.signed("sha256,rsa2048", "dev", None)
    fit, _ = signed
    a = sig_nodes(mk, "/configurations/conf-1")["signature-1"]
    b = sig_nodes(fit, "/configurations/conf-1")["signature-1"]
    # What mkimage adds comes first, in its order; then the properties the
    # .its author wrote (algo, key-name-hint, sign-images), in the author's.
    assert b.prop_names()[:6] == a.prop_names()[:6] == [
        "hashed-strings", "hashed-nodes", "timestamp", "signer-version", "signer-name", "value"]
    assert sorted(b.prop_names()[6:]) == sorted(a.prop_names()[6:])
    assert b.get_str("signer-name") == "bootpack"
    assert b.get("timestamp") == int(EPOCH).to_bytes(4, "big")
    assert b.get("hashed-nodes") == (b"/\0/configurations/conf-1\0/images/kernel\0"
                                     b"/images/kernel/hash-1\0/images/fdt-1\0"
                                     b"/images/fdt-1/hash-1\0")
    assert b.get("sign-images") == b"kernel\0fdt\0"


# --------------------------------------------------------------------------
# bootpack signs and verifies

def test_sign_and_verify(bootpack, signed):
    fit, ctl = signed
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, rep
    assert [(c["node"], c["signature"], c["algo"], c["key"]) for c in sig_checks(rep[0], "ok")] \
        == [("conf-1", "signature-1", "sha256,rsa2048", "dev"),
            ("conf-2", "signature-1", "sha256,rsa2048", "dev")]
    assert Fit.load(ctl).node("/signature/key-dev").get_str("required") == "conf"


def test_sign_reproducible(bootpack, its_fits, sign_keys, signed, ws):
    """Same inputs, same bytes; the timestamp from SOURCE_DATE_EPOCH."""
    again = ws / "again.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", again, "--key", sign_keys.rsa()))
    assert again.read_bytes() == signed[0].read_bytes()


def test_sign_timestamp_without_sde_is_the_fits(bootpack, its_fits, sign_keys, ws):
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    fit = ws / "no-sde.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          env=env))
    root = Fit.load(its_fits.unsigned()).node("/").get("timestamp")
    assert root == int(EPOCH).to_bytes(4, "big")      # mkimage made it with SDE
    sig = sig_nodes(fit, "/configurations/conf-2")["signature-1"]
    assert sig.get("timestamp") == root
    env["SOURCE_DATE_EPOCH"] = "1234567890"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          env=env))
    assert sig_nodes(fit, "/configurations/conf-2")["signature-1"].get("timestamp") == \
        (1234567890).to_bytes(4, "big")


def test_sign_in_place(bootpack, its_fits, sign_keys, signed, tmp_path):
    """Without -o the FIT is signed in place, atomically."""
    fit = copy(its_fits.unsigned(), tmp_path / "inplace.fit")
    ok(bp(bootpack, "fit", "sign", fit, "--key", sign_keys.rsa(), guard=False))
    assert fit.read_bytes() == signed[0].read_bytes()
    assert listing(tmp_path) == ["inplace.fit"]


def test_resign_replaces_same_key(bootpack, sign_keys, signed, tmp_path):
    """Re-signing replaces the node; as with mkimage -F, hashed-strings then
    covers the whole strings block, so the first re-signing changes the value
    and the next ones do not."""
    fit, ctl = signed
    again, third = tmp_path / "again.fit", tmp_path / "third.fit"
    proc = ok(bp(bootpack, "fit", "sign", fit, "-o", again, "--key", sign_keys.rsa(), "-v"))
    assert out(proc) == (f"{again}: 2 signatures (sha256,rsa2048, key 'dev'), 2 replaced, "
                         "0 hash nodes added\n")
    assert list(sig_nodes(again, "/configurations/conf-1")) == ["signature-1"]
    ok(verify(bootpack, again, ctl))
    ok(bp(bootpack, "fit", "sign", again, "-o", third, "--key", sign_keys.rsa()))
    assert third.read_bytes() == again.read_bytes()


def test_second_key_adds_a_signature(bootpack, sign_keys, signed, tmp_path):
    fit, ctl = signed
    two = tmp_path / "two.fit"
    ok(bp(bootpack, "fit", "sign", fit, "-o", two, "--key", sign_keys.ec()))
    nodes = sig_nodes(two, "/configurations/conf-1")
    assert sorted((n, s.get_str("key-name-hint")) for n, s in nodes.items()) == \
        [("signature-1", "dev"), ("signature-2", "ec")]
    # U-Boot 2023.01 hashes the begin and end tags of a signed configuration's
    # subnodes, signature nodes included: a signature added later changes the
    # regions of the ones before it. So signature-2 (ec) verifies and dev's
    # signature-1 no longer does, as U-Boot would find.
    both = copy(ctl, tmp_path / "both.dtb")
    ok(bp(bootpack, "fit", "key", "add", both, "-o", both, "--key", sign_keys.ec()))
    proc, rep = verify_json(bootpack, two, both)
    assert proc.returncode == 1
    checks = [(c["node"], c["signature"], c["level"], c["key"]) for c in sig_checks(rep[0])]
    assert checks == [("conf-1", "signature-1", "failure", "dev"),
                      ("conf-1", "signature-2", "ok", "ec"),
                      ("conf-2", "signature-1", "failure", "dev"),
                      ("conf-2", "signature-2", "ok", "ec")], rep
    # Signing with dev once more (the node's tags stay as they are) makes both good.
    three = tmp_path / "three.fit"
    ok(bp(bootpack, "fit", "sign", two, "-o", three, "--key", sign_keys.rsa()))
    proc, rep = verify_json(bootpack, three, both)
    assert proc.returncode == 0, rep
    assert [(c["node"], c["key"]) for c in sig_checks(rep[0], "ok")] == \
        [("conf-1", "dev"), ("conf-1", "ec"), ("conf-2", "dev"), ("conf-2", "ec")]


def test_sign_selected_configs(bootpack, its_fits, sign_keys, tmp_path):
    fit = tmp_path / "conf2.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          "--config", "conf-2"))
    assert sig_nodes(fit, "/configurations/conf-1") == {}
    assert list(sig_nodes(fit, "/configurations/conf-2")) == ["signature-1"]


def test_sign_unknown_config(bootpack, its_fits, sign_keys, tmp_path):
    fit = tmp_path / "x.fit"
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
              "--config", "conf-9")
    assert_fails(proc, its_fits.unsigned(), "conf-9")
    assert listing(tmp_path) == []


def test_sign_images(bootpack, its_fits, sign_keys, tmp_path):
    fit = tmp_path / "img.fit"
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          "--images", "--key-out", ctl, "--required", "image"))
    for img in ("kernel", "fdt-1", "fdt-2"):
        assert list(sig_nodes(fit, f"/images/{img}")) == ["signature-1"]
    assert sig_nodes(fit, "/configurations/conf-1") == {}
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, rep
    assert sorted(c["node"] for c in sig_checks(rep[0], "ok")) == ["fdt-1", "fdt-2", "kernel"]


@pytest.mark.parametrize("algo,name,padding", [
    ("sha256,rsa2048", "dev", "pss"), ("sha384,rsa3072", "dev3072", None),
    ("sha512,rsa4096", "dev4096", "pss"), ("sha1,rsa2048", "dev", None),
    ("sha256,ecdsa256", "ec", None), ("sha384,ecdsa384", "ec384", None)])
def test_algorithms_round_trip(bootpack, its_fits, sign_keys, tmp_path, algo, name, padding):
    """Every algorithm U-Boot names; signing twice gives the same bytes
    (PSS with a zero-length salt, ECDSA with RFC 6979 nonces)."""
    fit = tmp_path / "a.fit"
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    pad = ["--padding", padding] if padding else []
    args = ["fit", "sign", its_fits.unsigned(), "--key", sign_keys.by_name(name), "--algo", algo,
            *pad, "--key-out", ctl, "--required", "conf"]
    ok(bp(bootpack, *args, "-o", fit))
    sig = sig_nodes(fit, "/configurations/conf-1")["signature-1"]
    assert sig.get_str("algo") == algo
    if padding:
        assert sig.get_str("padding") == padding
    else:
        assert not sig.has("padding")
    bits = int(algo.split(",")[1][-4 if "rsa" in algo else -3:])
    assert len(sig.get("value")) == (bits // 8 if "rsa" in algo else 2 * bits // 8)
    proc, rep = verify_json(bootpack, fit, ctl)
    assert proc.returncode == 0, rep
    assert rep[0]["signatures_ok"] == 2
    again = tmp_path / "b.fit"
    ok(bp(bootpack, *args[:-4], "-o", again))
    assert again.read_bytes() == fit.read_bytes()


def test_algo_hash_only(bootpack, its_fits, sign_keys, tmp_path):
    """--algo sha384 pairs the hash with the key's type."""
    fit = tmp_path / "h.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.ec(),
          "--algo", "sha384"))
    assert sig_nodes(fit, "/configurations/conf-1")["signature-1"].get_str("algo") == \
        "sha384,ecdsa256"


def test_sign_adds_hash_nodes(bootpack, samples, its_fits, sign_keys, tmp_path):
    """A FIT without hash nodes gets sha256 ones, as U-Boot needs."""
    plain = tmp_path / "plain.fit"
    ok(bp(bootpack, "fit", "build", "-o", plain, *ARCH_ARGS, "-k", its_fits.kernel,
          samples / "demo-a.dtb"))
    assert Raw(plain).subnodes("/images/kernel") == []
    fit = tmp_path / "hashed.fit"
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    proc = ok(bp(bootpack, "fit", "sign", plain, "-o", fit, "--key", sign_keys.rsa(), "-v",
                 "--key-out", ctl, "--required", "conf"))
    assert out(proc).startswith(f"{fit}: 1 signature (sha256,rsa2048, key 'dev'), 0 replaced, "
                                "2 hash nodes added\n"), out(proc)
    for img in ("kernel", "fdt-1"):
        assert Fit.load(fit).node(f"/images/{img}/hash-1").get_str("algo") == "sha256"
    ok(verify(bootpack, fit, ctl))


def test_sign_external_data(bootpack, samples, its_fits, sign_keys, tmp_path):
    ext = tmp_path / "ext.fit"
    ok(bp(bootpack, "fit", "build", "-o", ext, *ARCH_ARGS, "-k", its_fits.kernel, "-E",
          "--hash", "sha256", samples / "demo-a.dtb", samples / "demo-b.dtb"))
    fit = tmp_path / "ext-signed.fit"
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    ok(bp(bootpack, "fit", "sign", ext, "-o", fit, "--key", sign_keys.rsa(), "--key-out", ctl,
          "--required", "conf"))
    ok(verify(bootpack, fit, ctl))
    # The external data is where data-offset says, and unchanged.
    for img in ("kernel", "fdt-1", "fdt-2"):
        assert Raw(fit).stored(img) == Raw(ext).stored(img)


def test_build_sign(bootpack, samples, its_fits, sign_keys, tmp_path):
    """fit build --sign equals fit build --hash sha256 followed by fit sign."""
    common = ["-o", None, *ARCH_ARGS, "-k", its_fits.kernel, "-c", "gzip", "--load-address",
              "40200000", samples / "demo-a.dtb", samples / "demo-b.dtb"]
    built = tmp_path / "built.fit"
    common[1] = built
    ok(bp(bootpack, "fit", "build", *common, "--sign", sign_keys.rsa(), "--key-name", "prod"))
    plain = tmp_path / "plain.fit"
    common[1] = plain
    ok(bp(bootpack, "fit", "build", *common, "--hash", "sha256"))
    after = tmp_path / "after.fit"
    ok(bp(bootpack, "fit", "sign", plain, "-o", after, "--key", sign_keys.rsa(),
          "--key-name", "prod"))
    assert built.read_bytes() == after.read_bytes()
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    ok(bp(bootpack, "fit", "key", "add", ctl, "-o", ctl, "--key", sign_keys.crt(), "--key-name", "prod",
          "--required", "conf"))
    proc, rep = verify_json(bootpack, built, ctl)
    assert proc.returncode == 0, rep
    assert [c["key"] for c in sig_checks(rep[0], "ok")] == ["prod", "prod"]


def test_key_add_in_place_and_replace(bootpack, sign_keys, tmp_path):
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    ok(bp(bootpack, "fit", "key", "add", ctl, "--key", sign_keys.crt(), guard=False))
    first = ctl.read_bytes()
    assert Fit.load(ctl).node("/signature/key-dev").get_str("algo") == "sha256,rsa2048"
    assert not Fit.load(ctl).node("/signature/key-dev").has("required")
    # Again with --required: the node is replaced, not doubled.
    ok(bp(bootpack, "fit", "key", "add", ctl, "--key", sign_keys.rsa(), "--required", "image",
          guard=False))
    sig = Fit.load(ctl).node("/signature")
    assert sig.child_names() == ["key-dev"]
    assert sig.child("key-dev").get_str("required") == "image"
    assert ctl.read_bytes() != first
    assert listing(tmp_path) == ["ctl.dtb"]


def test_key_add_output(bootpack, sign_keys, tmp_path):
    src = sign_keys.control()
    dest = tmp_path / "new.dtb"
    ok(bp(bootpack, "fit", "key", "add", src, "--key", sign_keys.pub(), "-o", dest,
          "--key-name", "release"))
    assert Fit.load(dest).node("/signature/key-release").get_str("key-name-hint") == "release"


# --------------------------------------------------------------------------
# tampering: each must fail fit verify --key (exit 1)

def tamper_kernel_byte(fdt):
    kern = fdt.path_offset("/images/kernel")
    data = bytearray(fdt.getprop(kern, "data"))
    data[0x1000] ^= 1
    fdt.setprop(kern, "data", bytes(data))


def tamper_kernel_and_hash(fdt):
    """The attacker fixes the hash too: only the signature catches it."""
    kern = fdt.path_offset("/images/kernel")
    data = bytearray(fdt.getprop(kern, "data"))
    data[0x1000] ^= 1
    fdt.setprop(kern, "data", bytes(data))
    recompute_hashes(fdt, "/images/kernel", bytes(data))


def tamper_config_prop(fdt):
    fdt.setprop_str(fdt.path_offset("/configurations/conf-1"), "description", "evil")


def tamper_swap_fdt(fdt):
    """conf-1 now boots fdt-2: the configuration changed after signing."""
    fdt.setprop_str(fdt.path_offset("/configurations/conf-1"), "fdt", "fdt-2")


def tamper_extra_image(fdt):
    """An unsigned image added and referenced by a signed configuration."""
    imgs = fdt.path_offset("/images")
    new = fdt.add_subnode(imgs, "evil")
    fdt.setprop_str(new, "type", "ramdisk")
    fdt.setprop(new, "data", b"evil ramdisk")
    fdt.setprop_str(fdt.path_offset("/configurations/conf-1"), "ramdisk", "evil")


def tamper_hashed_nodes_drop_fdt(fdt):
    """A region list that leaves out a referenced image and its hash."""
    sig = fdt.path_offset("/configurations/conf-1/signature-1")
    fdt.setprop(sig, "hashed-nodes", b"/\0/configurations/conf-1\0/images/kernel\0"
                                     b"/images/kernel/hash-1\0")


def tamper_value(fdt):
    sig = fdt.path_offset("/configurations/conf-2/signature-1")
    value = bytearray(fdt.getprop(sig, "value"))
    value[7] ^= 0x80
    fdt.setprop(sig, "value", bytes(value))


def tamper_root_prop(fdt):
    fdt.setprop_str(0, "description", "changed")


def tamper_drop_signature(fdt):
    fdt.del_node(fdt.path_offset("/configurations/conf-2/signature-1"))


def tamper_algo_other_hash(fdt):
    sig = fdt.path_offset("/configurations/conf-1/signature-1")
    fdt.setprop_str(sig, "algo", "sha384,rsa2048")


TAMPER = {f.__name__[7:].replace("_", "-"): f for f in [
    tamper_kernel_byte, tamper_kernel_and_hash, tamper_config_prop, tamper_swap_fdt,
    tamper_extra_image, tamper_hashed_nodes_drop_fdt, tamper_value, tamper_root_prop,
    tamper_drop_signature, tamper_algo_other_hash]}


@pytest.mark.parametrize("how", TAMPER)
def test_tampered_fails_verify(bootpack, signed, tmp_path, how):
    fit, ctl = signed
    bad = edit(fit, TAMPER[how], tmp_path / "bad.fit")
    proc = verify(bootpack, bad, ctl, "-q")
    assert proc.returncode == 1, (out(proc), err(proc))
    lines = err(proc).splitlines()
    assert lines[-1].startswith(f"bootpack: '{bad}': FAILED: "), lines
    assert all(ln.startswith(f"bootpack: '{bad}': ") for ln in lines), lines
    proc, rep = verify_json(bootpack, bad, ctl, "-q")
    assert proc.returncode == 1 and not rep[0]["ok"] and rep[0]["failures"] >= 1, rep


def test_other_key_same_name_fails(bootpack, its_fits, sign_keys, signed, tmp_path):
    _, ctl = signed
    bad = tmp_path / "other.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", bad, "--key", sign_keys.other()))
    proc, rep = verify_json(bootpack, bad, ctl)
    assert proc.returncode == 1
    assert [(c["node"], c["level"]) for c in sig_checks(rep[0])] == \
        [("conf-1", "failure"), ("conf-2", "failure")], rep
    assert rep[0]["signatures_bad"] == 2


def test_unsigned_under_required_key_fails(bootpack, its_fits, signed):
    _, ctl = signed
    proc = verify(bootpack, its_fits.unsigned(), ctl, "-q")
    assert proc.returncode == 1
    lines = err(proc).splitlines()
    assert any("conf-1" in ln and "dev" in ln for ln in lines), lines


def test_verify_selected_config(bootpack, its_fits, sign_keys, signed, tmp_path):
    """--config conf-2: only conf-2's signature is checked (conf-1 unsigned passes)."""
    _, ctl = signed
    fit = tmp_path / "conf2.fit"
    ok(bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", fit, "--key", sign_keys.rsa(),
          "--config", "conf-2"))
    assert verify(bootpack, fit, ctl, "-q").returncode == 1
    proc, rep = verify_json(bootpack, fit, ctl, "--config", "conf-2")
    assert proc.returncode == 0, rep
    assert [c["node"] for c in sig_checks(rep[0], "ok")] == ["conf-2"]


def test_verify_without_key_reports_hashes_only(bootpack, signed):
    fit, _ = signed
    proc = ok(bp(bootpack, "fit", "verify", fit))
    assert "signatures verified" not in out(proc)


# --------------------------------------------------------------------------
# errors: one line, exit 1, nothing written

def test_sign_with_certificate_fails(bootpack, its_fits, sign_keys, tmp_path):
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", tmp_path / "x.fit",
              "--key", sign_keys.crt())
    assert_fails(proc, sign_keys.crt())
    assert listing(tmp_path) == []


def test_sign_with_garbage_key_fails(bootpack, its_fits, tmp_path):
    key = tmp_path / "garbage.key"
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n")
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", tmp_path / "x.fit",
              "--key", key)
    assert_fails(proc, key)
    assert listing(tmp_path) == ["garbage.key"]


def test_sign_missing_key_file(bootpack, its_fits, tmp_path):
    key = tmp_path / "nope.key"
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", tmp_path / "x.fit",
              "--key", key)
    assert_fails(proc, key)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("algo", ["sha256,ecdsa256", "sha256,rsa4096"])
def test_sign_algo_does_not_fit_key(bootpack, its_fits, sign_keys, tmp_path, algo):
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", tmp_path / "x.fit",
              "--key", sign_keys.rsa(), "--algo", algo)
    assert proc.returncode == 1 and len(err(proc).splitlines()) == 1, err(proc)
    assert listing(tmp_path) == []


def test_sign_refuses_unit_address(bootpack, its_fits, sign_keys, tmp_path):
    """U-Boot refuses '@' in image and configuration names under signatures."""
    src = edit(its_fits.unsigned(), lambda f: f.set_name(f.path_offset("/images/fdt-1"),
                                                         "fdt@1"), tmp_path / "at.fit")
    proc = bp(bootpack, "fit", "sign", src, "-o", tmp_path / "x.fit", "--key", sign_keys.rsa())
    assert_fails(proc, src, "fdt@1")
    assert listing(tmp_path) == ["at.fit"]


def test_sign_key_out_not_a_dtb_writes_nothing(bootpack, its_fits, sign_keys, tmp_path):
    ctl = tmp_path / "ctl.dtb"
    ctl.write_bytes(b"not a devicetree")
    proc = bp(bootpack, "fit", "sign", its_fits.unsigned(), "-o", tmp_path / "x.fit",
              "--key", sign_keys.rsa(), "--key-out", ctl)
    assert_fails(proc, ctl)
    assert listing(tmp_path) == ["ctl.dtb"]
    assert ctl.read_bytes() == b"not a devicetree"


def test_key_add_garbage_key(bootpack, sign_keys, tmp_path):
    ctl = copy(sign_keys.control(), tmp_path / "ctl.dtb")
    key = tmp_path / "junk.crt"
    key.write_bytes(os.urandom(300))
    proc = bp(bootpack, "fit", "key", "add", ctl, "--key", key, "-o", tmp_path / "out.dtb")
    assert_fails(proc, key)
    assert listing(tmp_path) == ["ctl.dtb", "junk.crt"]


def test_verify_key_not_a_dtb(bootpack, signed, tmp_path):
    fit, _ = signed
    ctl = tmp_path / "ctl.dtb"
    ctl.write_bytes(b"\xd0\x0d\xfe\xed" + bytes(60))
    proc = verify(bootpack, fit, ctl)
    assert proc.returncode == 1
    assert err(proc).count("\n") == 1, err(proc)


def test_sign_refuses_repeated_hash_node_name(bootpack, its_fits, sign_keys, tmp_path):
    """Two hash nodes of one name would both land in hashed-nodes under one
    path, which U-Boot's region walk and fit verify refuse: refuse to sign."""
    def twin(fdt):
        kern = fdt.path_offset("/images/kernel")
        new = fdt.add_subnode(kern, "hash-2")
        fdt.setprop_str(new, "algo", "sha1")
        fdt.set_name(new, "hash-1")
    src = edit(its_fits.unsigned(), twin, tmp_path / "twin.fit")
    assert Fit.load(src).node("/images/kernel").children[-1].name == "hash-1"
    proc = bp(bootpack, "fit", "sign", src, "-o", tmp_path / "x.fit", "--key", sign_keys.rsa())
    assert_fails(proc, src, "two subnodes of image 'kernel' are called 'hash-1'")
    assert listing(tmp_path) == ["twin.fit"]


def test_verify_root_without_description(bootpack, signed, tmp_path):
    """U-Boot's fit_check_format() refuses a FIT with no root description:
    a failure under keys (a warning without)."""
    fit, ctl = signed
    bad = edit(fit, lambda f: f.delprop(0, "description"), tmp_path / "nodesc.fit")
    proc, rep = verify_json(bootpack, bad, ctl)
    assert proc.returncode == 1
    root = [c for c in rep[0]["checks"] if "no 'description'" in c["message"]]
    assert [(c["node"], c["level"]) for c in root] == [("", "failure")], rep
    proc, rep = verify_json(bootpack, bad, ctl, "--config", "conf-2")
    assert proc.returncode == 1
    proc = bp(bootpack, "fit", "verify", "--json", bad)
    root = [c for c in json.loads(proc.stdout)[0]["checks"]
            if "no 'description'" in c["message"]]
    assert [c["level"] for c in root] == ["warning"]


@pytest.mark.parametrize("raw,why", [(b"", "empty"), (b"\0", "empty"),
                                     (b"pkcs-1.5", "not NUL-terminated")])
def test_verify_malformed_padding_fails(bootpack, signed, tmp_path, raw, why):
    """U-Boot looks a present 'padding' up by name and refuses what it does
    not know; an empty or unterminated one is not the default."""
    fit, ctl = signed
    bad = edit(fit, lambda f: f.setprop(
        f.path_offset("/configurations/conf-1/signature-1"), "padding", raw),
        tmp_path / "pad.fit")
    proc, rep = verify_json(bootpack, bad, ctl)
    assert proc.returncode == 1
    assert [(c["node"], c["level"]) for c in sig_checks(rep[0], "failure")] == \
        [("conf-1", "failure")], rep
    assert f"'padding' is {why}" in sig_checks(rep[0], "failure")[0]["message"]


@pytest.mark.parametrize("raw", [b"", b"pss", b"p"])
def test_resign_rewrites_malformed_padding(bootpack, sign_keys, signed, tmp_path, raw):
    """Re-signing with the same key writes a padding U-Boot can read."""
    fit, ctl = signed
    bad = edit(fit, lambda f: f.setprop(
        f.path_offset("/configurations/conf-1/signature-1"), "padding", raw),
        tmp_path / "pad.fit")
    again = tmp_path / "again.fit"
    ok(bp(bootpack, "fit", "sign", bad, "-o", again, "--key", sign_keys.rsa()))
    node = Fit.load(again).node("/configurations/conf-1/signature-1")
    assert node.get_str("padding") == "pkcs-1.5"
    ok(verify(bootpack, again, ctl))


def test_key_add_devicetree_at_libfdt_limit(bootpack, sign_keys, tmp_path):
    """A control devicetree too close to 2 GiB for a key node to fit: one
    error line, nothing written (it once crashed). Sparse file."""
    small = libfdt.Fdt(bytearray(sign_keys.control().read_bytes()))
    blob = bytearray(small.as_bytearray())
    size = 2**31 - 1024
    blob[4:8] = size.to_bytes(4, "big")  # totalsize: the rest is free space
    big = tmp_path / "big.dtb"
    with open(big, "wb") as f:
        f.write(blob)
        f.truncate(size)
    try:
        proc = bp(bootpack, "fit", "key", "add", big, "--key", sign_keys.pub(),
                  "-o", tmp_path / "out.dtb")
        assert_fails(proc, big, f"file is {size} bytes, more than the limit of {2**31 - 1 - 4096}")
        assert listing(tmp_path) == ["big.dtb"]
    finally:
        big.unlink()


def test_verify_key_missing(bootpack, signed, tmp_path):
    fit, _ = signed
    ctl = tmp_path / "nothing.dtb"
    assert_fails(verify(bootpack, fit, ctl), ctl, "No such file")


# --------------------------------------------------------------------------
# usage errors: exit 2

@pytest.mark.parametrize("args,msg", [
    ([], "no FIT file given"),
    (["a.fit"], "missing required option -k/--key"),
    (["a.fit", "b.fit", "--key", "k"], "one FIT at a time: unexpected 'b.fit'"),
    (["a.fit", "--key", "k", "--algo", "sha256,rsa1024"],
     "--algo 'sha256,rsa1024': expected HASH or HASH,CIPHER with HASH sha1, sha256, sha384 or "
     "sha512 and CIPHER rsa2048, rsa3072, rsa4096, ecdsa256 or ecdsa384 (e.g. sha256,rsa2048)"),
    (["a.fit", "--key", "k", "--algo", "md5"],
     "--algo 'md5': expected HASH or HASH,CIPHER with HASH sha1, sha256, sha384 or sha512 and "
     "CIPHER rsa2048, rsa3072, rsa4096, ecdsa256 or ecdsa384 (e.g. sha256,rsa2048)"),
    (["a.fit", "--key", "k", "--padding", "oaep"], "--padding 'oaep': expected pkcs-1.5 or pss"),
    (["a.fit", "--key", "k", "--required", "conf"], "--required needs --key-out"),
    (["a.fit", "--key", "k", "--key-out", "c.dtb", "--required", "all"],
     "--required 'all': expected conf or image"),
    (["a.fit", "--key", "k", "--config", "conf-1", "--images"],
     "--config and --images do not go together: --images signs every image"),
    (["a.fit", "--key", "k", "--key-name", "a@b"],
     "--key-name 'a@b': expected 1 to 27 of the characters a-z A-Z 0-9 , . _ + - (the node is "
     "/signature/key-NAME)"),
    (["a.fit", "--key", "k", "--jobs", "x"],
     "--jobs 'x': expected a number from 0 (all CPUs) to 256"),
    (["a.fit", "--key"], "option '--key' needs an argument"),
    (["a.fit", "--key", "k", "-o", "-"],
     "'-' is not a file: fit sign writes its outputs in place or to a named file"),
    (["a.fit", "--bogus"], "unknown option '--bogus'"),
])
def test_sign_usage(bootpack, tmp_path, args, msg):
    assert_usage(bp(bootpack, "fit", "sign", *args, cwd=tmp_path), "fit sign", msg)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("args,msg", [
    ([], "no control devicetree given"),
    (["c.dtb"], "missing required option -k/--key"),
    (["c.dtb", "--key", "k", "--required", "yes"], "--required 'yes': expected conf or image"),
    (["c.dtb", "d.dtb", "--key", "k"], "one devicetree at a time: unexpected 'd.dtb'"),
    (["c.dtb", "--key", "k", "-o", "-"],
     "'-' is not a file: fit key add writes the devicetree in place or to a named file"),
    (["c.dtb", "--key", "k", "--key-name", ""],
     "--key-name '': expected 1 to 27 of the characters a-z A-Z 0-9 , . _ + - (the node is "
     "/signature/key-NAME)"),
])
def test_key_add_usage(bootpack, tmp_path, args, msg):
    assert_usage(bp(bootpack, "fit", "key", "add", *args, cwd=tmp_path), "fit key add", msg)


@pytest.mark.parametrize("args,msg", [
    ([], "needs a command: add"),
    (["remove"], "unknown command 'remove' (the command is add)"),
])
def test_key_usage(bootpack, args, msg):
    assert_usage(bp(bootpack, "fit", "key", *args), "fit key", msg)


@pytest.mark.parametrize("args,msg", [
    (["--key-name", "x"], "--key-name needs --sign"),
    (["--padding", "pss"], "--padding needs --sign"),
    (["--sign", "k", "--algo", "sha256,dsa"],
     "--algo 'sha256,dsa': expected HASH or HASH,CIPHER with HASH sha1, sha256, sha384 or "
     "sha512 and CIPHER rsa2048, rsa3072, rsa4096, ecdsa256 or ecdsa384 (e.g. sha256,rsa2048)"),
])
def test_build_sign_usage(bootpack, samples, tmp_path, args, msg):
    proc = bp(bootpack, "fit", "build", "-o", tmp_path / "o.fit", *ARCH_ARGS, "-k",
              samples / "demo-c.dtb", *args, samples / "demo-a.dtb")
    assert_usage(proc, "fit build", msg)
    assert listing(tmp_path) == []


def test_help_lists_commands(bootpack):
    text = out(ok(bp(bootpack, "fit", "--help")))
    assert "  sign " in text and "  key add " in text
    for args in (["fit", "sign", "--help"], ["fit", "key", "add", "--help"],
                 ["fit", "key", "--help"]):
        assert out(ok(bp(bootpack, *args))).startswith("Usage: bootpack fit ")
    assert "--key DTB" in out(ok(bp(bootpack, "fit", "verify", "--help")))


def test_verify_json_keys_documented_in_man_page(bootpack, signed, tmp_path):
    """Every key fit verify --json prints is in the man page's fit verify section."""
    fit, ctl = signed
    _, rep = verify_json(bootpack, fit, ctl)
    missing = tmp_path / "missing.fit"
    proc = bp(bootpack, "fit", "verify", "--json", missing)
    err_rep = json.loads(proc.stdout)
    assert proc.returncode == 1 and err_rep[0]["ok"] is False and err_rep[0]["error"]
    keys = set(rep[0]) | set(rep[0]["checks"][0]) | set(err_rep[0])
    man = (Path(__file__).resolve().parents[2] / "doc" / "bootpack.1").read_text()
    man = man.replace("\\-", "-")
    section = man[man.index('.SS "bootpack fit verify"'):man.index('.SS "bootpack fit sign"')]
    for key in sorted(keys):
        assert re.search(rf"^\.BR? .*\b{key}\b", section, re.M), f"JSON key {key} is not documented"
