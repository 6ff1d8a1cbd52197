# SPDX-License-Identifier: MIT
"""pe sign, pe verify --cert, pe hash, the signature part of pe info, and
--key/--cert on the section edits: the CLI's behaviour.

Images are pe-gen's (tests/unit/pe_gen.c, written independently of lib/pe),
a synthetic zboot image whose gzip payload is a small PE "Image" with a Linux
version banner, and the real zboot kernels of conftest.ZBOOT_BUILDS. Keys
and certificates are made at test time (signkeys.Pki; the SoftHSM2 token of
softhsm.py). Expected values never come from bootpack itself:
  - the Authenticode digest is computed here from pefile's offsets
    (authenticode_digest below, the rules of the PE/COFF specification's
    "Appendix A: Calculating Authenticode PE Image Hash");
  - the certificate table is walked here with struct.unpack; the PKCS#7 is
    read by `openssl pkcs7` and `openssl asn1parse` (certificates, the
    signingTime attribute, the SpcIndirectDataContent OID);
  - CheckSum is pefile's generate_checksum().
Interop with sbsign/sbverify, pesign and osslsigncode is
test_pe_sign_interop.py's, Secure Boot under QEMU test_boot_secure.py's.
"""

import gzip
import hashlib
import json
import os
import re
import struct
import subprocess
import time
from pathlib import Path

import pefile
import pytest

from conftest import run
from signkeys import EPOCH, pkcs11_env, pki, real_run, sign_keys  # noqa: F401
from softhsm import softhsm_token  # noqa: F401
from test_fit_sign import assert_fails as fit_assert_fails
from test_fit_sign import assert_usage, copy, err, listing, ok, out

REPO = Path(__file__).resolve().parents[2]
NO_SDE = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
SDE = dict(NO_SDE, SOURCE_DATE_EPOCH=EPOCH)

WIN_CERT_REVISION_2_0 = 0x0200
WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002
DIR_SECURITY = 4
OID_SIGNING_TIME = "signingTime"                # 1.2.840.113549.1.9.5
OID_SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4"  # SpcIndirectDataContent
HASH_LEN = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


# --------------------------------------------------------------------------
# helpers

def bp(bootpack, *args, env=None, cwd=None, guard=True):
    """Run bootpack (without SOURCE_DATE_EPOCH unless @env has it)."""
    args = [str(bootpack), *[a if isinstance(a, bytes) else str(a) for a in args]]
    runner = subprocess.run if guard else real_run
    return runner(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or NO_SDE,
                  cwd=cwd, check=False, timeout=300)


def assert_fails(proc, path, *needles):
    """Exit 1, nothing on stdout, one line `bootpack: 'PATH': ...` holding every needle."""
    assert proc.stdout == b""
    fit_assert_fails(proc, path, *needles)


def authenticode_digest(data, algo="sha256"):
    """The Authenticode digest by the PE/COFF specification, from pefile's offsets."""
    pe = pefile.PE(data=bytes(data), fast_load=True)
    opt = pe.OPTIONAL_HEADER
    checksum = opt.get_file_offset() + 64
    secdir = opt.DATA_DIRECTORY[DIR_SECURITY]
    secdir_off = secdir.get_file_offset()
    h = hashlib.new(algo)
    h.update(data[:checksum])
    h.update(data[checksum + 4:secdir_off])
    h.update(data[secdir_off + 8:opt.SizeOfHeaders])
    end = opt.SizeOfHeaders
    for s in sorted((s for s in pe.sections if s.SizeOfRawData),
                    key=lambda s: s.PointerToRawData):
        h.update(data[s.PointerToRawData:s.PointerToRawData + s.SizeOfRawData])
        end = max(end, s.PointerToRawData + s.SizeOfRawData)
    table = secdir.VirtualAddress if secdir.Size else len(data)
    h.update(data[end:table])
    pe.close()
    return h.hexdigest()


def cert_table(path):
    """[(offset, dwLength, wRevision, wCertificateType, pkcs7 DER)] walked from
    the Security directory, which must end exactly at the end of the file."""
    data = Path(path).read_bytes()
    pe = pefile.PE(data=data, fast_load=True)
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[DIR_SECURITY]
    pe.close()
    if not d.Size:
        return []
    assert d.VirtualAddress % 8 == 0 and d.VirtualAddress + d.Size == len(data)
    entries, off = [], d.VirtualAddress
    while off < len(data):
        length, rev, typ = struct.unpack_from("<IHH", data, off)
        assert length >= 8 and off + length <= len(data)
        entries.append((off, length, rev, typ, data[off + 8:off + length]))
        off += (length + 7) & ~7
    assert off == len(data)
    return entries


def pkcs7_of(path, index=0, tmp=None):
    """The DER PKCS#7 of entry @index written to a file beside @path."""
    der = Path(tmp or Path(path).parent) / f"{Path(path).name}.{index}.p7"
    der.write_bytes(cert_table(path)[index][4])
    return der


def pkcs7_subjects(der):
    text = run(["openssl", "pkcs7", "-inform", "DER", "-in", der, "-print_certs",
                "-noout"]).stdout.decode()
    # OpenSSL 3 writes "subject=CN = db"
    return [re.sub(r" = ", "=", s) for s in re.findall(r"^subject=(.*)$", text, re.M)]


def pkcs7_asn1(der):
    return run(["openssl", "asn1parse", "-inform", "DER", "-in", der]).stdout.decode()


def checksum_ok(path):
    pe = pefile.PE(str(path), fast_load=True)
    try:
        return pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
    finally:
        pe.close()


def info(bootpack, path, env=None):
    proc = ok(bp(bootpack, "pe", "info", "--json", path, env=env))
    return json.loads(proc.stdout), err(proc)


def verify(bootpack, path, *certs, ca=(), extra=()):
    args = [a for c in certs for a in ("--cert", c)] + [a for c in ca for a in ("--ca", c)]
    return bp(bootpack, "pe", "verify", *args, *extra, path)


def verify_json(bootpack, path, *certs):
    proc = verify(bootpack, path, *certs, extra=["--json"])
    return proc, json.loads(proc.stdout)


def hash_of(bootpack, path, *extra):
    proc = ok(bp(bootpack, "pe", "hash", *extra, path))
    m = re.fullmatch(r"hash: ([0-9a-f]+)\n", out(proc))
    assert m, out(proc)
    return m.group(1)


def good_line(path, n, signer, algo="sha256"):
    return (f"{path}: signature {n}: {signer}, {algo}: digest matches, signature valid, "
            "trusted")


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tmp_path_factory.mktemp("pe-sign")


GEN = {
    "pe32plus": [],
    "pe32-ia32": ["--pe32", "--machine", "ia32"],
    "x64-overlay-unaligned": ["--machine", "x64", "--overlay", "333", "--checksum"],
    "debug-dir": ["--debug-dir", "--checksum"],
}


@pytest.fixture(scope="module")
def gen(pe_gen, ws):
    """gen(name) -> path of a pe-gen image of GEN (unsigned)."""
    def make(name):
        p = ws / "gen" / f"{name}.efi"
        if not p.exists():
            p.parent.mkdir(exist_ok=True)
            run([pe_gen, *GEN[name], p])
        return p
    return make


