#!/usr/bin/python3
"""tcp_rr.py PORT...: a tiny TCP round-robin on 127.0.0.1 for the tests.

Listens on a free port of 127.0.0.1, prints "PORT N" once listening, and
hands each accepted connection to the next of the backends 127.0.0.1:PORT
in turn, skipping one that refuses (a stopped process), byte for byte in
both directions until either side closes.  Several slotfleets behind one
address, as an operator puts them behind haproxy.  Runs until SIGTERM."""
import itertools
import signal
import socket
import sys
import threading


def pipe(a, b):
    """Copies a to b until a closes, then shuts b's write side."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def connect(ports, turn):
    for _ in range(len(ports)):
        port = ports[next(turn) % len(ports)]
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
    return None


def serve(client, ports, turn):
    backend = connect(ports, turn)
    if backend is None:
        client.close()
        return
    backend.settimeout(None)
    t = threading.Thread(target=pipe, args=(backend, client), daemon=True)
    t.start()
    pipe(client, backend)
    t.join()
    client.close()
    backend.close()


def main():
    ports = [int(p) for p in sys.argv[1:]]
    if not ports:
        sys.exit("usage: tcp_rr.py PORT...")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print("PORT", listener.getsockname()[1], flush=True)
    turn = itertools.count()
    lock = threading.Lock()

    def next_turn():
        with lock:
            return next(turn)

    class Turn:
        def __next__(self):
            return next_turn()

    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, ports, Turn()), daemon=True).start()


if __name__ == "__main__":
    main()
