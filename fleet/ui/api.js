// api.js: the public JSON API, with the token the user typed.  The token
// and tenant live in sessionStorage (gone when the tab closes) and go out
// only as the X-Auth-Token header of same-origin requests: never in a URL,
// a cookie or the page's hash.  Every failure becomes an ApiError whose
// text says what happened in words (never a blank page).
const KEY_TOKEN = "slotfleet.token";
const KEY_TENANT = "slotfleet.tenant";

export function session() {
  const token = sessionStorage.getItem(KEY_TOKEN);
  const tenant = sessionStorage.getItem(KEY_TENANT);
  return token && tenant ? { token, tenant } : null;
}
export function signIn(tenant, token) {
  sessionStorage.setItem(KEY_TENANT, tenant);
  sessionStorage.setItem(KEY_TOKEN, token);
}
export function signOut() {
  sessionStorage.removeItem(KEY_TOKEN);
  sessionStorage.removeItem(KEY_TENANT);
}

export class ApiError extends Error {
  constructor(status, words, signin) {
    super(words);
    this.status = status;
    this.signin = signin;	// the token is the problem: offer the sign-in form
  }
}

function words(status, body, retry) {
  const e = (body && body.error) || {};
  const msg = e.message ? ": " + e.message + (e.field ? " (" + e.field + ")" : "") : "";
  if (status === 401) return "The token was refused (401" + msg + "). Sign in again.";
  if (status === 403) return "This token may not do that (403" + msg + "): an admin token of this tenant is needed.";
  if (status === 429) return "Too many requests (429): slotfleet asks to retry in " + (retry || "a few") + " s.";
  if (status === 404) return "Not found (404" + msg + ").";
  if (status === 409) return "Not now (409" + msg + ").";
  if (status >= 500) return "slotfleet could not answer (" + status + msg + "). Try again later.";
  return "The request was refused (" + status + msg + ").";
}

// call("GET", "/upgrades", {state: "FAILED"}) -> the answer's JSON.
export async function call(method, path, query, body) {
  const s = session();
  if (!s) throw new ApiError(401, "Not signed in.", true);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const url = "/v1.0/" + encodeURIComponent(s.tenant) + "/mgmt" + path + (q.toString() ? "?" + q : "");
  const init = { method, headers: { "X-Auth-Token": s.token }, credentials: "omit",
                 cache: "no-store", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, "slotfleet does not answer: it is down or unreachable (" + e.message + ").");
  }
  let json = null;
  try {
    json = await res.json();
  } catch (e) {
    json = null;
  }
  if (res.ok && json) return { status: res.status, json };
  if (res.ok) throw new ApiError(res.status, "slotfleet answered " + res.status + " without a JSON body.");
  throw new ApiError(res.status, words(res.status, json, res.headers.get("Retry-After")),
                     res.status === 401);
}

// The marker of a list's "next" link, or null: the page keeps it in its
// hash, so a page of a list can be shared and reloaded.
export function nextMarker(links) {
  for (const l of links || [])
    if (l.rel === "next") {
      try {
        return new URL(l.href).searchParams.get("marker");
      } catch (e) {
        return null;
      }
    }
  return null;
}
