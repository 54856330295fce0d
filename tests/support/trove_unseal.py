#!/usr/bin/python3
"""trove_unseal.py RPC_KEY FILE

Prints the args of every guest_upgrade_outcome in FILE (amqp_listen.py's
lines) as one JSON object per line, each sealed field decrypted as Trove
seals it (AES-256-CBC, key the hex MD5 of RPC_KEY, IV first, base64): the
conductor's view of a keyed guest's outcomes, for tests."""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def unseal(key, value):
    if not isinstance(value, str) or not value.startswith("{"):
        return value
    raw = base64.b64decode(json.loads(value)["entity"])
    dec = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = dec.update(raw[16:]) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    return json.loads(unpad.update(padded) + unpad.finalize())


def main():
    key = hashlib.md5(sys.argv[1].encode()).hexdigest().encode()
    with open(sys.argv[2]) as f:
        for line in f:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("method") != "guest_upgrade_outcome":
                continue
            args = {k: unseal(key, v) for k, v in msg.get("args", {}).items()}
            print(json.dumps(args, sort_keys=True))


main()