@pytest.fixture(scope="module")
def db(pki):  # noqa: F811
    return pki.self_signed("db")


@pytest.fixture(scope="module")
def other(pki):  # noqa: F811
    return pki.self_signed("other")


@pytest.fixture(scope="module")
def chain(pki):  # noqa: F811
    """root CA -> intermediate CA -> leaf: (root crt, inter crt, leaf key, leaf crt)."""
    _, root = pki.self_signed("root-ca", ca=True)
    pki.issued("inter-ca", "root-ca", ca=True, serial=0x1234)
    leaf_key, leaf = pki.issued("leaf", "inter-ca", serial=0xabcdef)
    return root, pki.crt("inter-ca"), leaf_key, leaf


@pytest.fixture(scope="module")
def signed(bootpack, gen, db, ws):
    """pe32plus signed with db, no signing time."""
    key, crt = db
    o = ws / "signed-db.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", key, "--cert", crt, "-o", o))
    return o


def banner(version):
    """The kernel's version banner, as init/version.c writes linux_banner."""
    return f"Linux version {version} (test@bootpack) (gcc) #1 SMP\n\0".encode()


@pytest.fixture(scope="module")
def fake_zboot(bootpack, pe_gen, db, ws):
    """fake_zboot(inner_signed, magic) -> a zboot image with a gzip payload
    holding a stand-in arm64 kernel Image that is a PE, as the EFI stub's is
    (pe-gen's image with the arm64 Image magic at 0x38 and a 6.1.0 banner in
    its overlay); @magic sets LINUX_PE_MAGIC (a 6.2-on header)."""
    def make(inner_signed, magic):
        tag = f"{'signed' if inner_signed else 'unsigned'}-{'magic' if magic else 'nomagic'}"
        out_path = ws / "zboot" / f"{tag}.efi"
        if out_path.exists():
            return out_path
        out_path.parent.mkdir(exist_ok=True)
        inner = ws / "zboot" / f"inner-{tag}.efi"
        # ARM\x64 at 0x38 (the arm64 Image header's magic), as the EFI stub's Image has
        run([pe_gen, "--linux-pe-magic=0x644d5241", "--overlay", "64", inner])
        data = bytearray(inner.read_bytes())
        text = banner("6.1.0-99-test")
        data[-64:-64 + len(text)] = text
        inner.write_bytes(bytes(data))
        if inner_signed:
            key, crt = db
            ok(bp(bootpack, "pe", "sign", inner, "--key", key, "--cert", crt, guard=False))
        payload = ws / "zboot" / f"payload-{tag}.gz"
        payload.write_bytes(gzip.compress(inner.read_bytes(), mtime=0))
        args = ["--zboot", "gzip", "--payload", payload, "--checksum"]
        run([pe_gen, *args, *(["--linux-pe-magic"] if magic else []), out_path])
        return out_path
    return make


# --------------------------------------------------------------------------
# sign and verify

@pytest.mark.parametrize("name", list(GEN))
def test_sign_verify_round_trip(bootpack, gen, db, tmp_path, name):
    """The signed image: one WIN_CERTIFICATE (rev 0x0200, PKCS_SIGNED_DATA) at
    the 8-aligned end, the Security directory on it, CheckSum right, the
    PKCS#7 an SpcIndirectDataContent carrying db's certificate and signing
    the digest computed here; pe verify --cert db passes with one good line."""
    key, crt = db
    src = gen(name)
    o = tmp_path / "signed.efi"
    proc = ok(bp(bootpack, "pe", "sign", src, "--key", key, "--cert", crt, "-o", o))
    assert proc.stdout == b"" and proc.stderr == b""
    before, after = src.read_bytes(), o.read_bytes()
    table = cert_table(o)
    assert len(table) == 1
    off, length, rev, typ, _ = table[0]
    assert (rev, typ) == (WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA)
    pad = -len(before) % 8
    assert off == len(before) + pad and after[len(before):off] == b"\0" * pad
    # The image bytes are kept except CheckSum and the Security directory entry.
    pe = pefile.PE(data=after, fast_load=True)
    cks = pe.OPTIONAL_HEADER.get_file_offset() + 64
    sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[DIR_SECURITY].get_file_offset()
    pe.close()
    changed = [i for i in range(len(before)) if before[i] != after[i]]
    assert all(cks <= i < cks + 4 or sec <= i < sec + 8 for i in changed), changed[:8]
    assert checksum_ok(o)
    der = pkcs7_of(o, tmp=tmp_path)
    assert pkcs7_subjects(der) == ["CN=db"]
    asn1 = pkcs7_asn1(der)
    assert OID_SPC_INDIRECT_DATA in asn1 and OID_SIGNING_TIME not in asn1
    digest = authenticode_digest(after)
    assert digest.upper() in asn1.replace(":", "")  # the signed digest, as an OCTET STRING
    proc = ok(verify(bootpack, o, crt))
    assert out(proc).splitlines() == [
        good_line(o, 1, "CN=db"),
        f"{o}: OK ({'PE32' if '--pe32' in GEN[name] else 'PE32+'}, "
        f"{len(pefile.PE(str(o), fast_load=True).sections)} sections, "
        "1 of 1 signature good, 0 warnings)"]
    assert proc.stderr == b""


def test_sign_in_place(bootpack, gen, db, signed, tmp_path):
    """Without -o the input is signed in place: the same bytes as with -o."""
    key, crt = db
    img = copy(gen("pe32plus"), tmp_path / "img.efi")
    ok(bp(bootpack, "pe", "sign", img, "--key", key, "--cert", crt, guard=False))
    assert img.read_bytes() == signed.read_bytes()
    assert listing(tmp_path) == ["img.efi"]


def signing_time(bootpack, path):
    return info(bootpack, path)[0]["signatures"][0]["signing_time"]


def test_sign_reproducible_no_time_unless_asked(bootpack, gen, db, signed, tmp_path):
    """Twice the same bytes; no signingTime attribute without SOURCE_DATE_EPOCH
    or --signing-time."""
    key, crt = db
    again = tmp_path / "again.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", key, "--cert", crt, "-o", again))
    assert again.read_bytes() == signed.read_bytes()
    assert OID_SIGNING_TIME not in pkcs7_asn1(pkcs7_of(again, tmp=tmp_path))
    assert signing_time(bootpack, again) is None


