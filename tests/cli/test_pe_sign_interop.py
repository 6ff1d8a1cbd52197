# SPDX-License-Identifier: MIT
"""Authenticode interop: bootpack's PE signatures checked by sbsigntool,
osslsigncode and pesign, and theirs checked by bootpack, on real images:
systemd-boot's x64 and aa64 stub and boot manager, arm64 zboot kernels
(6.12 gzip and zstd, 6.1 gzip), and Debian's own signed arm64 kernel.

Also: every tool agrees with `bootpack pe hash` on the digest; a one-byte
change inside the hashed ranges fails bootpack's and sbverify's check while
one in CheckSum fails neither; sbsign's output changes from run to run in
its signingTime (and what follows from it: the signature value, CheckSum),
bootpack's does not change at all.

CLI behaviour (options, usage and error lines) is test_pe_sign.py's;
Secure Boot under QEMU is test_boot_secure.py's. Keys are made at test time
(signkeys.py) and shared between the xdist workers, as are the signed images
(each made once per session: conftest.produce_once)."""

import json
import os
import re
import struct
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import bootpack_path, produce_once, run, session_dir
from signkeys import ensure_tool, pki, sign_keys  # noqa: F401

TOOLS = ("sbsign", "sbverify", "pesign", "certutil", "pk12util", "osslsigncode", "openssl")

STUBS = ["systemd-bootx64.efi", "linuxx64.efi.stub", "systemd-bootaa64.efi",
         "linuxaa64.efi.stub"]
ZBOOTS = [("6.12", "gzip"), ("6.12", "zstd"), ("6.1", "gzip")]
IMAGES = STUBS + [f"zboot-{v}-{c}" for v, c in ZBOOTS]
SIGNERS = ["sbsign", "pesign", "osslsigncode"]

EPOCH = 1700000000          # 2023-11-14 22:13:20 UTC
EPOCH_UTCTIME = "231114221320Z"
DEBIAN_SIGNER = "Debian Secure Boot Signer 2022 - linux"


# --------------------------------------------------------------------------
# The PE fields and the certificate table, read here independently of bootpack.

class Entry(NamedTuple):
    offset: int     # of the WIN_CERTIFICATE
    length: int     # dwLength
    revision: int
    type: int
    der: bytes      # bCertificate up to dwLength


class Layout(NamedTuple):
    checksum: int           # file offset of CheckSum
    security_dir: int       # file offset of the Security data directory entry
    size_of_headers: int
    sections: list          # [(name, raw offset, raw size)] in file order
    table: int              # certificate table offset (0: none)
    table_size: int


def layout(data):
    pe = struct.unpack_from("<I", data, 0x3c)[0]
    assert data[pe:pe + 4] == b"PE\0\0"
    nsec = struct.unpack_from("<H", data, pe + 6)[0]
    optsz = struct.unpack_from("<H", data, pe + 20)[0]
    opt = pe + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    dd = opt + (96 if magic == 0x10b else 112)
    table, table_size = struct.unpack_from("<II", data, dd + 4 * 8)
    secs = []
    for i in range(nsec):
        s = opt + optsz + 40 * i
        size, ptr = struct.unpack_from("<II", data, s + 16)
        if size:
            secs.append((data[s:s + 8].rstrip(b"\0").decode(errors="replace"), ptr, size))
    return Layout(opt + 64, dd + 4 * 8, struct.unpack_from("<I", data, opt + 60)[0],
                  sorted(secs, key=lambda s: s[1]), table, table_size)


