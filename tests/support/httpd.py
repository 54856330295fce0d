#!/usr/bin/python3
"""A small fault-injecting HTTP/1.1 file server for tests, on 127.0.0.1 only.

    httpd.py DIRECTORY

Prints "PORT <n>" on stdout once listening, then serves DIRECTORY until
SIGTERM.  Faults are chosen per request by the query string, so one server
serves every test case.  A fault that should happen a limited number of times
counts per full URL (path and query):

    ?fail=500x3        answer 500 three times, then serve normally
    ?status=404        always answer that status
    ?retry_after=1     answer 429 with Retry-After: 1 once, then serve
    ?cut=N             send the headers and N body bytes, then close (once)
    ?stall=1           send the headers and part of the body, then stall
    ?bad_length=1      claim a Content-Length 100 bytes longer than the body
    ?redirect_loop=1   redirect to itself forever
    ?gate=NAME         send the headers and half the body, create DIRECTORY/NAME.waiting,
                       and send the rest once the test creates DIRECTORY/NAME (a download
                       the test holds open while it does something else)

Range requests ("bytes=N-") are honoured with 206.  GET /_stats returns the
requests seen so far as JSON ({"url": [{"range": ..., "token": ...}, ...]});
GET /_concurrency returns {"now": bodies being sent, "max": the most at once}
and starts a new maximum (the fleet benchmark reads it).
"""
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

ROOT = sys.argv[1]
LOCK = threading.Lock()
COUNTS = {}
SEEN = {}
ACTIVE = {"now": 0, "max": 0}


def count(url):
    with LOCK:
        COUNTS[url] = COUNTS.get(url, 0) + 1
        return COUNTS[url]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd: " + (fmt % args) + "\n")

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with LOCK:
            SEEN.setdefault(self.path, []).append(
                {"range": self.headers.get("Range"), "token": self.headers.get("X-Auth-Token")})
        if url.path == "/_stats":
            return self.reply(200, json.dumps(SEEN).encode())
        if url.path == "/_concurrency":
            with LOCK:
                body = json.dumps(ACTIVE).encode()
                ACTIVE["max"] = ACTIVE["now"]
            return self.reply(200, body)
        with LOCK:
            ACTIVE["now"] += 1
            ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
        try:
            self.serve(url, query)
        finally:
            with LOCK:
                ACTIVE["now"] -= 1

    def serve(self, url, query):
        n = count(self.path)
        if "status" in query:
            return self.reply(int(query["status"]), b"fault\n")
        if "fail" in query:
            code, times = query["fail"].split("x")
            if n <= int(times):
                return self.reply(int(code), b"fault\n")
        if "retry_after" in query and n == 1:
            return self.reply(429, b"slow down\n", [("Retry-After", query["retry_after"])])
        if "redirect_loop" in query:
            return self.reply(302, b"", [("Location", self.path)])
        path = os.path.join(ROOT, os.path.basename(url.path))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.reply(404, b"not found\n")
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        extra = 100 if "bad_length" in query else 0
        self.send_header("Content-Length", str(len(body) + extra))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if "cut" in query and n == 1:
            self.wfile.write(body[:int(query["cut"])])
            self.wfile.flush()
            self.close_connection = True
            return
        if "gate" in query:
            gate = os.path.join(ROOT, os.path.basename(query["gate"]))
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            open(gate + ".waiting", "w").close()
            for _ in range(2400):  # at most 120 s
                if os.path.exists(gate):
                    break
                time.sleep(0.05)
            self.wfile.write(body[len(body) // 2:])
            return
        if "stall" in query:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            time.sleep(30)
            return
        self.wfile.write(body)
        if extra:
            self.close_connection = True


def main():
    # A fleet connects all at once: a backlog of 5 would turn that into SYN retries.
    http.server.ThreadingHTTPServer.request_queue_size = 1024
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
