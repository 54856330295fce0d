#!/usr/bin/python3
"""range_liar.py DIRECTORY: an HTTP/1.1 server on 127.0.0.1 that serves files
whole (200) but answers Range requests wrongly, by the first path component:

    /shifted/NAME   206 with the bytes and Content-Range one byte after those asked for
    /huge/NAME      206 with the right Content-Range, then 4 MiB more than it announced
                    (no Content-Length: the body runs until the connection closes)
    /padded/NAME    206 multipart/byteranges whose parts come after 64 KiB of blank
                    lines
    /short/NAME     206 with the right Content-Range and half the bytes, then a close

Prints "PORT <n>" once listening; serves until SIGTERM."""
import http.server
import os
import re
import sys

ROOT = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = self.path.split("/")
        mode, name = parts[1], "/".join(parts[2:])
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        ranges = re.findall(r"(\d+)-(\d+)", self.headers.get("Range", ""))
        if not ranges:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        start, end = int(ranges[0][0]), min(int(ranges[0][1]), len(data) - 1)
        self.send_response(206)
        if mode == "padded":
            self.send_header("Content-Type", "multipart/byteranges; boundary=B")
            self.end_headers()
            self.wfile.write(b"\r\n" * 32768)
            for s, e in ranges:
                s, e = int(s), min(int(e), len(data) - 1)
                self.wfile.write(b"--B\r\nContent-Range: bytes %d-%d/%d\r\n\r\n" % (s, e, len(data)))
                self.wfile.write(data[s:e + 1] + b"\r\n")
            self.wfile.write(b"--B--\r\n")
            return
        if mode == "shifted":
            start, end = start + 1, min(end + 1, len(data) - 1)
        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
        self.end_headers()
        body = data[start:end + 1]
        if mode == "huge":
            body += b"\0" * (4 << 20)
        elif mode == "short":
            body = body[:len(body) // 2]
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