def cert_table(path):
    """The certificate table's entries, checked as a UEFI loader walks it:
    each entry 8-aligned after the previous one, the table ending the file."""
    data = Path(path).read_bytes()
    lay = layout(data)
    assert lay.table and lay.table_size, f"{path}: no certificate table"
    assert lay.table % 8 == 0 and lay.table + lay.table_size == len(data), \
        f"{path}: table at {lay.table}+{lay.table_size}, file size {len(data)}"
    entries, p = [], lay.table
    while p < lay.table + lay.table_size:
        length, rev, typ = struct.unpack_from("<IHH", data, p)
        assert 8 < length <= lay.table + lay.table_size - p, f"{path}: entry at {p}: {length}"
        entries.append(Entry(p, length, rev, typ, data[p + 8:p + length]))
        p += (length + 7) & ~7
    assert p == lay.table + lay.table_size
    return entries


class Asn1(NamedTuple):
    offset: int
    header: int
    length: int
    text: str       # "prim: OBJECT :signingTime" ...

    @property
    def value(self):
        """(start, end) of the contents in the DER."""
        return self.offset + self.header, self.offset + self.header + self.length


def asn1parse(der):
    proc = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=der,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = []
    for line in proc.stdout.decode().splitlines():
        m = re.match(r"^\s*(\d+):d=\s*\d+\s+hl=\s*(\d+)\s+l=\s*(\d+)\s+(.*)$", line)
        if m:
            out.append(Asn1(int(m[1]), int(m[2]), int(m[3]), m[4]))
    return out


def signing_time(der):
    """The signingTime attribute's UTCTime item in a PKCS#7, or None."""
    items = asn1parse(der)
    for i, it in enumerate(items):
        if it.text.endswith(":signingTime"):
            t = items[i + 2]      # SET, then the time
            assert "UTCTIME" in t.text or "GENERALIZEDTIME" in t.text, t
            return t
    return None


# --------------------------------------------------------------------------
# The tools

def bootpack(*args, check=True, env=None):
    return run([bootpack_path(), *args], check=check, env=env, timeout=300)


def text(proc):
    return (proc.stdout + proc.stderr).decode(errors="replace")


_hashes = {}


def bp_hash(path, algo=None):
    """`bootpack pe hash` of @path, once per file version (the images here
    are never changed in place)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, algo)
    if key not in _hashes:
        out = bootpack("pe", "hash", *(["--digest", algo] if algo else []), path).stdout
        m = re.fullmatch(r"hash: ([0-9a-f]{64,128})\n", out.decode())
        assert m, f"pe hash {path}: {out!r}"
        _hashes[key] = m[1]
    return _hashes[key]


def pesign_hash(path):
    out = run(["pesign", "-h", "-i", path]).stdout.decode()
    m = re.fullmatch(r"hash: ([0-9a-f]{64})\s*", out)
    assert m, f"pesign -h {path}: {out!r}"
    return m[1]


def ossl_verify(path, ca):
    """(exit code, output) of osslsigncode verify; the TSA file is the CA file
    too, so that the result does not depend on the system's CA store."""
    proc = run(["osslsigncode", "verify", "-CAfile", ca, "-TSA-CAfile", ca, "-in", path],
               check=False)
    return proc.returncode, text(proc)


def ossl_digests(out):
    """osslsigncode verify's (current, calculated) message digests, lowercase."""
    cur = re.findall(r"Current message digest\s*:\s*([0-9A-Fa-f]+)", out)
    calc = re.findall(r"Calculated message digest\s*:\s*([0-9A-Fa-f]+)", out)
    assert cur and calc, out
    return cur[0].lower(), calc[0].lower()


def sbverify(path, cert):
    proc = run(["sbverify", "--cert", cert, path], check=False)
    return proc.returncode, text(proc)


def pe_info_json(path):
    return json.loads(bootpack("pe", "info", "--json", path).stdout)


def entry_lines(out):
    """pe verify's verdict lines, one per signature in table order."""
    return re.findall(r"signature \d+: .*", out)


