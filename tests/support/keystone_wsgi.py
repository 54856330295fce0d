#!/usr/bin/python3
"""KS_PORT=PORT keystone_wsgi.py: serves Keystone's public WSGI application on
127.0.0.1:PORT with Python's wsgiref, one request at a time: Keystone's
SQLite connections must stay in the thread that made them (a threaded server
gets 500s), and the tests need no more.  The config comes from OS_KEYSTONE_CONFIG_FILES (keystone.sh sets
it); no arguments (oslo.config would parse them).  Prints "serving" on stdout once the socket is bound."""
import os
import sys
from wsgiref import simple_server

from keystone.server.wsgi import initialize_public_application


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):  # keystone.log has what we need
        pass


class Server(simple_server.WSGIServer):
    allow_reuse_address = True  # Keystone restarted on the same port


def main():
    port = int(os.environ["KS_PORT"])
    del sys.argv[1:]
    app = initialize_public_application()
    httpd = simple_server.make_server("127.0.0.1", port, app,
                                      server_class=Server,
                                      handler_class=QuietHandler)
    print("serving", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