def test_signing_time_from_sde_and_option(bootpack, gen, db, signed, tmp_path):
    """SOURCE_DATE_EPOCH gives the signing time (reproducibly); --signing-time
    SECONDS wins over it, --signing-time none drops it, now is the clock."""
    key, crt = db
    src = gen("pe32plus")
    args = ["pe", "sign", src, "--key", key, "--cert", crt, "-o"]
    a, b = tmp_path / "a.efi", tmp_path / "b.efi"
    ok(bp(bootpack, *args, a, env=SDE))
    ok(bp(bootpack, *args, b, env=SDE))
    assert a.read_bytes() == b.read_bytes() != signed.read_bytes()
    assert signing_time(bootpack, a) == int(EPOCH)
    assert OID_SIGNING_TIME in pkcs7_asn1(pkcs7_of(a, tmp=tmp_path))
    c = tmp_path / "c.efi"
    ok(bp(bootpack, *args, c, "--signing-time", "1234567890", env=SDE))
    assert signing_time(bootpack, c) == 1234567890
    d = tmp_path / "d.efi"
    ok(bp(bootpack, *args, d, "--signing-time", "none", env=SDE))
    assert d.read_bytes() == signed.read_bytes()
    e = tmp_path / "e.efi"
    before = int(time.time())
    ok(bp(bootpack, *args, e, "--signing-time", "now"))
    assert before <= signing_time(bootpack, e) <= int(time.time())
    for p in (a, c, e):
        ok(verify(bootpack, p, crt))
    text = out(ok(bp(bootpack, "pe", "info", a)))
    assert "Signing time: 2023-11-14 22:13:20 UTC (1700000000)" in text


def test_sde_not_a_number(bootpack, gen, db, tmp_path):
    key, crt = db
    env = dict(NO_SDE, SOURCE_DATE_EPOCH="yesterday")
    proc = bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", key, "--cert", crt,
              "-o", tmp_path / "o.efi", env=env)
    assert proc.returncode == 1 and err(proc).startswith(
        "bootpack: SOURCE_DATE_EPOCH='yesterday' is not a number")
    assert listing(tmp_path) == []


def test_append_second_signature(bootpack, signed, db, other, tmp_path):
    """--append: two entries, both listed, each verifying with its own
    certificate; the first entry's bytes are kept."""
    o = tmp_path / "two.efi"
    ok(bp(bootpack, "pe", "sign", signed, "--append", "--key", other[0], "--cert", other[1],
          "-o", o))
    t1, t2 = cert_table(signed), cert_table(o)
    assert len(t2) == 2 and t2[0][4] == t1[0][4]
    assert pkcs7_subjects(pkcs7_of(o, 1, tmp=tmp_path)) == ["CN=other"]
    rep, _ = info(bootpack, o)
    assert [s["signer"] for s in rep["signatures"]] == ["CN=db", "CN=other"]
    assert all(s["digest_matches"] for s in rep["signatures"])
    proc = ok(verify(bootpack, o, db[1], other[1]))
    assert out(proc).splitlines()[:2] == [good_line(o, 1, "CN=db"), good_line(o, 2, "CN=other")]
    assert "2 of 2 signatures good" in out(proc)
    # Either certificate alone: the image passes, the other entry is not trusted.
    proc = ok(verify(bootpack, o, other[1]))
    lines = out(proc).splitlines()
    assert lines[0].startswith(f"{o}: signature 1: CN=db, sha256: digest matches, "
                               "signature valid, NOT trusted")
    assert lines[1] == good_line(o, 2, "CN=other") and proc.stderr == b""
    ok(verify(bootpack, o, db[1]))


def test_replace_signature(bootpack, signed, db, other, tmp_path):
    o = tmp_path / "replaced.efi"
    ok(bp(bootpack, "pe", "sign", signed, "--replace", "--key", other[0], "--cert", other[1],
          "-o", o))
    assert len(cert_table(o)) == 1
    assert pkcs7_subjects(pkcs7_of(o, tmp=tmp_path)) == ["CN=other"]
    ok(verify(bootpack, o, other[1]))
    assert verify(bootpack, o, db[1]).returncode == 1
    # Replacing gives what signing the unsigned image gives.
    fresh = tmp_path / "fresh.efi"
    ok(bp(bootpack, "pe", "sign", signed, "--replace", "--key", db[0], "--cert", db[1],
          "-o", fresh))
    assert fresh.read_bytes() == signed.read_bytes()


def test_signed_input_refused_without_append_or_replace(bootpack, signed, other, tmp_path):
    o = tmp_path / "o.efi"
    proc = bp(bootpack, "pe", "sign", signed, "--key", other[0], "--cert", other[1], "-o", o)
    assert_fails(proc, signed, "already signed: --append adds a signature, --replace "
                 "replaces the existing ones")
    assert listing(tmp_path) == []


def test_append_and_replace_on_unsigned(bootpack, gen, db, signed, tmp_path):
    """On an unsigned image both just sign it."""
    for opt in ("--append", "--replace"):
        o = tmp_path / f"{opt[2:]}.efi"
        ok(bp(bootpack, "pe", "sign", gen("pe32plus"), opt, "--key", db[0], "--cert", db[1],
              "-o", o))
        assert o.read_bytes() == signed.read_bytes()


@pytest.mark.parametrize("algo", ["sha384", "sha512"])
def test_digest_algorithms(bootpack, gen, db, tmp_path, algo):
    o = tmp_path / f"{algo}.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--digest", algo, "--key", db[0],
          "--cert", db[1], "-o", o))
    rep, _ = info(bootpack, o)
    s = rep["signatures"][0]
    assert s["digest_algo"] == algo and s["digest"] == authenticode_digest(o.read_bytes(), algo)
    assert s["digest_matches"]
    proc = ok(verify(bootpack, o, db[1]))
    assert out(proc).splitlines()[0] == good_line(o, 1, "CN=db", algo)


def test_chain_carried_and_trusted_through_ca(bootpack, gen, chain, tmp_path):
    """--chain carries the intermediate CA: verify --ca ROOT passes; without
    it the leaf does not chain to the root."""
    root, inter, leaf_key, leaf = chain
    with_chain, without = tmp_path / "chain.efi", tmp_path / "nochain.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", leaf_key, "--cert", leaf,
          "--chain", inter, "-o", with_chain))
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", leaf_key, "--cert", leaf,
          "-o", without))
    assert sorted(pkcs7_subjects(pkcs7_of(with_chain, tmp=tmp_path))) == ["CN=inter-ca", "CN=leaf"]
    rep, _ = info(bootpack, with_chain)
    s = rep["signatures"][0]
    assert (s["signer"], s["issuer"], s["certificates"]) == ("CN=leaf", "CN=inter-ca", 2)
    assert int(s["serial"], 16) == 0xabcdef
    assert info(bootpack, without)[0]["signatures"][0]["certificates"] == 1
    proc = ok(verify(bootpack, with_chain, ca=[root]))
    assert out(proc).splitlines()[0] == good_line(with_chain, 1, "CN=leaf")
    proc = verify(bootpack, without, ca=[root])
    assert proc.returncode == 1 and "NOT trusted" in err(proc)
    # The intermediate trusted directly, or the leaf itself (a db entry), will do.
    ok(verify(bootpack, without, inter))
    ok(verify(bootpack, without, leaf))


