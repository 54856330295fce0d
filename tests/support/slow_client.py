#!/usr/bin/python3
"""slow_client.py PORT N SECONDS

Opens N connections to 127.0.0.1:PORT, each starting a POST whose body it
then sends one byte a second for SECONDS.  Prints SLOW once every connection
has sent its headers; exits after SECONDS."""
import socket
import sys
import time

port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(b"POST /v1.0/acme/mgmt/upgrade HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    conns.append(s)
print("SLOW", flush=True)
for _ in range(seconds):
    for s in conns:
        s.sendall(b" ")
    time.sleep(1)
