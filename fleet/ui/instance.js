// instance.js: #/instance/ID (its version, slot, last heartbeat, its
// upgrades with their event timelines, the rollback action) and
// #/upgrade/ID (one upgrade record and its timeline).  Reasons come from
// guests: shown as text only (dom.js).
import { h, badge, link, when, age } from "./dom.js";

function field(name, value) {
  return [h("dt", {}, name), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
}

// One upgrade: its record and its events, oldest first.
export function upgradeCard(u, level) {
  const events = (u.events || []).map((e) => h("li", { class: "event" },
    h("time", { datetime: e.at || "" }, when(e.at)), " ", badge(e.state), " ",
    h("span", { class: "source" }, e.source), " ", h("span", { class: "reason" }, e.reason)));
  return h("section", { class: "card upgrade", "data-upgrade": u.id },
    h(level, {}, u.kind === "rollback" ? "Rollback " : "Upgrade ",
      h("a", { href: link("/upgrade/" + encodeURIComponent(u.id)) }, u.id), " ", badge(u.state)),
    h("dl", {},
      field("Instance", h("a", { href: link("/instance/" + encodeURIComponent(u.instance_id)) }, u.instance_id)),
      field("From → to", (u.from_version || "?") + " → " + (u.to_version || "?")),
      field("Reason", h("span", { class: "reason" }, u.reason)),
      field("Rollout", u.rollout_id ? h("a", { href: link("/rollouts/" + encodeURIComponent(u.rollout_id)) }, u.rollout_id) : null),
      field("Created", when(u.created)), field("Updated", when(u.updated))),
    events.length ? h("ol", { class: "timeline", "aria-label": "events of " + u.id }, events) : null);
}

function rollbackButton(ctx, id, out, reload) {
  return h("button", { type: "button", class: "danger", id: "rollback", onclick: async () => {
    if (!(await ctx.confirm("Roll back " + id + "?",
        "slotfleet casts a rollback to the guest, which goes back to its previous slot.")))
      return;
    out.replaceChildren("Sending…");
    try {
      const r = await ctx.call("POST", "/instances/" + encodeURIComponent(id) + "/action", {}, { rollback: {} });
      const u = r.json.upgrade || {};
      out.replaceChildren("slotfleet answered " + r.status + ": rollback ",
        h("a", { href: link("/upgrade/" + encodeURIComponent(u.id || "")) }, u.id || "?"), " is " + (u.state || "?") + ".");
      reload();
    } catch (e) {
      out.replaceChildren();
      ctx.fail(e, out);
    }
  } }, "Roll back…");
}

async function upgradesOf(ctx, id) {
  const r = await ctx.call("GET", "/upgrades", { instance_id: id, limit: 10 });
  const full = await Promise.all(r.json.upgrades.map((u) =>
    ctx.call("GET", "/upgrades/" + encodeURIComponent(u.id)).then((x) => x.json.upgrade, () => u)));
  return full.length ? full.map((u) => upgradeCard(u, "h3")) : [h("p", {}, "No upgrade yet.")];
}

export async function instancePage(main, params, ctx, id) {
  main.append(h("h1", {}, "Instance ", id));
  const r = await ctx.call("GET", "/instances/" + encodeURIComponent(id));
  const i = r.json.instance;
  const out = h("p", { id: "action-result", role: "status" });
  const ups = h("section", { id: "upgrades" }, h("h2", {}, "Upgrades"));
  const reload = async () => {
    try {
      ups.replaceChildren(h("h2", {}, "Upgrades"), ...(await upgradesOf(ctx, id)));
    } catch (e) {
      ctx.fail(e, ups);
    }
  };
  main.append(h("section", { class: "card", id: "instance" },
    h("dl", {},
      field("Agent version", i.agent_version), field("Slot", i.agent_slot),
      field("RPC API version", i.rpc_api_version),
      field("Last heartbeat", i.last_seen ? when(i.last_seen) + " (" + age(i.last_seen) + ")" : "never"),
      field("Last upgrade", i.last_upgrade ? [h("a", { href: link("/upgrade/" + encodeURIComponent(i.last_upgrade.id)) }, i.last_upgrade.id), " ", badge(i.last_upgrade.state)] : null)),
    rollbackButton(ctx, id, out, reload), out), ups);
  await reload();
}

export async function upgradePage(main, params, ctx, id) {
  main.append(h("h1", {}, "Upgrade ", id));
  const r = await ctx.call("GET", "/upgrades/" + encodeURIComponent(id));
  main.append(upgradeCard(r.json.upgrade, "h2"));
}