@pytest.mark.parametrize("name,curve", [("ec", "P-256"), ("ec384", "P-384")])
def test_ec_key(bootpack, gen, sign_keys, tmp_path, name, curve):  # noqa: F811
    """An EC key file signs reproducibly too (RFC 6979 nonces) and verifies."""
    key = sign_keys.ec(name, curve)
    crt = tmp_path / f"{name}.crt"
    run(["openssl", "req", "-batch", "-new", "-x509", "-key", key, "-subj", f"/CN={name}",
         "-days", "3650", "-set_serial", "3", "-out", crt])
    a, b = tmp_path / "a.efi", tmp_path / "b.efi"
    for o in (a, b):
        ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", key, "--cert", crt, "-o", o))
    assert a.read_bytes() == b.read_bytes()
    proc = ok(verify(bootpack, a, crt))
    assert out(proc).splitlines()[0] == good_line(a, 1, f"CN={name}")


def test_der_certificate(bootpack, gen, pki, db, signed, tmp_path):  # noqa: F811
    """A DER certificate signs and verifies like its PEM form."""
    der = pki.der("db")
    o = tmp_path / "der.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", db[0], "--cert", der, "-o", o))
    assert o.read_bytes() == signed.read_bytes()
    ok(verify(bootpack, o, der))


def test_wrong_cert_for_key(bootpack, gen, db, other, tmp_path):
    o = tmp_path / "o.efi"
    proc = bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", db[0], "--cert", other[1],
              "-o", o)
    e = err(proc)
    assert proc.returncode == 1 and len(e.splitlines()) == 1, e
    assert e.startswith("bootpack: '") and "key" in e, e
    assert listing(tmp_path) == []


def test_untrusted_fails_verify(bootpack, signed, other):
    proc = verify(bootpack, signed, other[1])
    assert proc.returncode == 1 and proc.stdout == b""
    lines = err(proc).splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == (f"bootpack: '{signed}': signature 1: CN=db, sha256: digest "
                        "matches, signature valid, NOT trusted: the signer's chain reaches no "
                        "given certificate (self-signed certificate)")
    assert lines[1] == (f"bootpack: '{signed}': FAILED: no good signature (1 checked; good "
                        "is a matching digest, a valid signature and a trusted signer)")


def test_unsigned_fails_verify(bootpack, gen, db):
    img = gen("pe32plus")
    proc = verify(bootpack, img, db[1])
    assert proc.returncode == 1 and proc.stdout == b""
    assert err(proc) == f"bootpack: '{img}': FAILED: not signed\n"
    # Without certificates pe verify checks the structure only, as before.
    assert out(ok(bp(bootpack, "pe", "verify", img))) == \
        f"{img}: OK (PE32+, 2 sections, 0 warnings)\n"


def flip(src, dest, offset):
    data = bytearray(Path(src).read_bytes())
    data[offset] ^= 0x01
    Path(dest).write_bytes(bytes(data))
    return Path(dest)


def test_tampered_fails_verify(bootpack, signed, db, tmp_path):
    """One flipped byte in a section: digest DIFFERS; in CheckSum: still good."""
    pe = pefile.PE(str(signed), fast_load=True)
    text_off = pe.sections[0].PointerToRawData + 5
    cks = pe.OPTIONAL_HEADER.get_file_offset() + 64
    pe.close()
    bad = flip(signed, tmp_path / "bad.efi", text_off)
    proc = verify(bootpack, bad, db[1])
    assert proc.returncode == 1
    assert f"bootpack: '{bad}': signature 1: CN=db, sha256: digest DIFFERS, signature valid, " \
        "trusted" in err(proc)
    rep, _ = info(bootpack, bad)
    assert rep["signatures"][0]["digest_matches"] is False
    cks_flip = flip(signed, tmp_path / "cks.efi", cks)
    proc = verify(bootpack, cks_flip, db[1])
    assert proc.returncode == 0, err(proc)
    assert good_line(cks_flip, 1, "CN=db") in out(proc)


def test_verify_several_certs_and_files(bootpack, signed, gen, db, other):
    """Each image judged on its own: exit 1 when one fails."""
    proc = bp(bootpack, "pe", "verify", "--cert", other[1], "--cert", db[1], signed,
              gen("pe32plus"))
    assert proc.returncode == 1
    assert out(proc).splitlines() == [good_line(signed, 1, "CN=db"),
                                      f"{signed}: OK (PE32+, 2 sections, 1 of 1 signature "
                                      "good, 0 warnings)"]
    assert err(proc) == f"bootpack: '{gen('pe32plus')}': FAILED: not signed\n"


def test_verify_quiet(bootpack, signed, db, other):
    assert ok(verify(bootpack, signed, db[1], extra=["-q"])).stdout == b""
    proc = verify(bootpack, signed, other[1], extra=["-q"])
    assert proc.returncode == 1 and len(err(proc).splitlines()) == 2


# --------------------------------------------------------------------------
# JSON

def test_verify_json(bootpack, signed, gen, db, other, tmp_path):
    proc, rep = verify_json(bootpack, signed, db[1])
    assert proc.returncode == 0 and proc.stderr == b""
    assert rep == [{"file": str(signed), "ok": True, "signatures_checked": True,
                    "good_signatures": 1, "inner_image": None, "problems": [],
                    "signatures": [{"number": 1, "signer": "CN=db", "digest_algo": "sha256",
                                    "digest_ok": True, "signature_ok": True, "trusted": True,
                                    "good": True, "message": rep[0]["signatures"][0]["message"]}]}]
    assert isinstance(rep[0]["signatures"][0]["message"], str)
    proc, rep = verify_json(bootpack, signed, other[1])
    assert proc.returncode == 1 and rep[0]["ok"] is False
    s = rep[0]["signatures"][0]
    assert (s["digest_ok"], s["signature_ok"], s["trusted"], s["good"]) == (True, True, False,
                                                                             False)
    proc, rep = verify_json(bootpack, gen("pe32plus"), db[1])
    assert proc.returncode == 1 and rep[0]["signatures"] == [] and rep[0]["ok"] is False
    missing = tmp_path / "missing.efi"
    proc, rep = verify_json(bootpack, missing, db[1])
    assert proc.returncode == 1 and rep == [{"file": str(missing), "ok": False,
                                             "error": rep[0]["error"]}]
    assert len(err(proc).splitlines()) == 1


def test_info_json_signatures(bootpack, signed, gen):
    rep, e = info(bootpack, signed)
    assert e == ""
    assert rep["signed"] is True
    [s] = rep["signatures"]
    off, length, rev, typ, _ = cert_table(signed)[0]
    assert s == {"number": 1, "offset": off, "length": length, "revision": rev, "type": typ,
                 "problem": None, "signer": "CN=db", "issuer": "CN=db", "serial": s["serial"],
                 "digest_algo": "sha256", "digest": authenticode_digest(signed.read_bytes()),
                 "digest_matches": True, "signing_time": None, "certificates": 1}
    assert int(s["serial"], 16) == 1
    rep, _ = info(bootpack, gen("pe32plus"))
    assert rep["signed"] is False and rep["signatures"] == []


def test_info_text_signatures(bootpack, signed):
    text = out(ok(bp(bootpack, "pe", "info", signed)))
    digest = authenticode_digest(signed.read_bytes())
    assert "Signatures:              1\n  1   CN=db\n      Issuer:       CN=db\n" in text
    assert f"      Digest:       sha256 {digest} (matches the image)\n" in text
    assert "      Signing time: none\n      Certificates: 1\n" in text


