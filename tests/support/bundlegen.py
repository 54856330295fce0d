#!/usr/bin/python3
"""bundlegen.py: a second, minimal writer of the bundle format
(packaging/FORMAT.md), written from the document and not from the C code,
used to make a corpus of validly signed but hostile bundles.

    bundlegen.py OUTDIR KEYDIR AGENT

KEYDIR holds ca-signer.{pem,key} and rogue-signer.{pem,key} (lib.sh's
make_keys); AGENT is the demo agent binary every payload carries, so a bundle
that should install can start.  Writes OUTDIR/NAME.bundle for every case,
OUTDIR/enc.key (the decryption key the guest must use) and OUTDIR/cases.tsv:

    NAME <TAB> install|refuse <TAB> REASON (substring of the error) <TAB> FLAGS

FLAGS: "mem" marks the memory bombs whose peak RSS the test measures with the
release binary.  Only the standard library, openssl(1) and zstd(1) are used.
"""
import hashlib
import io
import lzma
import os
import struct
import subprocess
import sys
import zlib

MTIME = 1700000000
BLOCK = 1 << 20
CHUNK = 1 << 16          # format 2: small chunks, so small trees make many members
KEY = bytes(range(32))


# --- ustar -------------------------------------------------------------------

def header(name, typ=b"0", size=0, mode=0o644, link=b"", magic=b"ustar\x0000",
           size_field=None, checksum=True):
    if isinstance(name, str):
        name = name.encode()
    if isinstance(link, str):
        link = link.encode()
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = b"%07o\x00" % mode
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    h[136:148] = b"%011o\x00" % MTIME
    h[156:157] = typ
    h[157:157 + len(link[:100])] = link[:100]
    h[257:265] = magic
    h[148:156] = b" " * 8
    if checksum:
        h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def pad(data):
    return data + b"\x00" * (-len(data) % 512)


def pax(records):
    body = b""
    for key, value in records:
        rest = b" %s=%s\n" % (key.encode(), value if isinstance(value, bytes) else value.encode())
        n = len(rest) + 1
        while len(str(n)) + len(rest) != n:
            n += 1
        body += str(n).encode() + rest
    return header("PaxHeader", b"x", len(body)) + pad(body)


def entry(name, data=b"", typ=b"0", mode=0o644, link=b""):
    """One entry; a pax header first when the name or link needs one."""
    size = len(data) if typ == b"0" else 0
    records = [(k, v) for k, v in (("path", name), ("linkpath", link))
               if len(v.encode() if isinstance(v, str) else v) > 99]
    return (pax(records) if records else b"") + header(name, typ, size, mode, link) + pad(data)


def tar(*entries, end=True, trailer=b""):
    return b"".join(entries) + (b"\x00" * 1024 if end else b"") + trailer


# --- compression ---------------------------------------------------------------

def gzip(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def xz(data):
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                         filters=[{"id": lzma.FILTER_LZMA2, "preset": 2}])


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3", "--no-check"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def xz_big_dictionary(data):
    """An .xz stream whose LZMA2 properties ask for a 1.5 GiB dictionary: the
    block header's dictionary byte is patched and its CRC32 recomputed."""
    s = bytearray(xz(data))
    block = 12                                   # after the stream header
    size = (s[block] + 1) * 4
    flags = s[block + 1]
    at = block + 2
    for bit in (0x40, 0x80):                     # compressed / uncompressed size
        if flags & bit:
            while s[at] & 0x80:
                at += 1
            at += 1
    assert s[at] == 0x21 and s[at + 1] == 1      # LZMA2, one property byte
    s[at + 2] = 37                               # (2|1) << (18 + 11) = 1.5 GiB
    crc = zlib.crc32(bytes(s[block:block + size - 4]))
    s[block + size - 4:block + size] = struct.pack("<I", crc)
    return bytes(s)


def zstd_big_window(data):
    """A zstd frame whose window descriptor says 128 MiB (no header checksum)."""
    s = bytearray(zstd(data))
    fhd = s[4]
    assert not fhd & 0x20, "single-segment frame has no window descriptor"
    s[5] = (27 - 10) << 3
    return bytes(s)


