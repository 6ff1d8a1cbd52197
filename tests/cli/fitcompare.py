# SPDX-License-Identifier: MIT
"""Load FIT images into an ordered tree and compare two of them.

A FIT is read with Python libfdt (``FdtRo``) into ``Node`` objects that
keep node and property order. ``compare_fits()`` then checks that two FITs
have the same nodes in the same order, the same property names in the same
order and the same values, except:

* the root ``timestamp``: must exist in both as one u32; its value is
  not compared (``expect_timestamp`` checks it against a number);
* image payloads: ``data`` (embedded) or ``data-offset``/``data-size`` or
  ``data-position``/``data-size`` (external, as ``mkimage -E`` writes) are
  resolved to the stored bytes, decompressed according to the node's
  ``compression`` and compared; the offsets and sizes themselves are not
  compared, but their names and order are (they are ordinary properties).

The first difference raises ``FitMismatch`` naming its node path.
"""

import bz2
import gzip
import hashlib
import lzma
import subprocess

import libfdt

# Properties that locate external image data.
EXTERNAL_PROPS = ("data-offset", "data-position", "data-size")

# CLI decompressors for the formats Python's stdlib does not speak.
CLI_DECOMPRESS = {
    "lz4": ["lz4", "-dc"],
    "lzo": ["lzop", "-dc"],
    "zstd": ["zstd", "-dc"],
}

_NOTFOUND = (libfdt.NOTFOUND,)


class FitMismatch(AssertionError):
    """Two FITs differ; the message names the node path and the difference."""


def align(value, alignment):
    return (value + alignment - 1) // alignment * alignment


class Node:
    """One devicetree node: name, path, ordered properties and children."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.props = []          # list of (name, bytes), file order
        self.children = []       # list of Node, file order

    def prop_names(self):
        return [n for n, _ in self.props]

    def child_names(self):
        return [c.name for c in self.children]

    def get(self, name, default=None):
        for n, v in self.props:
            if n == name:
                return v
        return default

    def has(self, name):
        return any(n == name for n, _ in self.props)

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(f"{self.path}: no subnode {name!r}")

    def remove_prop(self, name):
        self.props = [(n, v) for n, v in self.props if n != name]

    def remove_child(self, name):
        self.children = [c for c in self.children if c.name != name]

    def get_str(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(f"{self.path}: no property {name!r}")
        return decode_str(value)

    def get_u32(self, name):
        value = self.get(name)
        if value is None or len(value) != 4:
            raise KeyError(f"{self.path}: no u32 property {name!r}")
        return int.from_bytes(value, "big")

    def __repr__(self):
        return f"Node({self.path!r}, props={self.prop_names()}, children={self.child_names()})"


def decode_str(value):
    """A single NUL-terminated string property as str."""
    value = bytes(value)
    if not value.endswith(b"\0"):
        raise ValueError(f"not a string: {value[:32]!r}")
    return value[:-1].decode("utf-8", errors="replace")


def format_value(value, limit=96):
    """Human-readable rendering of a property value for messages."""
    value = bytes(value)
    if value and value.endswith(b"\0") and all(
            32 <= b < 127 or b == 0 for b in value) and b"\0\0" not in value:
        parts = value[:-1].split(b"\0")
        text = ", ".join('"' + p.decode() + '"' for p in parts)
        return text if len(text) <= limit else text[:limit] + "..."
    if len(value) % 4 == 0 and 0 < len(value) <= 32:
        cells = [f"{int.from_bytes(value[i:i + 4], 'big'):#010x}"
                 for i in range(0, len(value), 4)]
        return "<" + " ".join(cells) + ">"
    head = value[:limit // 3].hex(" ")
    return f"[{len(value)} bytes: {head}{' ...' if len(value) > limit // 3 else ''}]"


class Fit:
    """A FIT file parsed into an ordered Node tree."""

    def __init__(self, data, name="<fit>"):
        self.data = bytes(data)
        self.name = name
        self.fdt = libfdt.FdtRo(self.data)
        self.totalsize = self.fdt.totalsize()
        # mkimage -E: data-offset counts from the 4-byte-aligned end of the FDT
        self.data_base = align(self.totalsize, 4)
        self.root = self._walk(0, "", "/")

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls(f.read(), name=str(path))

    def _walk(self, offset, name, path):
        node = Node(name, path)
        fdt = self.fdt
        poff = fdt.first_property_offset(offset, _NOTFOUND)
        while poff >= 0:
            prop = fdt.get_property_by_offset(poff)
            node.props.append((prop.name, bytes(prop)))
            poff = fdt.next_property_offset(poff, _NOTFOUND)
        sub = fdt.first_subnode(offset, _NOTFOUND)
        while sub >= 0:
            child_name = fdt.get_name(sub)
            child_path = (path.rstrip("/") + "/" + child_name)
            node.children.append(self._walk(sub, child_name, child_path))
            sub = fdt.next_subnode(sub, _NOTFOUND)
        return node

    def node(self, path):
        """Node at an absolute path like '/images/kernel'."""
        node = self.root
        for part in [p for p in path.split("/") if p]:
            node = node.child(part)
        return node

    def images(self):
        """The /images subnodes, in order."""
        return self.node("/images").children

    @property
    def timestamp(self):
        return self.root.get_u32("timestamp")

    def image_extent(self, node):
        """(absolute file offset, size) of an external image, or None."""
        size = node.get("data-size")
        if node.has("data-position"):
            start = int.from_bytes(node.get("data-position"), "big")
        elif node.has("data-offset"):
            start = self.data_base + int.from_bytes(node.get("data-offset"), "big")
        else:
            return None
        if size is None or len(size) != 4:
            raise FitMismatch(f"{self.name}: {node.path}: external data without a u32 data-size")
        return start, int.from_bytes(size, "big")

    def stored_data(self, node):
        """The bytes stored for an image, embedded or external (still compressed)."""
        if node.has("data"):
            return node.get("data")
        extent = self.image_extent(node)
        if extent is None:
            raise FitMismatch(f"{self.name}: {node.path}: image has neither data nor data-offset/data-position")
        start, size = extent
        if start + size > len(self.data):
            raise FitMismatch(f"{self.name}: {node.path}: external data [{start:#x}, +{size:#x}) "
                              f"beyond end of file ({len(self.data):#x})")
        return self.data[start:start + size]

    def compression(self, node):
        value = node.get("compression")
        return decode_str(value) if value is not None else "none"

    def payload(self, node):
        """The image's data after decompression."""
        return decompress(self.stored_data(node), self.compression(node), where=f"{self.name}: {node.path}")