def filler_signed(pe_gen, ws):
    """pe-gen's image whose certificate table holds a 72-byte non-PKCS#7 entry."""
    img = ws / "gen" / "cert-filler.efi"
    img.parent.mkdir(exist_ok=True)
    run([pe_gen, "--cert", "72", "--checksum", img])
    return img


def test_info_lists_foreign_entry(bootpack, pe_gen, ws):
    """A certificate table entry that is not PKCS#7 (pe-gen's filler) is
    listed with its problem; pe info still exits 0."""
    rep, _ = info(bootpack, filler_signed(pe_gen, ws))
    [s] = rep["signatures"]
    assert s["problem"] and s["signer"] is None and s["digest"] is None
    assert s["length"] == 72


def test_verify_foreign_entry_beside_good(bootpack, pe_gen, ws, db, tmp_path):
    """--append after a non-PKCS#7 entry: pe verify names it and passes on the good one."""
    img = filler_signed(pe_gen, ws)
    proc = bp(bootpack, "pe", "sign", img, "--key", db[0], "--cert", db[1], "-o", tmp_path / "o")
    assert_fails(proc, img, "already signed")
    o = tmp_path / "two.efi"
    ok(bp(bootpack, "pe", "sign", img, "--append", "--key", db[0], "--cert", db[1], "-o", o))
    lines = out(ok(verify(bootpack, o, db[1]))).splitlines()
    assert re.fullmatch(rf"{re.escape(str(o))}: signature 1: not an Authenticode signature: "
                        r"[^:]+", lines[0]), lines[0]
    assert lines[1] == good_line(o, 2, "CN=db")
    assert "1 of 2 signatures good" in lines[2]


def man_section(start, end):
    man = (REPO / "doc" / "bootpack.1").read_text().replace("\\-", "-")
    return man[man.index(f'.SS "bootpack {start}"'):man.index(f'.SS "bootpack {end}"')]


def test_json_keys_documented_in_man_page(bootpack, signed, fake_zboot, db, tmp_path):
    rep, _ = info(bootpack, signed)
    zrep, _ = info(bootpack, fake_zboot(False, False))
    keys = set(rep["signatures"][0]) | set(zrep["zboot"]["inner_image"]) | {"signatures"}
    section = man_section("pe info", "pe verify")
    for key in sorted(keys):
        assert re.search(rf"^\.BR? .*\b{key}\b", section, re.M), f"pe info key {key}"
    _, vrep = verify_json(bootpack, signed, db[1])
    _, erep = verify_json(bootpack, tmp_path / "missing.efi", db[1])
    keys = set(vrep[0]) | set(vrep[0]["signatures"][0]) | set(erep[0])
    section = man_section("pe verify", "pe sign")
    for key in sorted(keys):
        assert re.search(rf"^\.BR? .*\b{key}\b", section, re.M), f"pe verify key {key}"


# --------------------------------------------------------------------------
# pe hash

def test_hash_matches_spec_and_is_stable(bootpack, gen, signed, tmp_path):
    """The digest computed here, for every algorithm; signing an image that
    ends 8-aligned leaves it unchanged; a changed hashed byte changes it, a
    changed CheckSum does not."""
    src = gen("pe32plus")
    for algo, n in HASH_LEN.items():
        h = hash_of(bootpack, src, "--digest", algo)
        assert len(h) == 2 * n and h == authenticode_digest(src.read_bytes(), algo)
    h = hash_of(bootpack, src)
    assert h == hash_of(bootpack, src) == hash_of(bootpack, signed)
    pe = pefile.PE(str(src), fast_load=True)
    data_off = pe.sections[1].PointerToRawData + 3
    cks = pe.OPTIONAL_HEADER.get_file_offset() + 64
    pe.close()
    changed = flip(src, tmp_path / "changed.efi", data_off)
    assert hash_of(bootpack, changed) == authenticode_digest(changed.read_bytes()) != h
    assert hash_of(bootpack, flip(src, tmp_path / "cks.efi", cks)) == h


def test_hash_unaligned_image_gets_padding_hashed(bootpack, gen, db, tmp_path):
    """An image ending off 8 bytes: the signed one's digest covers the zero
    padding, and is what its signature signs."""
    src = gen("x64-overlay-unaligned")
    assert src.stat().st_size % 8
    o = tmp_path / "o.efi"
    ok(bp(bootpack, "pe", "sign", src, "--key", db[0], "--cert", db[1], "-o", o))
    h = hash_of(bootpack, o)
    assert h == authenticode_digest(o.read_bytes()) != hash_of(bootpack, src)
    assert info(bootpack, o)[0]["signatures"][0]["digest"] == h


def test_hash_refuses_unhashable(bootpack, gen, tmp_path):
    """A section whose raw data runs past the end of the file: one line, exit 1."""
    data = gen("pe32plus").read_bytes()
    cut = tmp_path / "cut.efi"
    cut.write_bytes(data[:len(data) - 0x100])
    proc = bp(bootpack, "pe", "hash", cut)
    assert_fails(proc, cut)


# --------------------------------------------------------------------------
# edit and re-sign in one step

EDITS = {
    "add": ["pe", "add-section", "--name", ".bpf", "--file", "DATA"],
    "replace": ["pe", "replace-section", "--name", ".data", "--file", "DATA"],
    "remove": ["pe", "remove-section", "--name", ".bpf"],
}


@pytest.mark.parametrize("op", list(EDITS))
def test_edit_and_resign(bootpack, gen, db, other, tmp_path, op):
    """Signed by other, edited with --key db: one signature, db's, verifying;
    other's is gone; the section edit is what the unsigned edit does."""
    data = tmp_path / "bpf.o"
    data.write_bytes(b"\x7fELF" + bytes(range(200)))
    src = tmp_path / "src.efi"
    if op == "remove":  # something to remove
        ok(bp(bootpack, *[a if a != "DATA" else data for a in EDITS["add"]], gen("pe32plus"),
              "-o", src))
    else:
        copy(gen("pe32plus"), src)
    signed_src = tmp_path / "signed-src.efi"
    ok(bp(bootpack, "pe", "sign", src, "--key", other[0], "--cert", other[1], "-o", signed_src))
    args = [a if a != "DATA" else data for a in EDITS[op]]
    o = tmp_path / "out.efi"
    proc = ok(bp(bootpack, *args, signed_src, "--key", db[0], "--cert", db[1], "-o", o))
    assert proc.stdout == b"" and proc.stderr == b""
    rep, _ = info(bootpack, o)
    assert [s["signer"] for s in rep["signatures"]] == ["CN=db"]
    assert rep["signatures"][0]["digest_matches"]
    ok(verify(bootpack, o, db[1]))
    assert verify(bootpack, o, other[1]).returncode == 1
    names = [s["name"] for s in rep["sections"]]
    assert (".bpf" in names) == (op == "add")
    if op == "replace":
        sec = next(s for s in rep["sections"] if s["name"] == ".data")
        raw = o.read_bytes()[sec["raw_offset"]:sec["raw_offset"] + sec["raw_size"]]
        assert raw.startswith(data.read_bytes())
    # The same as editing the unsigned image, then signing it.
    plain, expect = tmp_path / "plain.efi", tmp_path / "expect.efi"
    ok(bp(bootpack, *args, src, "-o", plain))
    ok(bp(bootpack, "pe", "sign", plain, "--key", db[0], "--cert", db[1], "-o", expect))
    assert o.read_bytes() == expect.read_bytes()


