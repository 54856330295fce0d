// app.js: the web UI's frame: the sign-in form, the hash router
// (#/fleet, #/instance/ID, #/upgrades?state=.., #/upgrade/ID, #/rollouts,
// #/rollouts/ID: every view has its own URL, to share and reload), the
// confirmation dialog, polling with back-off, and errors shown in words.
import { h } from "./dom.js";
import { session, signIn, signOut, call, ApiError } from "./api.js";
import { fleetPage } from "./fleet.js";
import { instancePage, upgradePage } from "./instance.js";
import { upgradesPage } from "./upgrades.js";
import { rolloutsPage, rolloutPage } from "./rollouts.js";

const main = document.getElementById("main");
let current = null;	// the page shown: its context, ended on the next route

const routes = [
  [/^\/fleet$/, fleetPage],
  [/^\/instance\/([^/]+)$/, instancePage],
  [/^\/upgrades$/, upgradesPage],
  [/^\/upgrade\/([^/]+)$/, upgradePage],
  [/^\/rollouts$/, rolloutsPage],
  [/^\/rollouts\/([^/]+)$/, rolloutPage],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/fleet";
  const at = raw.indexOf("?");
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = Object.fromEntries(new URLSearchParams(at < 0 ? "" : raw.slice(at + 1)));
  return { path, params };
}

// What a page may ask of the frame; everything ends when it is left.
function context() {
  const ctx = { left: false, timers: new Set() };
  ctx.fail = (err, where) => showError(where || main, err);
  ctx.confirm = confirmDialog;
  ctx.call = call;
  // fn() returns a signature of what it showed; the same one again
  // doubles the delay (2 s up to 16 s), a change or a click resets it.
  ctx.poll = (fn, status) => {
    let delay = 2000, last;
    const tick = async () => {
      if (ctx.left) return;
      try {
        const sig = await fn();
        delay = sig === last ? Math.min(delay * 2, 16000) : 2000;
        last = sig;
        if (status) status.textContent = "Refreshed " + new Date().toLocaleTimeString() + "; next in " + delay / 1000 + " s.";
      } catch (e) {
        delay = Math.min(delay * 2, 16000);
        if (e.signin) return ctx.fail(e);	// no retry with a refused token
        if (status) status.textContent = (e.message || String(e)) + " Retrying in " + delay / 1000 + " s.";
      }
      if (!ctx.left) ctx.timers.add(setTimeout(tick, delay));
    };
    tick();
  };
  return ctx;
}

function showError(where, err) {
  const text = err instanceof ApiError ? err.message : "Unexpected error: " + (err && err.message || err);
  const p = h("p", { class: "error", role: "alert" }, text);
  where.append(p);
  if (err && err.signin) {
    signOut();
    where.append(h("p", {}, h("a", { href: "#/fleet", onclick: () => setTimeout(route) }, "Sign in")));
  }
}

function confirmDialog(title, text) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  // Each question is numbered: a listener of an older one (its close
  // event may still be queued) answers "no" and goes; only the current one
  // answers, once the dialog is closed.
  const ask = String(Number(dlg.dataset.ask || 0) + 1);
  dlg.dataset.ask = ask;
  return new Promise((resolve) => {
    const onClose = () => {
      if (dlg.dataset.ask === ask && dlg.open) return;
      dlg.removeEventListener("close", onClose);
      resolve(dlg.dataset.ask === ask && dlg.returnValue === "ok");
    };
    dlg.addEventListener("close", onClose);
    dlg.returnValue = "cancel";
    dlg.showModal();
  });
}

function signInForm(note) {
  const tenant = h("input", { id: "tenant", name: "tenant", required: true, autocomplete: "username" });
  const token = h("input", { id: "token", name: "token", type: "password", required: true,
                             autocomplete: "current-password" });
  const msg = h("p", { id: "signin-msg", role: "status" }, note || "");
  const form = h("form", { id: "signin", class: "card" },
    h("p", {}, "The token is kept in this tab's session storage only and sent as X-Auth-Token."),
    h("label", { for: "tenant" }, "Tenant (project id)"), tenant,
    h("label", { for: "token" }, "Token"), token,
    h("button", { type: "submit" }, "Sign in"), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    signIn(tenant.value.trim(), token.value);
    msg.textContent = "Checking the token…";
    try {
      await call("GET", "/summary");
      route();
    } catch (e) {
      signOut();
      msg.textContent = e.message;
      msg.className = "error";
    }
  });
  main.replaceChildren(h("h1", {}, "Sign in to slotfleet"), form);
}

function route() {
  if (current) {
    current.left = true;
    current.timers.forEach(clearTimeout);
  }
  document.getElementById("problem").hidden = true;
  const s = session();
  document.getElementById("who").textContent = s ? "tenant " + s.tenant : "";
  document.getElementById("signout").hidden = !s;
  if (!s) return signInForm();
  const { path, params } = parseHash();
  for (const a of document.querySelectorAll("[data-nav]"))
    a.setAttribute("aria-current", path.startsWith("/" + a.dataset.nav) ? "page" : "false");
  current = context();
  main.replaceChildren();
  for (const [re, page] of routes) {
    const m = re.exec(path);
    if (m) {
      const args = m.slice(1).map(decodeURIComponent);
      Promise.resolve(page(main, params, current, ...args)).catch((e) => current.fail(e));
      return;
    }
  }
  main.append(h("h1", {}, "No such page"), h("p", {}, "Nothing is at " + path + ". "),
              h("a", { href: "#/fleet" }, "Go to the fleet"));
}

document.getElementById("signout").addEventListener("click", () => {
  signOut();
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("error", (ev) => {
  const p = document.getElementById("problem");
  p.textContent = "The page hit an error: " + ev.message;
  p.hidden = false;
});
route();
