#!/usr/bin/python3
"""openapi_check.py OPENAPI.yaml ROUTES.c BASE_URL TENANT TOKEN

Checks docs/openapi.yaml against slotfleet (tests/integration/openapi.sh
starts one, on SQLite, without a broker, with TOKEN an admin's of TENANT):

1. the route table of ROUTES.c (method, path) equals the document's
   operations, both ways; a table that parses to nothing is a failure;
2. every documented operation, sent with its path parameters filled with
   records that exist (made here first), its example body and the token,
   answers a status it lists, and never 404 "no such resource" (no route)
   nor 405; the same with every documented query argument; without a token
   it answers 401 (listed) unless it needs none; every JSON answer fits
   the schema documented for its status (types, required fields, enums,
   patterns);
3. a body without one of its required fields, or with a field the schema
   does not allow, is a 400 naming that field;
4. an undocumented path is a 404 "no such resource"; a method not
   documented on a documented path is a 405 whose Allow lists exactly the
   documented methods.

Prints "ok   - ..." / "FAIL - ..." lines and "N passed, N failed"; exits 1
on any failure.
"""
import http.client
import json
import re
import sys
import urllib.parse

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROBE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
NO_ROUTE = "no such resource"
UPGRADE_ID, INSTANCE_ID, ROLLOUT_ID, POLICY_ID = "oa-up", "oa-inst", "oa-ro", "oa-po"

passed = failed = 0


def result(ok, desc):
    global passed, failed
    if ok:
        passed += 1
        print("ok   - " + desc)
    else:
        failed += 1
        print("FAIL - " + desc)
    return ok


def template(path):
    """A path with every parameter, whatever its name, as {}."""
    return re.sub(r"\{[^}/]*\}", "{}", path)


# --- 1. the route table ---------------------------------------------------

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def served_routes(source):
    """(method, template) pairs the source serves, or a reason it cannot tell."""
    code = strip_comments(source)
    table = re.search(r"\b\w*routes\s*\[\s*\w*\s*\]\s*=\s*\{(.*?)\n\s*\}\s*;", code, re.S)
    if not table:
        return None, "no `routes[] = { ... };` table found"
    entries = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*\{([^{}]*)\}', table.group(1))
    if not entries:
        return None, "the route table parsed to no route"
    # The prefix: parts[0] and parts[2] compared with literals, parts[1] the tenant.
    fixed = dict(re.findall(r'strcmp\s*\(\s*parts\s*\[\s*(\d+)\s*\]\s*,\s*"([^"]+)"\s*\)', code))
    if "0" not in fixed or "2" not in fixed:
        return None, "the /v1.0/{tenant}/mgmt prefix (parts[0], parts[2]) was not found"
    prefix = "/%s/{}/%s" % (fixed["0"], fixed["2"])
    routes = set()
    for method, parts in entries:
        names = re.findall(r'"([^"]*)"', parts)
        if not names:
            return None, "a route of the table has no path: %s %s" % (method, parts)
        routes.add((method, prefix + "".join("/" + ("{}" if n == "*" else n) for n in names)))
    # Paths served outside the table (GET /metrics): compared whole with
    # req->path; their method is the one route code compares req->method with.
    extra = re.findall(r'strcmp\s*\(\s*req->path\s*,\s*"(/[^"]*)"\s*\)', code)
    extra_methods = set(re.findall(r'strcmp\s*\(\s*req->method\s*,\s*"([A-Z]+)"\s*\)', code))
    if extra and not extra_methods:
        return None, "paths outside the table (%s) but no method they take" % ", ".join(extra)
    for path in extra:
        for method in extra_methods:
            routes.add((method, path))
    return routes, "%d routes in the table, %d outside it" % (len(entries), len(extra))


# --- the document ---------------------------------------------------------