def test_edit_signed_without_key_refused(bootpack, signed, tmp_path):
    """Signed input without --key: refused as before (unless --strip-signature)."""
    data = tmp_path / "bpf.o"
    data.write_bytes(b"bpf")
    o = tmp_path / "o.efi"
    proc = bp(bootpack, "pe", "add-section", signed, "--name", ".bpf", "--file", data, "-o", o)
    assert_fails(proc, signed, "--strip-signature")
    assert not o.exists()
    ok(bp(bootpack, "pe", "add-section", signed, "--name", ".bpf", "--file", data, "-o", o,
          "--strip-signature"))
    assert info(bootpack, o)[0]["signed"] is False


def test_edit_sign_in_place_and_options(bootpack, gen, db, tmp_path):
    """-o IN re-signs in place; --digest and --signing-time apply."""
    img = copy(gen("pe32plus"), tmp_path / "img.efi")
    data = tmp_path / "bpf.o"
    data.write_bytes(b"bpf" * 100)
    ok(bp(bootpack, "pe", "add-section", img, "--name", ".bpf", "--file", data, "-o", img,
          "--key", db[0], "--cert", db[1], "--digest", "sha384", "--signing-time", "86400"))
    s = info(bootpack, img)[0]["signatures"][0]
    assert (s["digest_algo"], s["signing_time"], s["digest_matches"]) == ("sha384", 86400, True)
    assert listing(tmp_path) == ["bpf.o", "img.efi"]


# --------------------------------------------------------------------------
# zboot: the inner Image

WARN = ("warning: the inner Image (Linux 6.1.0-99-test) is unsigned and this zboot "
        "decompressor (Linux before 6.2) passes it to LoadImage(): Secure Boot will refuse "
        "to start it")


def test_zboot_inner_unsigned_warns(bootpack, fake_zboot, db, tmp_path):
    """A 6.1-style header (no LINUX_PE_MAGIC), inner Image unsigned: pe sign
    warns in one line; pe info reports the inner Image and warns once signed;
    pe verify passes with the warning."""
    img = fake_zboot(False, False)
    rep, e = info(bootpack, img)
    assert e == ""  # unsigned outer image: nothing to warn about
    assert rep["zboot"]["inner_image"] == {"signature": "unsigned", "version": "6.1.0-99-test",
                                           "loads_inner_image": True}
    o = tmp_path / "signed.efi"
    proc = ok(bp(bootpack, "pe", "sign", img, "--key", db[0], "--cert", db[1], "-o", o))
    assert err(proc) == f"bootpack: '{img}': {WARN}\n" and proc.stdout == b""
    _, e = info(bootpack, o)
    assert e == f"bootpack: '{o}': {WARN}\n"
    text = out(ok(bp(bootpack, "pe", "info", o)))
    assert ("zboot inner Image:       Linux 6.1.0-99-test, unsigned; its decompressor passes "
            "it to LoadImage(), which Secure Boot checks\n") in text
    proc = ok(verify(bootpack, o, db[1]))
    assert err(proc) == f"bootpack: '{o}': {WARN}\n"
    _, vrep = verify_json(bootpack, o, db[1])
    assert vrep[0]["inner_image"]["signature"] == "unsigned"


def test_zboot_inner_signed_no_warning(bootpack, fake_zboot, db, tmp_path):
    img = fake_zboot(True, False)
    assert info(bootpack, img)[0]["zboot"]["inner_image"]["signature"] == "signed"
    o = tmp_path / "signed.efi"
    proc = ok(bp(bootpack, "pe", "sign", img, "--key", db[0], "--cert", db[1], "-o", o))
    assert proc.stderr == b""
    assert info(bootpack, o)[1] == ""


def test_zboot_new_header_no_warning(bootpack, fake_zboot, db, tmp_path):
    """LINUX_PE_MAGIC set (6.2 on): no warning; pe verify does not even look
    inside (inner_image null), pe info still reports it."""
    img = fake_zboot(False, True)
    o = tmp_path / "signed.efi"
    proc = ok(bp(bootpack, "pe", "sign", img, "--key", db[0], "--cert", db[1], "-o", o))
    assert proc.stderr == b""
    _, vrep = verify_json(bootpack, o, db[1])
    assert vrep[0]["ok"] and vrep[0]["inner_image"] is None
    assert info(bootpack, o)[0]["zboot"]["inner_image"]["signature"] == "unsigned"


def test_zboot_edit_sign_warns(bootpack, fake_zboot, db, tmp_path):
    data = tmp_path / "bpf.o"
    data.write_bytes(b"bpf")
    img = fake_zboot(False, False)
    o = tmp_path / "o.efi"
    proc = ok(bp(bootpack, "pe", "add-section", img, "--name", ".bpf", "--file", data,
                 "--key", db[0], "--cert", db[1], "-o", o))
    assert err(proc) == f"bootpack: '{img}': {WARN}\n"
    ok(verify(bootpack, o, db[1]))


@pytest.mark.corpus
@pytest.mark.parametrize("kid", ["6.1-gzip", "6.12-zstd"])
def test_real_zboot_sign_verify(bootpack, zboot_kernels, db, other, tmp_path, kid):
    """Real kernels: sign, verify, hash against the digest computed here,
    --append; the 6.1 one warns (its decompressor calls LoadImage()), the
    6.12 one does not; add .bpf and re-sign in one step."""
    ver, comp = kid.split("-")
    k = zboot_kernels[(ver, comp)]
    o = tmp_path / "signed.efi"
    proc = ok(bp(bootpack, "pe", "sign", k.efi, "--key", db[0], "--cert", db[1], "-o", o))
    data = o.read_bytes()
    assert hash_of(bootpack, o) == authenticode_digest(data)
    assert checksum_ok(o)
    rep, e = info(bootpack, o)
    inner = rep["zboot"]["inner_image"]
    assert inner["signature"] == "unsigned" and inner["version"].startswith(ver + ".")
    if ver == "6.1":
        assert inner["loads_inner_image"] is True
        assert re.fullmatch(rf"bootpack: '{re.escape(str(k.efi))}': warning: the inner Image "
                            rf"\(Linux 6\.1\.[^)]*\) is unsigned and this zboot decompressor "
                            r"\(Linux before 6\.2\) passes it to LoadImage\(\): Secure Boot "
                            r"will refuse to start it\n", err(proc)), err(proc)
        assert e.count("warning: the inner Image") == 1
    else:
        assert inner["loads_inner_image"] is False and proc.stderr == b"" and e == ""
    proc = ok(verify(bootpack, o, db[1]))
    assert out(proc).splitlines()[0] == good_line(o, 1, "CN=db")
    two = tmp_path / "two.efi"
    ok(bp(bootpack, "pe", "sign", o, "--append", "--key", other[0], "--cert", other[1],
          "-o", two))
    assert "2 of 2 signatures good" in out(ok(verify(bootpack, two, db[1], other[1])))
    bpf = tmp_path / "bpf.o"
    bpf.write_bytes(b"\x7fELF" + b"\0" * 1000)
    edited = tmp_path / "bpf.efi"
    ok(bp(bootpack, "pe", "add-section", two, "--name", ".bpf", "--file", bpf, "--key", db[0],
          "--cert", db[1], "-o", edited))
    rep, _ = info(bootpack, edited)
    assert [s["signer"] for s in rep["signatures"]] == ["CN=db"]
    assert ".bpf" in [s["name"] for s in rep["sections"]]
    ok(verify(bootpack, edited, db[1]))
    assert verify(bootpack, edited, other[1]).returncode == 1