def verify_many(paths, cert):
    """One `pe verify --cert CERT` run over @paths: {path: (passed, verdict
    lines)}, from the per-file lines (stdout when it passes, stderr not)."""
    proc = bootpack("pe", "verify", "--cert", cert, *paths, check=False)
    out, err = proc.stdout.decode().splitlines(), proc.stderr.decode().splitlines()
    res = {}
    for p in paths:
        mine = [ln for ln in out if ln.startswith(f"{p}: ")] + \
               [ln for ln in err if ln.startswith(f"bootpack: '{p}': ")]
        passed = f"{p}: OK (" in "\n".join(mine)
        assert passed != any(": FAILED: " in ln for ln in mine), "\n".join(mine)
        res[p] = (passed, entry_lines("\n".join(mine)))
    assert proc.returncode == (0 if all(v[0] for v in res.values()) else 1), text(proc)
    return res


def is_trusted(line):
    return line.rstrip().endswith("digest matches, signature valid, trusted")


def pesign_list(path):
    """The signer common names `pesign -S` lists, in table order."""
    proc = run(["pesign", "-S", "-i", path])
    return re.findall(r"The signer's common name is (.*)", proc.stdout.decode())


# --------------------------------------------------------------------------
# Fixtures

class Kit:
    """Keys and certificates (signkeys.Pki, shared with test_pe_sign.py), the
    NSS database pesign signs from, and the signed images, each made once per
    session: db and other are self-signed (as in a UEFI db), leaf is issued by
    inter-ca under root-ca."""

    def __init__(self, pki, work, nss):
        self.key, self.crt = pki.self_signed("db")
        self.other_key, self.other_crt = pki.self_signed("other")
        _, self.ca = pki.self_signed("root-ca", ca=True)
        pki.issued("inter-ca", "root-ca", ca=True, serial=0x1234)
        self.inter = pki.crt("inter-ca")
        self.leaf_key, self.leaf_crt = pki.issued("leaf", "inter-ca", serial=0xabcdef)
        self.work, self.nss = work, nss

    def signer(self, who):
        return {"db": (self.key, self.crt), "other": (self.other_key, self.other_crt),
                "leaf": (self.leaf_key, self.leaf_crt)}[who]

    def sign(self, tool, src, tag, who="db", extra=(), variant=""):
        """@src signed by @tool with @who's key and @extra options, as
        WORK/TAG.TOOL-WHO[VARIANT].efi (@variant names what @extra does)."""
        key, crt = self.signer(who)

        def make(tmp):
            if tool == "bootpack":
                bootpack("pe", "sign", src, "--key", key, "--cert", crt, *extra, "-o", tmp)
            elif tool == "sbsign":
                run(["sbsign", "--key", key, "--cert", crt, *extra, "--output", tmp, src])
            elif tool == "pesign":
                assert who == "db" and not extra, "the NSS database holds the db key only"
                run(["pesign", "-s", "-n", self.nss, "-c", "db", "-i", src, "-o", tmp])
            elif tool == "osslsigncode":
                opts = list(extra) if "-h" in extra else ["-h", "sha256", *extra]
                run(["osslsigncode", "sign", *opts, "-certs", crt, "-key", key,
                     "-in", src, "-out", tmp])
            else:
                raise ValueError(tool)
        return produce_once(self.work / f"{tag}.{tool}-{who}{variant}.efi", make)


def make_nssdb(d, key, crt):
    """A throw-away NSS database with @key under the nickname db, for pesign."""
    d.mkdir()
    p12 = d / "db.p12"
    run(["certutil", "-N", "-d", f"sql:{d}", "--empty-password"])
    run(["openssl", "pkcs12", "-export", "-inkey", key, "-in", crt, "-name", "db",
         "-passout", "pass:", "-out", p12])
    run(["pk12util", "-i", p12, "-d", f"sql:{d}", "-W", ""])
    return d


@pytest.fixture(scope="module")
def kit(pki, tmp_path_factory):  # noqa: F811
    for t in TOOLS:
        ensure_tool(t)
    work = session_dir(tmp_path_factory) / "pe-interop"
    work.mkdir(exist_ok=True)
    key, crt = pki.self_signed("db")
    return Kit(pki, work, make_nssdb(tmp_path_factory.mktemp("nss") / "db", key, crt))


