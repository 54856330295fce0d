#!/usr/bin/python3
"""tcp_rr.py [--delay-ms MS] PORT...: a tiny TCP round-robin on 127.0.0.1
for the tests.

Listens on a free port of 127.0.0.1, prints "PORT N" once listening, and
hands each accepted connection to the next of the backends 127.0.0.1:PORT
in turn, skipping one that refuses (a stopped process), byte for byte in
both directions until either side closes.  Several slotfleets behind one
address, as an operator puts them behind haproxy.  --delay-ms: what the
backends send reaches the client MS later (in order, at full speed): one
backend behind it is a broker whose every answer and confirmation is
slow, as one far away or fsyncing to a slow disk.  Runs until SIGTERM."""
import itertools
import queue
import signal
import socket
import sys
import threading
import time


def shut(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def late_writer(b, chunks):
    """Sends each (due, data) of chunks to b at its time, until None."""
    while True:
        due, data = chunks.get()
        if data is None:
            return
        time.sleep(max(0.0, due - time.monotonic()))
        try:
            b.sendall(data)
        except OSError:
            pass


def pipe(a, b, delay=0.0):
    """Copies a to b until a closes, then shuts b's write side; with a
    delay, each chunk goes `delay` seconds after it was read."""
    chunks = queue.Queue()
    if delay:
        writer = threading.Thread(target=late_writer, args=(b, chunks), daemon=True)
        writer.start()
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if delay:
                chunks.put((time.monotonic() + delay, data))
            else:
                b.sendall(data)
    except OSError:
        pass
    if delay:
        chunks.put((0, None))
        writer.join()
    shut(b)


def connect(ports, turn):
    for _ in range(len(ports)):
        port = ports[next(turn) % len(ports)]
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
    return None


def serve(client, ports, turn, delay):
    backend = connect(ports, turn)
    if backend is None:
        client.close()
        return
    backend.settimeout(None)
    t = threading.Thread(target=pipe, args=(backend, client, delay), daemon=True)
    t.start()
    pipe(client, backend)
    t.join()
    client.close()
    backend.close()


def main():
    args = sys.argv[1:]
    delay = 0.0
    if args[:1] == ["--delay-ms"] and len(args) > 1:
        delay = int(args[1]) / 1000.0
        args = args[2:]
    ports = [int(p) for p in args]
    if not ports:
        sys.exit("usage: tcp_rr.py [--delay-ms MS] PORT...")
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
        threading.Thread(target=serve, args=(client, ports, Turn(), delay), daemon=True).start()


if __name__ == "__main__":
    main()