# --------------------------------------------------------------------------
# PKCS#11

def test_softhsm_key_signs_as_pem(bootpack, softhsm_token, gen, tmp_path):  # noqa: F811
    """RSA PKCS#1 v1.5 is deterministic: the token's key gives the bytes the
    same key as a PEM file gives."""
    t = softhsm_token
    crt = tmp_path / "token-dev.crt"
    run(["openssl", "req", "-batch", "-new", "-x509", "-key", t.private_pem("dev"),
         "-subj", "/CN=token-dev", "-days", "3650", "-set_serial", "7", "-out", crt])
    env = pkcs11_env({k: v for k, v in t.env.items() if k != "SOURCE_DATE_EPOCH"})
    from_token, from_file = tmp_path / "token.efi", tmp_path / "file.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", t.uri("dev"), "--pin", t.pin,
          "--cert", crt, "-o", from_token, env=env))
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", t.private_pem("dev"),
          "--cert", crt, "-o", from_file, env=env))
    assert from_token.read_bytes() == from_file.read_bytes()
    ok(verify(bootpack, from_token, crt))
    # The same through an edit, with the PIN in the URI.
    data = tmp_path / "bpf.o"
    data.write_bytes(b"bpf")
    edited = tmp_path / "edited.efi"
    ok(bp(bootpack, "pe", "add-section", from_token, "--name", ".bpf", "--file", data,
          "--key", t.uri("dev", pin=True), "--cert", crt, "-o", edited, env=env))
    ok(verify(bootpack, edited, crt))


def test_softhsm_wrong_pin(bootpack, softhsm_token, gen, db, tmp_path):  # noqa: F811
    t = softhsm_token
    env = pkcs11_env({k: v for k, v in t.env.items() if k != "SOURCE_DATE_EPOCH"})
    proc = bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", t.uri("dev"), "--pin", "0000",
              "--cert", db[1], "-o", tmp_path / "o.efi", env=env)
    assert proc.returncode == 1 and len(err(proc).splitlines()) == 1, err(proc)
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------
# bad inputs: one line, exit 1, nothing written

@pytest.fixture(scope="module")
def junk(ws):
    d = ws / "junk"
    d.mkdir(exist_ok=True)
    (d / "garbage.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 !!\n"
                                    b"-----END PRIVATE KEY-----\n")
    (d / "random.bin").write_bytes(bytes((i * 37 + 11) & 0xff for i in range(700)))
    (d / "not-pe.efi").write_bytes(b"MZ" + b"\0" * 100)
    return d


def sign_case(case, gen, db, junk, tmp_path):
    """(args, path blamed) for a bad input of pe sign."""
    key, crt = db
    img = gen("pe32plus")
    o = tmp_path / "o.efi"
    missing = tmp_path / "missing"
    return {
        "missing input": (["pe", "sign", missing, "-k", key, "-c", crt, "-o", o], missing),
        "input not PE": (["pe", "sign", junk / "not-pe.efi", "-k", key, "-c", crt, "-o", o],
                         junk / "not-pe.efi"),
        "missing key": (["pe", "sign", img, "-k", missing, "-c", crt, "-o", o], missing),
        "garbage key": (["pe", "sign", img, "-k", junk / "garbage.pem", "-c", crt, "-o", o],
                        junk / "garbage.pem"),
        "certificate as key": (["pe", "sign", img, "-k", crt, "-c", crt, "-o", o], crt),
        "missing cert": (["pe", "sign", img, "-k", key, "-c", missing, "-o", o], missing),
        "garbage cert": (["pe", "sign", img, "-k", key, "-c", junk / "random.bin", "-o", o],
                         junk / "random.bin"),
        "key as cert": (["pe", "sign", img, "-k", key, "-c", key, "-o", o], key),
        "garbage chain": (["pe", "sign", img, "-k", key, "-c", crt, "--chain",
                           junk / "random.bin", "-o", o], junk / "random.bin"),
        "missing chain": (["pe", "sign", img, "-k", key, "-c", crt, "--chain", missing,
                           "-o", o], missing),
        "output directory missing": (["pe", "sign", img, "-k", key, "-c", crt, "-o",
                                      tmp_path / "nodir" / "o.efi"], None),
    }[case]


SIGN_CASES = ["missing input", "input not PE", "missing key", "garbage key",
              "certificate as key", "missing cert", "garbage cert", "key as cert",
              "garbage chain", "missing chain", "output directory missing"]


@pytest.mark.parametrize("case", SIGN_CASES)
def test_sign_bad_input(bootpack, gen, db, junk, tmp_path, case):
    work = tmp_path / "work"
    work.mkdir()
    args, blamed = sign_case(case, gen, db, junk, work)
    proc = bp(bootpack, *args)
    e = err(proc)
    assert proc.returncode == 1 and proc.stdout == b"", (proc.returncode, e)
    assert len(e.splitlines()) == 1 and e.startswith("bootpack: "), e
    if blamed is not None:
        assert e.startswith(f"bootpack: '{blamed}': "), e
    assert listing(work) == [], listing(work)


def test_edit_sign_bad_key_writes_nothing(bootpack, signed, junk, db, tmp_path):
    data = tmp_path / "bpf.o"
    data.write_bytes(b"bpf")
    o = tmp_path / "o.efi"
    proc = bp(bootpack, "pe", "add-section", signed, "--name", ".bpf", "--file", data,
              "--key", junk / "garbage.pem", "--cert", db[1], "-o", o)
    assert_fails(proc, junk / "garbage.pem")
    assert listing(tmp_path) == ["bpf.o"]


@pytest.mark.parametrize("case", ["missing", "garbage", "key"])
def test_verify_bad_cert(bootpack, signed, junk, db, tmp_path, case):
    cert = {"missing": tmp_path / "missing.crt", "garbage": junk / "random.bin",
            "key": db[0]}[case]
    proc = verify(bootpack, signed, cert)
    assert_fails(proc, cert)