_decompress_cache = {}


def decompress(data, compression, where="data"):
    """Decompress FIT image data stored with the given FIT compression name."""
    data = bytes(data)
    if compression == "none":
        return data
    key = (compression, hashlib.sha256(data).digest())
    if key in _decompress_cache:
        return _decompress_cache[key]
    try:
        if compression == "gzip":
            out = gzip.decompress(data)
        elif compression == "bzip2":
            out = bz2.decompress(data)
        elif compression == "lzma":
            out = lzma.decompress(data, format=lzma.FORMAT_ALONE)
        elif compression in CLI_DECOMPRESS:
            proc = subprocess.run(CLI_DECOMPRESS[compression], input=data,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            if proc.returncode != 0:
                raise ValueError(f"{' '.join(CLI_DECOMPRESS[compression])} failed: "
                                 f"{proc.stderr.decode(errors='replace').strip()}")
            out = proc.stdout
        else:
            raise ValueError(f"unknown compression {compression!r}")
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FitMismatch(f"{where}: cannot decompress {compression} data: {exc}") from exc
    if len(_decompress_cache) > 4096:
        _decompress_cache.clear()
    _decompress_cache[key] = out
    return out


def _first_diff(a, b):
    n = min(len(a), len(b))
    step = 1 << 16
    for base in range(0, n, step):
        if a[base:base + step] != b[base:base + step]:
            for i in range(base, min(base + step, n)):
                if a[i] != b[i]:
                    return i
    return n


def _list_diff(what, path, ref, out):
    for i, (r, o) in enumerate(zip(ref, out)):
        if r != o:
            return (f"{path}: {what} differ at index {i}: reference {r!r}, bootpack {o!r}\n"
                    f"  reference: {ref}\n  bootpack:  {out}")
    return (f"{path}: {what} differ in count ({len(ref)} vs {len(out)})\n"
            f"  reference: {ref}\n  bootpack:  {out}")


def _is_image(node):
    return node.path.startswith("/images/") and node.path.count("/") == 2


def compare_fits(ref, out, expect_timestamp=None):
    """Raise FitMismatch at the first difference between two Fit objects.

    ``ref`` is the reference (make_fit.py / mkimage output), ``out`` the FIT
    under test. ``expect_timestamp``, if given, is the value required of
    ``out``'s root timestamp.
    """
    _compare_node(ref, out, ref.root, out.root, expect_timestamp)


def _compare_node(ref, out, rn, on, expect_timestamp):
    path = rn.path
    if rn.prop_names() != on.prop_names():
        raise FitMismatch(_list_diff("property names/order", path, rn.prop_names(), on.prop_names()))

    image = _is_image(rn)
    for (name, rv), (_, ov) in zip(rn.props, on.props):
        if path == "/" and name == "timestamp":
            for who, v in (("reference", rv), ("bootpack", ov)):
                if len(v) != 4:
                    raise FitMismatch(f"/: {who} timestamp is {len(v)} bytes, not a u32")
            if expect_timestamp is not None and int.from_bytes(ov, "big") != expect_timestamp:
                raise FitMismatch(f"/: timestamp {int.from_bytes(ov, 'big')} != expected {expect_timestamp}")
            continue
        if image and name in EXTERNAL_PROPS:
            if len(ov) != 4:
                raise FitMismatch(f"{path}: bootpack {name} is {len(ov)} bytes, not a u32")
            continue
        if image and name == "data":
            continue  # compared as payload below
        if rv != ov:
            raise FitMismatch(f"{path}: property {name!r} differs:\n"
                              f"  reference: {format_value(rv)}\n  bootpack:  {format_value(ov)}")

    if image:
        rp = ref.payload(rn)
        op = out.payload(on)
        if rp != op:
            i = _first_diff(rp, op)
            raise FitMismatch(
                f"{path}: image data differs after decompression "
                f"(reference {len(rp)} bytes, bootpack {len(op)} bytes, first difference at {i:#x}; "
                f"compression {ref.compression(rn)!r})")

    if rn.child_names() != on.child_names():
        raise FitMismatch(_list_diff("subnodes", path, rn.child_names(), on.child_names()))
    for rc, oc in zip(rn.children, on.children):
        _compare_node(ref, out, rc, oc, expect_timestamp)


def dump_tree(fit, with_values=True):
    """Text outline of a FIT (for failure messages and debugging)."""
    lines = []

    def walk(node, depth):
        pad = "  " * depth
        lines.append(f"{pad}{node.name or '/'} {{")
        for name, value in node.props:
            if name == "data":
                lines.append(f"{pad}  {name} = [{len(value)} bytes];")
            elif with_values:
                lines.append(f"{pad}  {name} = {format_value(value)};")
            else:
                lines.append(f"{pad}  {name};")
        for child in node.children:
            walk(child, depth + 1)
        lines.append(f"{pad}}};")

    walk(fit.root, 0)
    return "\n".join(lines)
