#!/usr/bin/python3
"""delta_resign.py IN OUT MODE SIGNER.pem SIGNER.key: a copy of the format 3
bundle IN whose delta.index is made hostile, with the manifest's [delta]
keys fixed and signed again (openssl cms), so the guest's index reader, not
the signature, must refuse it.  MODE:

    dotdot     the first path's "data/" becomes "../..": a ".." component
    items      the first block claims 65535 items
    liar       the first block's pieces all name "bin/agent": bytes that do
               not hash to its signed tar hash (the block must be fetched)
"""
import hashlib
import io
import subprocess
import sys
import tarfile

src, out, mode, cert, key = sys.argv[1:6]
t = tarfile.open(src)
members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
index = bytearray(members["delta.index"])
if mode == "dotdot":
    at = index.index(b"data/")
    index[at:at + 5] = b"../.."
elif mode == "items":
    index[8 + 36:8 + 38] = b"\xff\xff"
elif mode == "liar":
    items = int.from_bytes(index[8 + 36:8 + 38], "big")
    at, new = 8 + 38, bytearray()
    for _ in range(items):
        kind = index[at]
        if kind == 1:
            new += index[at:at + 5]; at += 5; continue
        plen = int.from_bytes(index[at + 1:at + 3], "big")
        rest = index[at + 3 + plen:at + 3 + plen + 12]
        new += b"\x00" + len(b"bin/agent").to_bytes(2, "big") + b"bin/agent" + rest
        at += 3 + plen + 12
    index = index[:8 + 38] + new + index[at:]
manifest = members["manifest.ini"].decode()
lines = []
for line in manifest.splitlines():
    if line.startswith("index_size = "):
        line = "index_size = %d" % len(index)
    elif line.startswith("index_sha256 = "):
        line = "index_sha256 = " + hashlib.sha256(index).hexdigest()
    lines.append(line)
manifest = ("\n".join(lines) + "\n").encode()
sig = subprocess.run(["openssl", "cms", "-sign", "-binary", "-signer", cert, "-inkey", key,
                      "-outform", "DER"], input=manifest, capture_output=True, check=True).stdout
members.update({"manifest.ini": manifest, "manifest.sig": sig, "delta.index": bytes(index)})
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as o:
    for name in ("manifest.ini", "manifest.sig", "blocks.sha256", "delta.index", "payload"):
        info = tarfile.TarInfo(name)
        info.size = len(members[name])
        info.mode = 0o644
        o.addfile(info, io.BytesIO(members[name]))