def gzip_of_zeros(size, before=b"", after=b"", level=1):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [c.compress(before)]
    chunk = b"\x00" * (1 << 20)
    left = size
    while left:
        n = min(left, len(chunk))
        out.append(c.compress(chunk[:n]))
        left -= n
    out.append(c.compress(after))
    out.append(c.flush())
    return b"".join(out)


# --- encryption ------------------------------------------------------------------

def ctr(data, iv):
    """AES-256-CTR as FORMAT.md says (openssl enc's 128-bit counter)."""
    return subprocess.run(["openssl", "enc", "-aes-256-ctr", "-K", KEY.hex(), "-iv", iv.hex()],
                          input=data, stdout=subprocess.PIPE, check=True).stdout


def key_id(key):
    return hashlib.sha256(b"slotd-key-id:" + key).hexdigest()[:32]


# --- bundle ----------------------------------------------------------------------

class Bundle:
    def __init__(self, gen, version, payload_plain, compression="gzip", stored=None):
        self.gen = gen
        self.fields = {
            "format": "1", "compatible": "hostile", "version": version,
            "created": str(MTIME), "compression": compression, "encryption": "none",
            "block_size": str(BLOCK),
        }
        self.stored = stored if stored is not None else payload_plain
        self.member_names = ["manifest.ini", "manifest.sig", "blocks.sha256", "payload"]
        self.signer = "ca"

    def encrypt(self, iv):
        self.stored = ctr(self.stored, iv)
        self.fields["encryption"] = "aes-256-ctr"
        self.fields["iv"] = iv.hex()
        self.fields["key_id"] = key_id(KEY)

    def hashes(self):
        bs = int(self.fields["block_size"])
        return b"".join(hashlib.sha256(self.stored[i:i + bs]).digest()
                        for i in range(0, len(self.stored), bs))

    def fill(self):
        f = self.fields
        bs = int(f["block_size"])
        f.setdefault("size", str(len(self.stored)))
        f.setdefault("sha256", hashlib.sha256(self.stored).hexdigest())
        f.setdefault("block_count", str(-(-len(self.stored) // bs)))
        self.hash_list = getattr(self, "hash_list", None) or self.hashes()
        f.setdefault("blocks_sha256", hashlib.sha256(self.hash_list).hexdigest())

    def manifest(self):
        self.fill()
        f = self.fields
        lines = ["# written by tests/support/bundlegen.py", "[bundle]"]
        lines += ["%s = %s" % (k, f[k]) for k in ("format", "compatible", "version", "created")
                  if k in f]
        lines.append("[payload]")
        lines += ["%s = %s" % (k, f[k]) for k in ("size", "sha256", "compression",
                  "encryption", "iv", "key_id", "block_size", "chunk_size", "block_count",
                  "blocks_sha256") if k in f]
        lines += getattr(self, "extra_lines", [])
        return getattr(self, "manifest_text", None) or ("\n".join(lines) + "\n").encode()

    def sign(self, text):
        d = self.gen.keys
        return subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER",
                               "-signer", "%s/%s-signer.pem" % (d, self.signer),
                               "-inkey", "%s/%s-signer.key" % (d, self.signer)],
                              input=text, stdout=subprocess.PIPE, check=True).stdout

    def members(self):
        text = self.manifest()
        return [text, self.sign(text), self.hash_list, self.stored]

    def container(self, members=None, end=True, trailer=b""):
        data = members or list(zip(self.member_names, self.members()))
        return tar(*[entry(name, body) for name, body in data], end=end, trailer=trailer)


def chunks(plain, size=CHUNK):
    return [plain[i:i + size] for i in range(0, len(plain), size)]


class Chunked(Bundle):
    """Format 2: one compressed member per stored block; the hash list holds,
    per block, its length (4 bytes, big-endian) and its SHA-256."""

    def __init__(self, gen, version, members, compression="gzip"):
        Bundle.__init__(self, gen, version, b"".join(members), compression)
        del self.fields["block_size"]
        self.fields.update({"format": "2", "chunk_size": str(CHUNK)})
        self.lengths = [len(m) for m in members]

    def hashes(self):
        out, at = [], 0
        for n in self.lengths:
            out.append(struct.pack(">I", n) + hashlib.sha256(self.stored[at:at + n]).digest())
            at += n
        return b"".join(out)

    def fill(self):
        f = self.fields
        f.setdefault("size", str(len(self.stored)))
        f.setdefault("sha256", hashlib.sha256(self.stored).hexdigest())
        f.setdefault("block_count", str(len(self.lengths)))
        self.hash_list = getattr(self, "hash_list", None) or self.hashes()
        f.setdefault("blocks_sha256", hashlib.sha256(self.hash_list).hexdigest())


class Generator:
    def __init__(self, out, keys, agent):
        self.out, self.keys = out, keys
        with open(agent, "rb") as f:
            self.agent = f.read()
        self.cases = []
        self.serial = 0

    def base(self):
        """The entries every payload starts with: a working demo agent."""
        return [entry("bin/", typ=b"5", mode=0o755),
                entry("bin/agent", self.agent, mode=0o755),
                entry("behaviour", b"good\n")]

    def version(self):
        self.serial += 1
        return "v1.%d.0" % self.serial

    def write(self, name, expect, reason, blob, flags=""):
        with open(os.path.join(self.out, name + ".bundle"), "wb") as f:
            f.write(blob)
        self.cases.append((name, expect, reason, flags))

    def payload_case(self, name, expect, reason, *extra, compress=gzip, compression="gzip",
                     flags="", end=True, trailer=b""):
        plain = compress(tar(*(self.base() + list(extra)), end=end, trailer=trailer))
        b = Bundle(self, self.version(), plain, compression)
        self.write(name, expect, reason, b.container(), flags)

    def bundle(self, plain_tar=None, compression="gzip"):
        return Bundle(self, self.version(), gzip(plain_tar or tar(*self.base())), compression)


def paths_links_devices(g):
    g.payload_case("abs-path", "refuse", "absolute path", entry("/tmp/slotd-hostile-abs", b"x"))
    g.payload_case("dotdot", "refuse", "'..' component", entry("bin/../../escape", b"x"))
    g.payload_case("symlink-escape", "refuse", "escapes the slot",
                   entry("l", typ=b"2", link="../../.."))
    g.payload_case("symlink-absolute", "refuse", "escapes the slot",
                   entry("l", typ=b"2", link="/etc/passwd"))
    g.payload_case("write-through-symlink", "refuse", "a parent path is a symlink",
                   entry("d", typ=b"2", link="bin"), entry("d/x", b"x"))
    g.payload_case("hardlink-out", "refuse", "'..' component",
                   entry("h", typ=b"1", link="../../etc/passwd"))
    g.payload_case("hardlink-missing", "refuse", "was not extracted",
                   entry("h", typ=b"1", link="nothere"))
    g.payload_case("char-device", "refuse", "character device not allowed",
                   entry("null", typ=b"3"))
    g.payload_case("block-device", "refuse", "block device not allowed", entry("sda", typ=b"4"))
    g.payload_case("fifo", "refuse", "fifo not allowed", entry("p", typ=b"6"))
    g.payload_case("dir-over-file", "refuse", "directory over an existing non-directory",
                   entry("d", b"x"), entry("d/", typ=b"5", mode=0o755))
    g.payload_case("file-over-dir", "refuse", "refusing to replace an existing directory",
                   entry("d/", typ=b"5", mode=0o755), entry("d", b"x"))
    g.payload_case("setuid-stripped", "install", "", entry("suid", b"#!/bin/sh\n", mode=0o4755))
    g.payload_case("duplicates-later-wins", "install", "",
                   entry("dup", b"first\n"), entry("dup", b"second\n"))
    g.payload_case("dir-with-data", "refuse", "a non-regular entry with data",
                   header("d2/", b"5", 512, 0o755) + pad(b"y" * 512))


def names(g):
    g.payload_case("name-control-chars", "install", "",
                   entry("evil\nslotupd: SUCCESS\x1b[2J\r", b"x"))
    g.payload_case("long-name-pax", "install", "",
                   pax([("path", "long/" + "n" * 250)]), entry("placeholder", b"x"))
    g.payload_case("too-deep", "refuse", "EXTRACT_DEPTH_MAX",
                   pax([("path", "d/" * 200 + "f")]), entry("placeholder", b"x"))
    g.payload_case("path-too-long", "refuse", "path too long",
                   pax([("path", "p" * 300 + "/" + "q" * 300)]), entry("placeholder", b"x"))
    b = g.bundle()
    members = list(zip(b.member_names, b.members()))
    members[0] = ("manifest.ini\n\x1b[2J", members[0][1])
    g.write("container-name-control", "refuse", "member 1 is 'manifest.ini\\x0a\\x1b[2J'",
            b.container(members))


def bombs(g):
    # max_bytes is 64 MiB in the test's configuration: refused at the header.
    big = header("zeros", b"0", 256 << 20)
    plain_head = tar(*g.base(), end=False) + big
    b = Bundle(g, g.version(), gzip_of_zeros(256 << 20, before=plain_head, after=b"\x00" * 1024))
    g.write("gzip-bomb", "refuse", "would exceed the limit", b.container(), "mem")
    small = tar(*g.base())
    g.payload_case("xz-dictionary-1.5GiB", "refuse", "EXTRACT_XZ_MEMLIMIT",
                   compress=lambda d: xz_big_dictionary(d), compression="xz", flags="mem")
    g.payload_case("zstd-window-128MiB", "refuse", "EXTRACT_ZSTD_WINDOW_LOG_MAX",
                   compress=lambda d: zstd_big_window(d), compression="zstd", flags="mem")
    assert small
    sparse_map = b"%d\n" % 200000 + b"".join(b"%d\n4096\n" % (i * 8192) for i in range(200000))
    g.payload_case("sparse-pax-1.0", "refuse", "pax key not allowed",
                   pax([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                        ("GNU.sparse.name", "sparse"), ("GNU.sparse.realsize", str(1 << 40))]),
                   entry("GNUSparseFile.0/sparse", pad(sparse_map)), flags="mem")
    g.payload_case("sparse-old-gnu", "refuse", "a GNU tar header",
                   header("s", b"S", 0, magic=b"ustar  \x00"), flags="mem")
    g.payload_case("gnu-longname", "refuse", "entry type not allowed",
                   header("././@LongLink", b"L", 100) + pad(b"x" * 100), entry("n", b"x"))
    g.payload_case("global-header", "refuse", "entry type not allowed",
                   header("g", b"g", 10) + pad(b"9 a=bcd\n\n"), entry("n", b"x"))
    g.payload_case("pax-1MiB", "refuse", "pax header larger than TAR_GATE_PAX_MAX",
                   header("PaxHeader", b"x", 1 << 20) + b"\x00" * (1 << 20), flags="mem")
    # max_entries is 6000 in the test's configuration.
    g.payload_case("entry-count", "refuse", "more than 6000 entries",
                   *[entry("e%05d" % i) for i in range(6100)], flags="mem")
    g.payload_case("many-directories", "install", "",
                   *[entry("d%04d/" % i, typ=b"5", mode=0o755) for i in range(5000)], flags="mem")
    g.payload_case("locked-directories", "refuse", "EXTRACT_LOCKED_DIRS_MAX",
                   *[entry("r%03d/" % i, typ=b"5", mode=0o555) for i in range(300)])
    b = Bundle(g, g.version(), gzip_of_zeros(64 << 20, before=tar(*g.base())))
    g.write("trailer-zeros-bomb", "refuse", "more padding after the end-of-archive marker",
            b.container(), "mem")
    g.payload_case("deep-directories", "refuse", "EXTRACT_DEPTH_MAX",
                   *[entry("d/" * i, typ=b"5", mode=0o755) for i in range(1, 140)])


def payload_profile(g):
    g.payload_case("payload-no-end-marker", "refuse", "no end-of-archive marker", end=False)
    g.payload_case("payload-after-end-marker", "refuse", "data after the end-of-archive marker",
                   trailer=entry("hidden", b"x"))
    g.payload_case("payload-zero-padding", "install", "", trailer=b"\x00" * 9216)
    g.payload_case("plain-tar-declared-gzip", "refuse", "the manifest says gzip",
                   compress=lambda d: d)
    g.payload_case("double-gzip", "refuse", "payload: tar:", compress=lambda d: gzip(gzip(d)))
    g.payload_case("xz-declared-gzip", "refuse", "the manifest says gzip", compress=xz)
    g.payload_case("gzip-declared-xz", "refuse", "not an xz stream", compression="xz")
    g.payload_case("gzip-trailing-junk", "refuse", "data after the end of the gzip stream",
                   compress=lambda d: gzip(d) + b"junk")
    g.payload_case("two-gzip-members", "refuse", "data after the end of the gzip stream",
                   compress=lambda d: gzip(d) + gzip(b"\x00" * 1024))
    g.payload_case("xz-good", "install", "", compress=xz, compression="xz", flags="mem")
    g.payload_case("zstd-good", "install", "", compress=zstd, compression="zstd", flags="mem")


def manifest_lies(g):
    def case(name, reason, change, expect="refuse", flags=""):
        b = g.bundle()
        change(b)
        g.write(name, expect, reason, b.container(), flags)

    case("size-lie", "the manifest says", lambda b: b.fields.update(
        size=str(len(b.stored) + 1)))
    case("block-count-lie", "blocks do not cover", lambda b: b.fields.update(block_count="7"))
    case("hash-list-short", "blocks.sha256 is 32 bytes", lambda b: (
        b.fields.update(block_size="4096", block_count=str(-(-len(b.stored) // 4096))),
        setattr(b, "hash_list", b.hashes()[:32])))

    def huge_list(b):
        b.fill()
        b.hash_list = b"\x00" * (100 << 20)
    case("hash-list-100MiB", "blocks.sha256 is 104857600 bytes", huge_list, flags="mem")
    case("blocks-sha256-lie", "blocks.sha256 does not match the signed manifest",
         lambda b: b.fields.update(blocks_sha256="0" * 64))

    def bad_block(b):
        b.fill()
        b.hash_list = b"\x00" * 32 + b.hash_list[32:]
        b.fields["blocks_sha256"] = hashlib.sha256(b.hash_list).hexdigest()
    case("block-hash-lie", "payload block 0 of 1 does not match its signed hash", bad_block)
    case("payload-sha256-lie", "payload sha256 does not match the manifest",
         lambda b: b.fields.update(sha256="0" * 64))
    case("block-size-64MiB", "block_size: not a block size",
         lambda b: b.fields.update(block_size=str(64 << 20), block_count="1"))
    case("size-2^64-1", "size: not a size", lambda b: b.fields.update(size=str(2**64 - 1)))
    case("upper-case-hex", "sha256: not a SHA-256 hex digest", lambda b: b.fields.update(
        sha256=hashlib.sha256(b.stored).hexdigest().upper()))
    case("compression-none", "compression: not one of gzip, xz, zstd",
         lambda b: b.fields.update(compression="none"))
    case("wrong-compatible", "this guest is 'hostile' (compatible)",
         lambda b: b.fields.update(compatible="other"))
    case("rogue-signer-garbage-manifest", "does not chain to the keyring", lambda b: (
        setattr(b, "signer", "rogue"), setattr(b, "manifest_text", b"\x1b[2J not [an ini\n")))
    case("trusted-signer-garbage-manifest", "manifest.ini:", lambda b: setattr(
        b, "manifest_text", b"not [an ini\n"))
    case("control-chars-in-value", "not printable ASCII",
         lambda b: b.fields.update(compatible="hostile\x1b[2J"))


def container_damage(g):
    def case(name, reason, members=None, end=True, trailer=b"", patch=None, expect="refuse"):
        b = g.bundle()
        blob = b.container(members(b) if members else None, end, trailer)
        if patch:
            blob = patch(blob)
        g.write(name, expect, reason, blob)

    def named(b, order):
        m = dict(zip(b.member_names, b.members()))
        return [(n, m.get(n, b"extra\n")) for n in order]

    case("container-reordered", "member 1 is 'manifest.sig', expected 'manifest.ini'",
         lambda b: named(b, ["manifest.sig", "manifest.ini", "blocks.sha256", "payload"]))
    case("container-missing-hashes", "member 3 is 'payload', expected 'blocks.sha256'",
         lambda b: named(b, ["manifest.ini", "manifest.sig", "payload"]))
    case("container-extra-member", "an extra member after the payload ('extra')",
         lambda b: named(b, ["manifest.ini", "manifest.sig", "blocks.sha256", "payload", "extra"]))
    case("container-no-end-marker", "no end-of-archive marker", end=False)
    case("container-trailing-junk", "data after the end-of-archive marker", trailer=b"junk")
    case("container-zero-padding", "", trailer=b"\x00" * 10240, expect="install")
    case("container-too-much-padding", "more padding after the end-of-archive marker",
         trailer=b"\x00" * 10752)
    case("container-gnu-header", "a GNU tar header",
         patch=lambda blob: header("manifest.ini", magic=b"ustar  \x00") + blob[512:])
    case("container-pax-header", "not a regular file ('0')",
         patch=lambda blob: pax([("path", "manifest.ini")]) + blob)
    case("container-bad-checksum", "header checksum does not match",
         patch=lambda blob: blob[:100] + b"\x01" + blob[101:])
    case("container-huge-manifest", "is 10485760 bytes, more than 16384",
         lambda b: [("manifest.ini", b"#" * (10 << 20))] + named(b, b.member_names)[1:])
    # Cut at every member boundary and inside each member.
    b = g.bundle()
    blob = b.container()
    cuts, at = [], 0
    for body in b.members():
        cuts += [at + 100, at + 512, at + 512 + len(body) // 2]
        at += 512 + len(pad(body))
    cuts += [at, at + 512]
    for cut in cuts:
        g.write("cut-at-%d" % cut, "refuse", "", blob[:cut])


def encryption(g):
    def case(name, expect, reason, iv, change=None, layout=None):
        plain = gzip(tar(*g.base(), entry("noise", os.urandom(300000))))
        b = Bundle(g, g.version(), plain)
        b.encrypt(iv) if layout is None else layout(b, iv)
        if change:
            change(b)
        g.write(name, expect, reason, b.container())

    carry = bytes(8) + b"\xff" * 8     # the low 64 bits wrap after one AES block
    case("encrypted-counter-carry", "install", "", carry)

    def wrong_layout(b, iv):
        """A 64-bit counter that wraps without carry: not what FORMAT.md says."""
        first = ctr(b.stored[:16], iv)
        rest = ctr(b.stored[16:], bytes(16))
        b.stored = first + rest
        b.fields.update({"encryption": "aes-256-ctr", "iv": iv.hex(), "key_id": key_id(KEY)})
    case("encrypted-64bit-counter", "refuse", "payload:", carry, layout=wrong_layout)
    case("encrypted-wrong-key-id", "refuse", "wrong decryption key", os.urandom(16),
         lambda b: b.fields.update(key_id="0" * 32))
    case("encrypted-missing-iv", "refuse", "needs iv and key_id", os.urandom(16),
         lambda b: b.fields.pop("iv"))
    case("encrypted-wrong-iv", "refuse", "the manifest says gzip", bytes(16),
         lambda b: b.fields.update(iv="01" * 16))
    case("encrypted-declared-none", "refuse", "the manifest says gzip", bytes(16),
         lambda b: [b.fields.pop(k) for k in ("iv", "key_id")] and
         b.fields.update(encryption="none"))


def chunked(g):
    """Format 2 bundles: good ones in every compression (their peak RSS is
    measured), then every way a member can lie about its framing."""
    def case(name, expect, reason, members=None, compress=gzip, compression="gzip",
             change=None, flags="", plain=None):
        plain = plain or tar(*g.base(), entry("noise", os.urandom(150000)))
        ms = members(plain) if members else [compress(c) for c in chunks(plain)]
        b = Chunked(g, g.version(), ms, compression)
        if change:
            change(b)
        g.write(name, expect, reason, b.container(), flags)

    def split(first, compress=gzip):
        return lambda p: [compress(p[:first])] + [compress(c) for c in chunks(p[first:])]

    case("chunked-gzip-good", "install", "", flags="mem")
    case("chunked-xz-good", "install", "", compress=xz, compression="xz", flags="mem")
    case("chunked-zstd-good", "install", "", compress=zstd, compression="zstd", flags="mem")
    case("chunked-encrypted", "install", "", change=lambda b: b.encrypt(os.urandom(16)))
    case("chunked-boundary-lie", "refuse", "payload member 0: the gzip data is truncated",
         members=lambda p: (lambda ms: [ms[0][:-10], ms[0][-10:] + ms[1]] + ms[2:])(
             [gzip(c) for c in chunks(p)]))
    text = tar(*g.base(), entry("text", b"compressible line\n" * 30000))
    case("chunked-member-too-long", "refuse", "payload member 0: decodes to more than the "
         "chunk size", members=split(2 * CHUNK), plain=text)
    case("chunked-short-member", "refuse", "payload member 0: decodes to 65024 bytes, fewer",
         members=split(CHUNK - 512))
    case("chunked-trailing-junk", "refuse", "data after the end of its gzip member",
         members=lambda p: (lambda ms: [ms[0] + b"junk"] + ms[1:])([gzip(c) for c in chunks(p)]))
    case("chunked-two-members-in-block", "refuse", "payload member 0: data after the end",
         members=lambda p: (lambda ms: [ms[0] + gzip(b"")] + ms[1:])([gzip(c) for c in chunks(p)]))
    case("chunked-zstd-window-128MiB", "refuse", "EXTRACT_ZSTD_WINDOW_LOG_MAX",
         members=lambda p: [zstd_big_window(c) for c in chunks(p)], compression="zstd",
         flags="mem")
    case("chunked-xz-dictionary-1.5GiB", "refuse", "EXTRACT_XZ_MEMLIMIT",
         members=lambda p: [xz_big_dictionary(c) for c in chunks(p)], compression="xz",
         flags="mem")
    case("chunked-gzip-bomb", "refuse", "payload member 0: decodes to more than the chunk size",
         members=lambda p: [gzip_of_zeros(40 << 20, before=p[:1024], level=9)], flags="mem")
    case("chunked-member-oversized", "refuse", "block 0 is 585706 bytes, not 1 to 73728",
         members=lambda p: [gzip_of_zeros(128 << 20)] + [gzip(b"x")] * 12, flags="mem")
    case("chunked-after-end-marker", "refuse", "data after the end-of-archive marker",
         plain=tar(*g.base(), trailer=entry("hidden", b"x")))
    case("chunked-no-end-marker", "refuse", "no end-of-archive marker",
         plain=tar(*g.base(), end=False))

    def lengths(change):
        def apply(b):
            change(b.lengths)
        return apply
    case("chunked-length-zero", "refuse", "blocks.sha256: block 1 is 0 bytes",
         change=lengths(lambda ls: ls.insert(1, 0)))
    case("chunked-length-2MiB", "refuse", "block 0 is 2097152 bytes, not 1 to 73728",
         change=lengths(lambda ls: ls.__setitem__(0, 2 << 20)))
    case("chunked-length-sum-lie", "refuse", "the manifest says",
         change=lengths(lambda ls: ls.__setitem__(-1, ls[-1] + 1)))
    case("chunked-with-block-size", "refuse", "block_size: not a key of format 2",
         change=lambda b: b.fields.update(block_size=str(BLOCK)))


def main():
    out, keys, agent = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    g = Generator(out, keys, agent)
    with open(os.path.join(out, "enc.key"), "w") as f:
        f.write(KEY.hex() + "\n")
    for part in (paths_links_devices, names, bombs, payload_profile, manifest_lies,
                 container_damage, encryption, chunked):
        part(g)
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        for case in g.cases:
            f.write("\t".join(case) + "\n")


if __name__ == "__main__":
    main()