def image(request, name):
    """The unsigned input called @name (zboot-VER-COMP or a systemd-boot file)."""
    if name.startswith("zboot-"):
        _, ver, comp = name.split("-")
        return request.getfixturevalue("zboot_kernels")[(ver, comp)].efi
    return request.getfixturevalue("efi_stubs")[name]


# --------------------------------------------------------------------------
# bootpack's signatures, checked by the others

@pytest.mark.parametrize("name", IMAGES)
def test_bootpack_signature_accepted_by_others(request, kit, name):
    signed = kit.sign("bootpack", image(request, name), name)
    [entry] = cert_table(signed)
    assert (entry.revision, entry.type) == (0x0200, 0x0002)

    rc, out = sbverify(signed, kit.crt)
    assert rc == 0 and "Signature verification OK" in out, out
    rc, out = sbverify(signed, kit.other_crt)
    assert rc != 0, f"sbverify trusted another key's certificate:\n{out}"

    rc, out = ossl_verify(signed, kit.crt)
    assert rc == 0 and "Succeeded" in out, out
    cur, calc = ossl_digests(out)
    assert cur == calc == bp_hash(signed)

    assert pesign_list(signed) == ["db"]


# --------------------------------------------------------------------------
# The others' signatures, checked by bootpack

@pytest.mark.parametrize("name", IMAGES)
def test_others_signatures_verified_by_bootpack(request, kit, name):
    src = image(request, name)
    signed = [kit.sign(tool, src, name) for tool in SIGNERS]
    for img in signed:
        assert len(cert_table(img)) == 1, img

    for img, (passed, [line]) in verify_many(signed, kit.crt).items():
        assert passed and line.startswith("signature 1: CN=db, sha256: ") and is_trusted(line), \
            f"{img.name}: {line}"
    # Sound but not trusted: said so, and the image fails.
    for img, (passed, [line]) in verify_many(signed, kit.other_crt).items():
        assert not passed and line.startswith(
            "signature 1: CN=db, sha256: digest matches, signature valid, NOT trusted"), \
            f"{img.name}: {line}"

    # pe info's listing: the signed digest is pesign -h's. (On a zboot image
    # pe info also decompresses the payload to look at the inner Image: one
    # listing there, of pesign's signature, which has its own encoding.)
    for img in signed[1:2] if name.startswith("zboot-") else signed:
        [sig] = pe_info_json(img)["signatures"]
        assert sig["signer"] == "CN=db" and sig["digest_matches"] is True, f"{img.name}: {sig}"
        assert (sig["digest_algo"], sig["digest"]) == ("sha256", pesign_hash(img)), \
            f"{img.name}: {sig}"


# --------------------------------------------------------------------------
# The digest: bootpack, pesign, osslsigncode and the signers agree

@pytest.mark.parametrize("name", IMAGES)
def test_hash_agrees_with_pesign_and_signers(request, kit, name):
    src = image(request, name)
    assert bp_hash(src) == pesign_hash(src)

    # Signing pads the image to 8 bytes first; both signers sign that digest
    # (osslsigncode's "current" digest is the one in sbsign's signature).
    ours, theirs = kit.sign("bootpack", src, name), kit.sign("sbsign", src, name)
    digest = bp_hash(ours)
    assert digest == pesign_hash(ours) == pesign_hash(theirs)
    rc, out = ossl_verify(theirs, kit.crt)
    assert rc == 0, out
    assert ossl_digests(out) == (digest, digest)
    if src.stat().st_size % 8 == 0:
        assert digest == bp_hash(src)


