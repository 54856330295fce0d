# tests/support/nginx.sh: a private nginx for tests, on 127.0.0.1 (POSIX sh).
# Source it after lib.sh; it defines:
#   nginx_start ROOT DIR   serves ROOT on a free port: / with range support,
#                          /one/ at most one range a request (max_ranges 1),
#                          /norange/ none (max_ranges 0: a Range is ignored,
#                          200 and the whole file); config, pid and logs in
#                          DIR; access log DIR/access.log, one line a request:
#                          "URI STATUS BODY_BYTES RANGE".  Sets NGINX (its
#                          base URL) and PID_nginx; stopped with the test's
#                          other processes, by pid.
# Exits 77 (skipped) without nginx.
command -v nginx >/dev/null || { echo "nginx not installed (packaging/deps.sh)" >&2; exit 77; }

nginx_start() {
	root=$1 dir=$2
	mkdir -p "$dir"
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
	log_format delta '\$request_uri \$status \$body_bytes_sent "\$http_range"';
	access_log $dir/access.log delta;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	types { application/octet-stream bundle; }
	server {
		listen 127.0.0.1:$port;
		root $root;
		location /one/ { alias $root/; max_ranges 1; }
		location /norange/ { alias $root/; max_ranges 0; }
	}
}
CONF
	nginx -c "$dir/nginx.conf" -e "$dir/error.log" 2>> "$dir/error.log" &
	PID_nginx=$!
	PIDS="$PIDS $PID_nginx"
	NGINX=http://127.0.0.1:$port
	wait_for 10 curl -s -o /dev/null "$NGINX/" || { cat "$dir/error.log"; return 1; }
}