def resolve(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("external $ref %s" % ref)
        node = doc
        for key in ref[2:].split("/"):
            node = node[key.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop at %s" % ref)
    return node


def operations(doc):
    for path, item in doc["paths"].items():
        common = [resolve(doc, p) for p in item.get("parameters", [])]
        for method in METHODS:
            if method in item:
                op = item[method]
                params = {(p["name"], p["in"]): p for p in common}
                for p in op.get("parameters", []):
                    p = resolve(doc, p)
                    params[(p["name"], p["in"])] = p
                yield path, method.upper(), op, list(params.values())


def body_of(doc, op):
    """(example, schema) of the operation's JSON body, or (None, None)."""
    rb = op.get("requestBody")
    if not rb:
        return None, None
    media = resolve(doc, rb).get("content", {}).get("application/json")
    if not media:
        return None, None
    schema = resolve(doc, media.get("schema", {}))
    example = media.get("example", schema.get("example"))
    return example, schema


def mismatch(doc, schema, value, where="body"):
    """Why value does not fit an OpenAPI 3.0 schema (the subset this
    document uses), or None."""
    schema = resolve(doc, schema)
    if value is None:
        return None if schema.get("nullable") or not schema else "%s is null" % where
    for sub in schema.get("allOf", []):
        why = mismatch(doc, sub, value, where)
        if why:
            return why
    if "oneOf" in schema:
        fits = [s for s in schema["oneOf"] if mismatch(doc, s, value, where) is None]
        if len(fits) != 1:
            return "%s fits %d of its oneOf schemas" % (where, len(fits))
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in types and not isinstance(value, types[kind]):
        return "%s is not of type %s: %r" % (where, kind, value)
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return "%s is not an integer: %r" % (where, value)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return "%s is not a number: %r" % (where, value)
    if "enum" in schema and value not in schema["enum"]:
        return "%s is %r, not one of %s" % (where, value, schema["enum"])
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        return "%s is %r, which does not match %s" % (where, value, schema["pattern"])
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return "%s lacks %s" % (where, key)
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in value:
                why = mismatch(doc, sub, value[key], "%s.%s" % (where, key))
                if why:
                    return why
        extra = schema.get("additionalProperties")
        for key in value:
            if key in props:
                continue
            if extra is False:
                return "%s has %s, which the schema does not name" % (where, key)
            if isinstance(extra, dict):
                why = mismatch(doc, extra, value[key], "%s.%s" % (where, key))
                if why:
                    return why
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            why = mismatch(doc, schema["items"], item, "%s[%d]" % (where, i))
            if why:
                return why
    return None


def response_schema(doc, op, status):
    res = resolve(doc, op.get("responses", {}).get(str(status), {}))
    media = res.get("content", {}).get("application/json")
    return media.get("schema") if media else None


# --- HTTP -----------------------------------------------------------------

class Api:
    def __init__(self, base, tenant, token):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.tenant, self.token = tenant, token

    def call(self, method, path, body=None, token=True):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {}
        if token:
            headers["X-Auth-Token"] = self.token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        res = conn.getresponse()
        raw = res.read()
        allow = res.getheader("Allow")
        conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return res.status, parsed, allow, raw


def error_of(body):
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("field"), body["error"].get("message")
    return None, None


def fill(path, api):
    """The path with each parameter replaced by a value that exists."""
    out = []
    parts = path.split("/")
    for i, part in enumerate(parts):
        m = re.fullmatch(r"\{([^}]*)\}", part)
        if not m:
            out.append(part)
            continue
        name, before = m.group(1), parts[i - 1] if i else ""
        if name == "tenant":
            out.append(api.tenant)
        elif name == "instance_id" or before == "instances":
            out.append(INSTANCE_ID)
        elif before == "upgrades":
            out.append(UPGRADE_ID)
        elif before == "rollouts":
            out.append(ROLLOUT_ID)
        elif before == "policies":
            out.append(POLICY_ID)
        else:
            return None
    return "/".join(out)


def query_value(param, path):
    name = param["name"]
    if name == "marker":
        return {"upgrades": UPGRADE_ID, "instances": INSTANCE_ID,
                "rollouts": ROLLOUT_ID, "policies": POLICY_ID}.get(path.rstrip("/").split("/")[-1])
    if name == "instance_id":
        return INSTANCE_ID
    if "example" in param:
        return str(param["example"])
    schema = param.get("schema", {})
    if "example" in schema:
        return str(schema["example"])
    return None


def describe(status, body, raw):
    field, message = error_of(body)
    if message is not None:
        return "%d (%s: %s)" % (status, field, message)
    return "%d" % status


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    spec_path, routes_path, base, tenant, token = sys.argv[1:]
    api = Api(base, tenant, token)

    try:
        with open(spec_path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        result(False, "%s parses: %s" % (spec_path, e))
        return 1
    ok = isinstance(doc, dict) and str(doc.get("openapi", "")).startswith("3.0") and doc.get("paths")
    if not result(bool(ok), "docs/openapi.yaml parses as an OpenAPI 3.0 document with paths"):
        return 1
    ops = list(operations(doc))
    documented = {(m, template(p)) for p, m, _, _ in ops}

    with open(routes_path) as f:
        served, how = served_routes(f.read())
    if not result(served is not None and len(served) > 0,
                  "the route table of %s parses (%s)" % (routes_path, how)):
        return 1
    for method, path in sorted(served - documented):
        result(False, "%s %s is served but not documented" % (method, path))
    for method, path in sorted(documented - served):
        result(False, "%s %s is documented but not in the route table" % (method, path))
    result(served == documented, "the document's %d operations are the route table's %d"
           % (len(documented), len(served)))

    # Records the path parameters name: an upgrade (its cast pending without a
    # broker), its instance, a rollout.
    status, body, _, _ = api.call("POST", "/v1.0/%s/mgmt/upgrade" % tenant, {
        "instance_id": INSTANCE_ID, "instance_version": "v2.0.0",
        "location": "http://127.0.0.1:9/v2.bundle", "upgrade_id": UPGRADE_ID})
    result(status == 202, "an upgrade to point at is recorded (%s)"
           % describe(status, body, None))
    status, body, _, _ = api.call("POST", "/v1.0/%s/mgmt/rollouts" % tenant, {
        "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle",
        "targets": {"instances": [INSTANCE_ID]}, "waves": [100], "rollout_id": ROLLOUT_ID})
    result(status == 202, "a rollout to point at is recorded (%s)" % describe(status, body, None))
    status, body, _, _ = api.call("POST", "/v1.0/%s/mgmt/policies" % tenant, {
        "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle",
        "scope": {"instances": [INSTANCE_ID]}, "policy_id": POLICY_ID})
    result(status == 201, "a policy to point at is recorded (%s)" % describe(status, body, None))

    for path, method, op, params in ops:
        name = "%s %s" % (method, path)
        statuses = {str(k) for k in op.get("responses", {})}
        url = fill(path, api)
        if not result(url is not None, "%s: every path parameter can be filled" % name):
            continue
        example, schema = body_of(doc, op)
        if op.get("requestBody") and resolve(doc, op["requestBody"]).get("required") \
                and example is None:
            result(False, "%s: its required body has an example to send" % name)
            continue

        def sent(desc, url, body=None, token=True, want=None):
            status, got, _, raw = api.call(method, url, body, token)
            _, message = error_of(got)
            shown = describe(status, got, raw)
            if status == 404 and message == NO_ROUTE:
                return result(False, "%s %s: 404 no such route" % (name, desc))
            if status == 405:
                return result(False, "%s %s: 405" % (name, desc))
            if str(status) not in statuses:
                return result(False, "%s %s: %s is not among its responses (%s)"
                              % (name, desc, shown, ", ".join(sorted(statuses))))
            if want is not None and not want(status, got):
                return result(False, "%s %s: %s" % (name, desc, shown))
            schema = response_schema(doc, op, status)
            why = mismatch(doc, schema, got) if schema else None
            if why:
                return result(False, "%s %s: %s, but the body does not fit its schema: %s"
                              % (name, desc, shown, why))
            return result(True, "%s %s: %s, listed%s" % (name, desc, shown,
                                                          ", body fits" if schema else ""))

        sent("as documented", url, example)
        query = {}
        for p in params:
            if p["in"] == "query":
                value = query_value(p, path)
                if value is None:
                    result(False, "%s: query argument %s has no example" % (name, p["name"]))
                else:
                    query[p["name"]] = value
        if query:
            sent("with ?" + "&".join(sorted(query)), url + "?" + urllib.parse.urlencode(query),
                 example, want=lambda s, b: 200 <= s < 300)
        secured = op.get("security", doc.get("security", []))
        if secured:
            sent("without a token", url, example, token=False, want=lambda s, b: s == 401)
        else:
            sent("without a token (it needs none)", url, example, token=False,
                 want=lambda s, b: 200 <= s < 300)
        if isinstance(example, dict) and isinstance(schema, dict):
            for field in schema.get("required", []):
                if field not in example:
                    result(False, "%s: the example lacks required field %s" % (name, field))
                    continue
                partial = {k: v for k, v in example.items() if k != field}
                sent("without required %s" % field, url, partial,
                     want=lambda s, b, f=field: s == 400 and error_of(b)[0] == f)
            if schema.get("additionalProperties") is False:
                extra = dict(example, openapi_unknown={})
                if len(extra) > schema.get("maxProperties", len(extra)):
                    extra = {"openapi_unknown": {}}  # one action at most: the unknown alone
                sent("with an unknown field", url, extra,
                     want=lambda s, b: s == 400 and error_of(b)[0] == "openapi_unknown")

    # What is not documented is not served.
    paths = {}
    for path, method, _, _ in ops:
        paths.setdefault(path, set()).add(method)
    for bogus in ("/v1.0/%s/mgmt/openapi-no-such-route" % tenant, "/openapi-no-such-route",
                  "/v1.0/%s/mgmt/upgrades/%s/events" % (tenant, UPGRADE_ID)):
        status, body, _, _ = api.call("GET", bogus)
        result(status == 404 and error_of(body)[1] == NO_ROUTE,
               "GET %s (not documented): 404 no such resource (got %s)"
               % (bogus, describe(status, body, None)))
    for path, methods in sorted(paths.items()):
        url = fill(path, api)
        if url is None:
            continue
        for method in PROBE_METHODS:
            if method in methods:
                continue
            status, body, allow, _ = api.call(method, url, {} if method != "GET" else None)
            listed = {m.strip() for m in (allow or "").split(",") if m.strip()}
            result(status == 405 and listed == methods,
                   "%s %s (not documented): 405, Allow: %s (got %s, Allow: %s)"
                   % (method, path, ", ".join(sorted(methods)), describe(status, body, None),
                      allow))

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