@pytest.mark.parametrize("algo", ["sha384", "sha512"])
def test_sha384_sha512_with_osslsigncode(request, kit, algo):
    """sbverify 0.9.4 and pesign 0.112 know SHA-256 only; osslsigncode has them all."""
    name = "linuxx64.efi.stub"
    src = image(request, name)
    ours = kit.sign("bootpack", src, name, extra=("--digest", algo), variant=f"-{algo}")
    rc, out = ossl_verify(ours, kit.crt)
    assert rc == 0 and f"Message digest algorithm  : {algo.upper()}" in out, out
    assert ossl_digests(out) == (bp_hash(ours, algo),) * 2
    assert pesign_list(ours) == ["db"]

    theirs = kit.sign("osslsigncode", src, name, extra=("-h", algo), variant=f"-{algo}")
    [line] = entry_lines(text(bootpack("pe", "verify", theirs, "--cert", kit.crt)))
    assert line.startswith(f"signature 1: CN=db, {algo}: ") and is_trusted(line), line
    assert bp_hash(theirs, algo) == bp_hash(ours, algo)


def test_osslsigncode_page_hashes(request, kit):
    """osslsigncode -ph puts page hashes in the SpcPeImageData (an
    SpcSerializedObject): the digest and signature still verify. (On
    systemd-boot's x64 binaries osslsigncode 2.9 -ph crashes.)"""
    name = "systemd-bootaa64.efi"
    theirs = kit.sign("osslsigncode", image(request, name), name, extra=("-ph",), variant="-ph")
    [entry] = cert_table(theirs)
    assert any("A6B586D5B4A12466AE05A217DA8E60D6" in it.text for it in asn1parse(entry.der)), \
        "no SpcSerializedObject (page hashes) in osslsigncode -ph's signature"
    [line] = entry_lines(text(bootpack("pe", "verify", theirs, "--cert", kit.crt)))
    assert line.startswith("signature 1: CN=db, sha256: ") and is_trusted(line), line


# --------------------------------------------------------------------------
# A CA-issued signer: the CA is the trust anchor

def test_chain_to_root_ca(request, kit):
    """leaf, issued by inter-ca under root-ca: each signer carries inter-ca,
    each verifier trusts root-ca only."""
    name = "linuxaa64.efi.stub"
    src = image(request, name)
    ca, inter = str(kit.ca), str(kit.inter)
    ours = kit.sign("bootpack", src, name, who="leaf", extra=("--chain", inter))
    [sig] = pe_info_json(ours)["signatures"]
    assert sig["certificates"] == 2, sig
    assert sbverify(ours, ca)[0] == 0
    rc, out = ossl_verify(ours, ca)
    assert rc == 0 and "Succeeded" in out, out

    theirs = [kit.sign("sbsign", src, name, who="leaf", extra=("--addcert", inter)),
              kit.sign("osslsigncode", src, name, who="leaf", extra=("-ac", inter))]
    for img, (passed, [line]) in verify_many(theirs, ca).items():
        assert passed and line.startswith("signature 1: CN=leaf, ") and is_trusted(line), \
            f"{img.name}: {line}"
    for img, (passed, [line]) in verify_many(theirs, kit.crt).items():
        assert not passed and line.startswith("signature 1: CN=leaf, ") and \
            not is_trusted(line), f"{img.name}: {line}"


# --------------------------------------------------------------------------
# A second signature appended (sbsign's way: a second WIN_CERTIFICATE)

