# tests/support/keystone.sh: a private Keystone (Debian's python3-keystone)
# on 127.0.0.1 for the tests: SQLite in $T, fernet tokens, served by
# keystone_wsgi.py (wsgiref).  Source it after lib.sh; it defines:
#   ks_start [EXPIRATION]  configures (token lifetime EXPIRATION s, default
#                      3600), db_sync, fernet/credential setup, bootstrap
#                      (user admin, password $KS_ADMIN_PASSWORD, project
#                      admin, region RegionOne, public endpoint) and serves;
#                      sets KS_PORT, KS_URL (http://127.0.0.1:PORT/v3);
#                      about 15 s.  Returns 77 (skip) without Keystone.
#   ks_serve / ks_halt  starts / stops the server alone (same port, same
#                      database): Keystone down and back
#   ks_token USER PASSWORD PROJECT   prints a project-scoped token
#   ks_admin_token     prints the admin's token (cached in $KS_ADMIN)
#   ks_post PATH JSON  POST with the admin's token; prints the answer's body
#   ks_project NAME    creates a project (domain default); prints its id
#   ks_user NAME PASSWORD PROJECT ROLE  creates a user with ROLE on PROJECT
#                      (role created if missing); prints the user's id
#   ks_revoke TOKEN    DELETE /v3/auth/tokens: the token is revoked
# Only 127.0.0.1 is ever contacted.  The server is stopped by pid at exit.
KS_ADMIN_PASSWORD=ks-admin-secret
KS_PY=/usr/bin/python3
KS_PID=""

ks_available() {
	command -v keystone-manage >/dev/null 2>&1 &&
		"$KS_PY" -c 'import keystone.server.wsgi' 2>/dev/null
}

ks_free_port() {
	"$KS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ks_conf() {
	mkdir -p "$T/keystone/fernet-keys" "$T/keystone/credential-keys" "$T/keystone/receipts"
	cat > "$T/keystone/keystone.conf" <<CONF
[DEFAULT]
log_file = $T/keystone/keystone.log
[database]
connection = sqlite:///$T/keystone/keystone.db
[token]
provider = fernet
expiration = ${1:-3600}
[fernet_tokens]
key_repository = $T/keystone/fernet-keys
[fernet_receipts]
key_repository = $T/keystone/receipts
[credential]
key_repository = $T/keystone/credential-keys
[cache]
enabled = false
[oslo_policy]
enforce_new_defaults = false
CONF
}

ks_manage() {
	keystone-manage --config-file "$T/keystone/keystone.conf" "$@" >> "$T/keystone/manage.log" 2>&1
}

ks_serve() {
	OS_KEYSTONE_CONFIG_FILES="$T/keystone/keystone.conf" KS_PORT=$KS_PORT "$KS_PY" \
		"$SLOTD_SRC/tests/support/keystone_wsgi.py" \
		>> "$T/keystone/serve.log" 2>&1 &
	KS_PID=$!
	PIDS="$PIDS $KS_PID"
	wait_for 60 curl -sf -o /dev/null "$KS_URL" || { tail -20 "$T/keystone/serve.log" >&2; return 1; }
}

ks_halt() {
	[ -n "$KS_PID" ] || return 0
	kill -TERM "$KS_PID" 2>/dev/null
	wait "$KS_PID" 2>/dev/null
	KS_PID=""
}

ks_start() {
	ks_available || { echo "python3-keystone not installed" >&2; return 77; }
	KS_PORT=$(ks_free_port)
	KS_URL=http://127.0.0.1:$KS_PORT/v3
	KS_ADMIN=""
	ks_conf "${1:-3600}"
	ks_manage db_sync || { tail -20 "$T/keystone/manage.log" >&2; return 1; }
	ks_manage fernet_setup --keystone-user root --keystone-group root || return 1
	ks_manage credential_setup --keystone-user root --keystone-group root || return 1
	ks_manage bootstrap --bootstrap-password "$KS_ADMIN_PASSWORD" \
		--bootstrap-admin-url "$KS_URL" --bootstrap-public-url "$KS_URL" \
		--bootstrap-internal-url "$KS_URL" --bootstrap-region-id RegionOne ||
		{ tail -20 "$T/keystone/manage.log" >&2; return 1; }
	ks_serve
}

ks_token() {
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' --data-binary "$(cat <<JSON
{"auth": {"identity": {"methods": ["password"], "password": {"user":
  {"name": "$1", "domain": {"name": "Default"}, "password": "$2"}}},
 "scope": {"project": {"name": "$3", "domain": {"name": "Default"}}}}}
JSON
)" "$KS_URL/auth/tokens" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
}

ks_admin_token() {
	[ -n "$KS_ADMIN" ] || KS_ADMIN=$(ks_token admin "$KS_ADMIN_PASSWORD" admin)
	printf '%s\n' "$KS_ADMIN"
}

ks_post() {
	curl -s -H "X-Auth-Token: $(ks_admin_token)" -H 'Content-Type: application/json' \
		--data-binary "$2" "$KS_URL$1"
}

ks_get() {
	curl -s -H "X-Auth-Token: $(ks_admin_token)" "$KS_URL$1"
}

ks_project() {
	ks_post /projects "{\"project\": {\"name\": \"$1\", \"domain_id\": \"default\"}}" |
		json_get '["project"]["id"]'
}

ks_role_id() {
	id=$(ks_get "/roles?name=$1" | "$KS_PY" -c 'import json,sys; r=json.load(sys.stdin)["roles"]; print(r[0]["id"] if r else "")')
	[ -n "$id" ] || id=$(ks_post /roles "{\"role\": {\"name\": \"$1\"}}" | json_get '["role"]["id"]')
	printf '%s\n' "$id"
}

ks_user() {
	project=$(ks_get "/projects?name=$3" | json_get '["projects"][0]["id"]')
	user=$(ks_post /users "{\"user\": {\"name\": \"$1\", \"password\": \"$2\", \"domain_id\": \"default\"}}" |
		json_get '["user"]["id"]')
	role=$(ks_role_id "$4")
	curl -s -o /dev/null -X PUT -H "X-Auth-Token: $(ks_admin_token)" \
		"$KS_URL/projects/$project/users/$user/roles/$role"
	printf '%s\n' "$user"
}

ks_revoke() {
	curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Auth-Token: $(ks_admin_token)" \
		-H "X-Subject-Token: $1" "$KS_URL/auth/tokens"
}