def test_in_place_failure_keeps_input(bootpack, gen, db, other, tmp_path):
    """A failed in-place signing leaves the input as it was."""
    img = copy(gen("pe32plus"), tmp_path / "img.efi")
    before = img.read_bytes()
    proc = bp(bootpack, "pe", "sign", img, "--key", db[0], "--cert", other[1], guard=False)
    assert proc.returncode == 1
    assert img.read_bytes() == before and listing(tmp_path) == ["img.efi"]


def test_escaped_subject(bootpack, gen, pki, tmp_path):  # noqa: F811
    """A subject holding an escape sequence and UTF-8 reaches the terminal
    escaped, in text and JSON."""
    key = pki.key("evil")
    crt = tmp_path / "evil.crt"
    run(["openssl", "req", "-batch", "-new", "-x509", "-key", key, "-utf8", "-days", "1",
         "-subj", "/CN=ev\x1b[31mil \u00e9", "-out", crt])
    o = tmp_path / "evil.efi"
    ok(bp(bootpack, "pe", "sign", gen("pe32plus"), "--key", key, "--cert", crt, "-o", o))
    for proc in (ok(bp(bootpack, "pe", "info", o)), ok(verify(bootpack, o, crt)),
                 ok(bp(bootpack, "pe", "info", "--json", o))):
        assert b"\x1b" not in proc.stdout + proc.stderr
        assert all(0x20 <= c < 0x7f or c == 0x0a for c in proc.stdout + proc.stderr)
    # The subject in RFC 2253 form (controls as \1B), then escaped for the terminal once.
    rep, _ = info(bootpack, o)
    assert rep["signatures"][0]["signer"] == "CN=ev\\1B[31mil \u00e9"
    text = out(ok(bp(bootpack, "pe", "info", o)))
    assert "  1   CN=ev\\\\1B[31mil \\xc3\\xa9\n" in text, text


# --------------------------------------------------------------------------
# usage errors: exit 2

SIGN_USAGE = [
    ([], "no input image given"),
    (["a.efi", "b.efi", "-k", "k", "-c", "c"], "one image at a time: unexpected 'b.efi'"),
    (["a.efi", "-c", "c"], "missing required option -k/--key"),
    (["a.efi", "-k", "k"], "missing required option -c/--cert"),
    (["a.efi"], "missing required options -k/--key and -c/--cert"),
    (["a.efi", "-k", "k", "-c", "c", "--append", "--replace"],
     "--append and --replace do not go together"),
    (["a.efi", "-k", "k", "-c", "c", "-o", "-"],
     "'-' is not a file: pe sign writes in place or to a named file"),
    (["a.efi", "-k", "k", "-c", "c", "--digest", "md5"],
     "--digest 'md5': expected sha256, sha384 or sha512"),
    (["a.efi", "-k", "k", "-c", "c", "--digest", "sha1"],
     "--digest 'sha1': expected sha256, sha384 or sha512"),
    (["a.efi", "-k", "k", "-c", "c", "--signing-time", "-1"],
     "--signing-time '-1': expected seconds since 1970 (0 to 253402300799), now or none"),
    (["a.efi", "-k", "k", "-c", "c", "--signing-time", "253402300800"],
     "--signing-time '253402300800': expected seconds since 1970 (0 to 253402300799), now "
     "or none"),
    (["a.efi", "-k", "k", "-c", "c", "--signing-time", "tomorrow"],
     "--signing-time 'tomorrow': expected seconds since 1970 (0 to 253402300799), now or none"),
    (["a.efi", "--bogus"], "unknown option '--bogus'"),
    (["a.efi", "--key"], "option '--key' needs an argument"),
]


@pytest.mark.parametrize("args,msg", SIGN_USAGE)
def test_sign_usage(bootpack, tmp_path, args, msg):
    assert_usage(bp(bootpack, "pe", "sign", *args, cwd=tmp_path), "pe sign", msg)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("args,msg", [
    ([], "no FILE given"),
    (["a.efi", "b.efi"], "give one FILE"),
    (["--digest", "md5", "a.efi"], "--digest 'md5': expected sha1, sha256, sha384 or sha512"),
    (["--key", "k", "a.efi"], "unknown option '--key'"),
])
def test_hash_usage(bootpack, args, msg):
    assert_usage(bp(bootpack, "pe", "hash", *args), "pe hash", msg)


@pytest.mark.parametrize("args,msg", [
    ([], "no FILE given"),
    (["--cert"], "option '--cert' needs an argument"),
    (["--ca"], "option '--ca' needs an argument"),
])
def test_verify_usage(bootpack, args, msg):
    assert_usage(bp(bootpack, "pe", "verify", *args), "pe verify", msg)


@pytest.mark.parametrize("cmd,args,msg", [
    ("pe add-section", ["a.efi", "-o", "o.efi", "--name", ".bpf", "--file", "d", "--cert", "c"],
     "missing required option -k/--key"),
    ("pe add-section", ["a.efi", "-o", "o.efi", "--name", ".bpf", "--file", "d", "-k", "k"],
     "missing required option -c/--cert"),
    ("pe remove-section", ["a.efi", "-o", "o.efi", "--name", ".bpf", "--digest", "sha384"],
     "missing required options -k/--key and -c/--cert"),
    ("pe replace-section", ["a.efi", "-o", "-", "--name", ".bpf", "--file", "d", "-k", "k",
                            "-c", "c"],
     "'-' is not a file: a signed image is written to a named file"),
    ("pe add-section", ["a.efi", "-o", "o.efi", "--name", ".bpf", "--file", "d", "-k", "k",
                        "-c", "c", "--digest", "sha1"],
     "--digest 'sha1': expected sha256, sha384 or sha512"),
    ("pe remove-section", ["a.efi", "-o", "o.efi", "--name", ".bpf", "--pin", "1", "--chain",
                           "x", "--signing-time", "now"],
     "missing required options -k/--key and -c/--cert"),
])
def test_edit_sign_usage(bootpack, tmp_path, cmd, args, msg):
    assert_usage(bp(bootpack, *cmd.split(), *args, cwd=tmp_path), cmd, msg)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("command", ["pe sign", "pe hash", "pe verify", "pe info",
                                     "pe add-section", "pe replace-section",
                                     "pe remove-section"])
def test_help_options_documented(bootpack, command):
    """--help on stdout, exit 0; every option it names is in the man page, and
    each command has its section."""
    proc = ok(bp(bootpack, *command.split(), "--help"))
    text = out(proc)
    assert text.startswith(f"Usage: bootpack {command} ") and proc.stderr == b""
    man = (REPO / "doc" / "bootpack.1").read_text().replace("\\-", "-")
    obj, cmd = command.split()
    assert re.search(rf'^\.SS "bootpack {obj} [^"]*\b{cmd}\b', man, re.M), command
    for opt in re.findall(r"--([a-z][a-z-]+)", text):
        assert f"--{opt}" in man, f"--{opt} is not in doc/bootpack.1"


def test_pe_help_lists_commands(bootpack):
    text = out(ok(bp(bootpack, "pe", "--help")))
    for c in ("sign", "hash", "verify"):
        assert f"\n  {c} " in text