def test_appended_signatures(request, kit):
    """db's signature, then other's appended by sbsign or by pe sign --append:
    every tool sees both entries, bootpack trusts each under its own
    certificate only."""
    name = "systemd-bootx64.efi"
    src = image(request, name)
    doubles = {}
    for first in ("sbsign", "bootpack"):
        once = kit.sign(first, src, name)
        doubles[first, "sbsign"] = kit.sign("sbsign", once, f"{name}.{first}", who="other")
        doubles[first, "bootpack"] = kit.sign("bootpack", once, f"{name}.{first}", who="other",
                                              extra=("--append",), variant="-append")
        for second in ("sbsign", "bootpack"):
            img = doubles[first, second]
            what = f"{first} then {second}"
            entries = cert_table(img)
            assert len(entries) == 2, what
            assert entries[0] == cert_table(once)[0], f"{what}: first entry changed"
            assert pesign_list(img) == ["db", "other"], what
            for crt in (kit.crt, kit.other_crt):
                rc, out = sbverify(img, crt)
                assert rc == 0, f"{what}: sbverify --cert {crt.name}:\n{out}"

    imgs = list(doubles.values())
    for crt, trusted in ((kit.crt, 0), (kit.other_crt, 1), (kit.ca, None)):
        for img, (passed, lines) in verify_many(imgs, crt).items():
            assert passed == (trusted is not None), f"{img.name}, --cert {crt.name}: {lines}"
            assert [ln.split(",")[0] for ln in lines] == \
                ["signature 1: CN=db", "signature 2: CN=other"], f"{img.name}: {lines}"
            assert [is_trusted(ln) for ln in lines] == [i == trusted for i in (0, 1)], \
                f"{img.name}, --cert {crt.name}: {lines}"

    # osslsigncode 2.x does not walk a second entry (it nests signatures
    # instead): whatever it says, it says the same of bootpack's as of sbsign's.
    for first in ("sbsign", "bootpack"):
        verdicts = {second: ossl_verify(doubles[first, second], kit.crt)[0]
                    for second in ("sbsign", "bootpack")}
        assert verdicts["sbsign"] == verdicts["bootpack"], f"after {first}: {verdicts}"


# --------------------------------------------------------------------------
# Tampering: every hashed byte counts, CheckSum does not

def tamper_points(data):
    """{label: file offset}: one byte in each hashed range, and CheckSum."""
    lay = layout(data)
    pe = struct.unpack_from("<I", data, 0x3c)[0]
    pts = {"DOS header": 2, "COFF TimeDateStamp": pe + 8,
           "optional header (linker version)": pe + 24 + 2,
           "Subsystem, just after CheckSum": lay.checksum + 4,
           "just before the Security directory entry": lay.security_dir - 1,
           "just after the Security directory entry": lay.security_dir + 8,
           "section table (first name)": pe + 24 + struct.unpack_from("<H", data, pe + 20)[0] + 1,
           "end of headers": lay.size_of_headers - 1}
    end = lay.size_of_headers
    for n, (sname, ptr, size) in enumerate(lay.sections):
        pts[f"section {n} {sname} (first byte)"] = ptr
        pts[f"section {n} {sname} (last byte)"] = ptr + size - 1
        end = ptr + size
    if end < lay.table:
        pts["data after the last section"] = (end + lay.table) // 2
        pts["last byte before the table"] = lay.table - 1
    return pts, lay.checksum


@pytest.mark.parametrize("name", ["systemd-bootx64.efi", "zboot-6.12-gzip"])
def test_tamper(request, kit, name, tmp_path):
    """One flipped bit at each point of a bootpack-signed image: bootpack's
    and sbverify's checks fail, except for CheckSum. (sbsign's signature of
    the same image signs the same digest, test_hash_agrees_with_pesign_and_signers:
    its tampered copies would show nothing more.)"""
    signed = kit.sign("bootpack", image(request, name), name)
    data = signed.read_bytes()
    pts, checksum = tamper_points(data)
    if name.startswith("systemd"):
        assert "data after the last section" in pts, "sd-boot has data after its sections"
    pts["CheckSum"] = checksum + 1
    files = {}
    for n, (label, off) in enumerate(pts.items()):
        b = bytearray(data)
        b[off] ^= 0x01
        files[label] = tmp_path / f"flip-{n}.efi"
        files[label].write_bytes(b)
    verdicts = verify_many(list(files.values()), kit.crt)
    wrong = []
    for label, f in files.items():
        passed, lines = verdicts[f]
        sb, _ = sbverify(f, kit.crt)
        want = label == "CheckSum"
        if (passed, sb == 0) != (want, want):
            wrong.append(f"{label} at {pts[label]:#x}: bootpack {'passes' if passed else 'fails'}"
                         f" ({lines}), sbverify exit {sb}")
        elif not want and not any("digest DIFFERS" in ln for ln in lines):
            wrong.append(f"{label} at {pts[label]:#x}: bootpack names no digest mismatch: {lines}")
    assert not wrong, "\n".join(wrong)


def test_broken_foreign_signature(request, kit, tmp_path):
    """sbsign's signature with one byte changed in the digest it signs or in
    its signature value: bootpack names which check fails, sbverify fails too."""
    name = "systemd-bootaa64.efi"
    signed = kit.sign("sbsign", image(request, name), name)
    data = signed.read_bytes()
    [entry] = cert_table(signed)
    octets = [it for it in asn1parse(entry.der) if "prim: OCTET STRING" in it.text]
    signed_digest = octets[0]     # the DigestInfo in SpcIndirectDataContent
    assert signed_digest.length == 32 and bytes.fromhex(bp_hash(signed)) == \
        entry.der[slice(*signed_digest.value)], signed_digest
    cases = {"signed digest": (signed_digest, "digest DIFFERS, signature INVALID"),
             "signature value": (octets[-1], "digest matches, signature INVALID")}
    files = {}
    for n, (label, (item, _)) in enumerate(cases.items()):
        b = bytearray(data)
        b[entry.offset + 8 + item.value[1] - 1] ^= 0x01
        files[label] = tmp_path / f"broken-{n}.efi"
        files[label].write_bytes(b)
    verdicts = verify_many(list(files.values()), kit.crt)
    for label, f in files.items():
        passed, [line] = verdicts[f]
        assert not passed and line.startswith(f"signature 1: CN=db, sha256: {cases[label][1]}"), \
            f"{label}: {line}"
        assert sbverify(f, kit.crt)[0] != 0, label


# --------------------------------------------------------------------------
# Reproducibility: sbsign's signingTime, bootpack's none

def differing(a, b):
    assert len(a) == len(b)
    return [i for i in range(len(a)) if a[i] != b[i]]


def signature_regions(der):
    """The signingTime value and the signature value (encryptedDigest) of a
    PKCS#7 with one signer and no unauthenticated attributes, as ranges."""
    st = signing_time(der)
    assert st is not None, "no signingTime"
    sig = [it for it in asn1parse(der) if "prim: OCTET STRING" in it.text][-1]
    return range(*st.value), range(*sig.value)


def test_sbsign_varies_bootpack_does_not(request, kit, tmp_path):
    """sbsign and bootpack each sign a 6.12 zboot kernel twice, a second
    apart: sbsign's outputs differ, in the signingTime value (and what
    follows from it: the signature value, CheckSum) and nowhere else;
    bootpack's are the same bytes, with no signingTime."""
    src = image(request, "zboot-6.12-gzip")
    key, crt = kit.signer("db")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}

    def sign_both(n):
        run(["sbsign", "--key", key, "--cert", crt, "--output", tmp_path / f"sbsign-{n}.efi",
             src])
        run([bootpack_path(), "pe", "sign", src, "--key", key, "--cert", crt,
             "-o", tmp_path / f"bootpack-{n}.efi"], env=env)
    sign_both(1)
    time.sleep(1.02 - time.time() % 1)     # into the next second
    sign_both(2)

    a, b = tmp_path / "sbsign-1.efi", tmp_path / "sbsign-2.efi"
    da, db = a.read_bytes(), b.read_bytes()
    assert da != db, "sbsign gave the same bytes a second later"
    lay = layout(da)
    cs = lay.checksum
    assert da[:cs] + da[cs + 4:lay.table] == db[:cs] + db[cs + 4:lay.table], \
        "sbsign's two outputs differ outside the certificate table and CheckSum"
    [ea], [eb] = cert_table(a), cert_table(b)
    assert ea.length == eb.length
    when, sig = signature_regions(ea.der)
    assert (when, sig) == signature_regions(eb.der)
    diff = differing(ea.der, eb.der)
    outside = [i for i in diff if i not in when and i not in sig]
    assert not outside, f"sbsign's signatures differ outside signingTime and the " \
                        f"signature value, at PKCS#7 offsets {outside}"
    assert any(i in when for i in diff), "the signing times are equal"

    one, two = tmp_path / "bootpack-1.efi", tmp_path / "bootpack-2.efi"
    assert one.read_bytes() == two.read_bytes()
    [e] = cert_table(one)
    assert signing_time(e.der) is None, "bootpack added a signingTime it was not asked for"


def test_signing_time_read_by_the_others(request, kit, tmp_path):
    """The signingTime SOURCE_DATE_EPOCH asks for (the bytes --signing-time
    gives too) is the one osslsigncode and pesign read."""
    name = "linuxx64.efi.stub"
    src = image(request, name)
    key, crt = kit.signer("db")
    sde = tmp_path / "sde.efi"
    run([bootpack_path(), "pe", "sign", src, "--key", key, "--cert", crt, "-o", sde],
        env=dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH)))
    flag = tmp_path / "flag.efi"
    run([bootpack_path(), "pe", "sign", src, "--key", key, "--cert", crt,
         "--signing-time", str(EPOCH), "-o", flag],
        env={k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"})
    assert sde.read_bytes() == flag.read_bytes()

    [e] = cert_table(sde)
    st = signing_time(e.der)
    assert st is not None and st.text.endswith(f":{EPOCH_UTCTIME}"), st
    rc, out = ossl_verify(sde, crt)
    assert rc == 0 and "Signing time: Nov 14 22:13:20 2023 GMT" in out, out
    assert "Signing time: Tue Nov 14, 2023" in run(["pesign", "-S", "-i", sde]).stdout.decode()
    assert sbverify(sde, crt)[0] == 0


# --------------------------------------------------------------------------
# Debian's signed arm64 kernel

def test_debian_signed_kernel(kit, corpus, tmp_path):
    img = corpus / "Image"
    [entry] = cert_table(img)
    assert (entry.revision, entry.type) == (0x0200, 0x0002)
    p7 = tmp_path / "table.p7"
    p7.write_bytes(entry.der)
    pem = run(["openssl", "pkcs7", "-inform", "DER", "-in", p7, "-print_certs"]).stdout.decode()
    certs = re.findall(r"subject=(.*)\nissuer=(.*)\n(-----BEGIN CERTIFICATE-----.*?"
                       r"-----END CERTIFICATE-----\n)", pem, re.S)
    signer = [c for c in certs if c[0].strip() == f"CN = {DEBIAN_SIGNER}"]
    assert len(signer) == 1, f"no certificate of {DEBIAN_SIGNER!r} in the table: {certs}"
    signer_pem = tmp_path / "debian-signer.pem"
    signer_pem.write_text(signer[0][2])

    digest = bp_hash(img)
    assert digest == pesign_hash(img)
    _, out = ossl_verify(img, signer_pem)
    assert ossl_digests(out) == (digest, digest)

    [sig] = pe_info_json(img)["signatures"]
    subject, issuer = (f"{x.strip().replace(' = ', '=')}" for x in signer[0][:2])
    assert (sig["signer"], sig["issuer"]) == (subject, issuer) == \
        (f"CN={DEBIAN_SIGNER}", "CN=Debian Secure Boot CA"), sig
    assert (sig["digest_algo"], sig["digest"], sig["digest_matches"]) == \
        ("sha256", digest, True), sig

    [line] = entry_lines(text(bootpack("pe", "verify", img, "--cert", signer_pem)))
    assert DEBIAN_SIGNER in line and is_trusted(line), line
    assert sbverify(img, signer_pem)[0] == 0
