/* The ops page for routing rules: a draft of the rule list is edited in the page (reorder,
 * enable, a condition builder), replayed and saved through the REST API with the page's
 * CSRF token. The server validates and decides everything; this only presents. */
(function () {
  "use strict";
  const root = document.getElementById("routing-ops");
  if (!root) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const data = JSON.parse(document.getElementById("routing-data").textContent);
  const L = JSON.parse(document.getElementById("routing-labels").textContent);
  const schema = data.schema;
  let version = data.version;
  let draft = JSON.parse(JSON.stringify(data.rules));
  let editing = null; // index in draft, or -1 for a new rule
  const $ = (role) => root.querySelector('[data-role="' + role + '"]');
  const form = document.getElementById("rule-editor");
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => (k === "text" ? (node.textContent = v) : node.setAttribute(k, v)));
    children.forEach((c) => node.append(c));
    return node;
  };

  async function call(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) {
      const errors = (answer.details && answer.details.errors) || [];
      throw new Error([answer.message || response.statusText, ...errors.map((e) => e.field + ": " + e.message)].join("\n"));
    }
    return answer;
  }

  function showError(err) { $("error").textContent = err ? err.message : ""; }
  function markDirty() { $("status").textContent = L.unsaved; }

  const valueText = (c) => (Array.isArray(c.value) ? c.value.join(", ") : typeof c.value === "boolean" ? (c.value ? L.yes : L.no) : String(c.value));
  function describeWhen(rule) {
    return rule.groups.map((g) => (g.conditions.length > 1 ? L[g.mode] + " " : "") + g.conditions
      .map((c) => (L.fields[c.field] || c.field) + " " + (L.ops[c.op] || c.op) + " " + valueText(c)).join("; ")).join(" / ");
  }
  function describeThen(rule) {
    return Object.entries(rule.actions).map(([k, v]) => k + ": " + (typeof v === "object" && v !== null ? JSON.stringify(v) : v)).join(", ");
  }

  function renderList() {
    const body = root.querySelector('[data-role="rule-list"] tbody');
    body.replaceChildren();
    draft.forEach((rule, i) => {
      const enabled = el("input", { type: "checkbox", "aria-label": L.enabled, "data-role": "enable" });
      enabled.checked = rule.enabled !== false;
      enabled.addEventListener("change", () => { rule.enabled = enabled.checked; markDirty(); });
      const button = (label, role, action) => {
        const b = el("button", { type: "button", class: "link", "data-role": role, text: label });
        b.addEventListener("click", action);
        return b;
      };
      const row = el("tr", { "data-rule": rule.name },
        el("td", { text: String(i + 1) }), el("td", { text: rule.name + (rule.stop ? " ⏹" : "") }), el("td", {}, enabled),
        el("td", { text: describeWhen(rule) }), el("td", { text: describeThen(rule) }),
        el("td", {},
          button("↑", "up", () => move(i, -1)), button("↓", "down", () => move(i, 1)),
          button(L.edit, "edit", () => openEditor(i)), button(L.delete, "delete", () => { draft.splice(i, 1); markDirty(); renderList(); })));
      row.querySelector('[data-role="up"]').title = L.up;
      row.querySelector('[data-role="down"]').title = L.down;
      body.append(row);
    });
  }

  function move(i, by) {
    const j = i + by;
    if (j < 0 || j >= draft.length) return;
    [draft[i], draft[j]] = [draft[j], draft[i]];
    markDirty();
    renderList();
  }

  // -- the condition builder -----------------------------------------------------------
  const NAME_LISTS = { template: "names-templates", template_category: "names-template_categories" };
  function kindOf(op) {
    if (op === "is" || op === "exists") return "bool";
    if (op === "updated_within_hours" || op === "older_than_hours") return "hours";
    return "list";
  }
  function conditionRow(cond) {
    const field = el("select", { "data-role": "field" });
    Object.keys(schema.fields).forEach((f) => field.append(el("option", { value: f, text: L.fields[f] || f })));
    field.value = cond.field;
    const op = el("select", { "data-role": "op" });
    const value = el("span", { class: "value" });
    const row = el("div", { class: "condition", "data-role": "condition" }, field, op, value);
    function fillOps(selected) {
      op.replaceChildren();
      schema.fields[field.value].forEach((o) => op.append(el("option", { value: o, text: L.ops[o] || o })));
      op.value = selected && schema.fields[field.value].includes(selected) ? selected : schema.fields[field.value][0];
    }
    function fillValue(current) {
      value.replaceChildren();
      const kind = kindOf(op.value);
      if (kind === "bool") {
        const s = el("select", { "data-role": "value", "aria-label": L.value },
          el("option", { value: "true", text: L.yes }), el("option", { value: "false", text: L.no }));
        s.value = current === false ? "false" : "true";
        value.append(s);
      } else {
        const input = el("input", { "data-role": "value", "aria-label": L.value, type: kind === "hours" ? "number" : "text" });
        const names = NAME_LISTS[field.value]; // the reply templates and categories there are, offered as you type
        if (names) input.setAttribute("list", names);
        input.value = current === undefined || typeof current === "boolean" ? "" : Array.isArray(current) ? current.join(", ") : String(current);
        value.append(input);
      }
    }
    field.addEventListener("change", () => { fillOps(); fillValue(); });
    op.addEventListener("change", () => fillValue());
    const remove = el("button", { type: "button", class: "link", text: "✕", "aria-label": L.delete });
    remove.addEventListener("click", () => row.remove());
    row.append(remove);
    fillOps(cond.op);
    fillValue(cond.value);
    return row;
  }
  function groupBox(group) {
    const mode = el("select", { "data-role": "mode" }, el("option", { value: "all", text: L.all }), el("option", { value: "any", text: L.any }));
    mode.value = group.mode || "all";
    const list = el("div", { "data-role": "conditions" });
    group.conditions.forEach((c) => list.append(conditionRow(c)));
    const add = el("button", { type: "button", "data-role": "add-condition", text: "+" });
    add.addEventListener("click", () => list.append(conditionRow({ field: "channel", op: "in", value: [] })));
    return el("fieldset", { class: "group", "data-role": "group" }, mode, list, add);
  }
  function readCondition(row) {
    const op = row.querySelector('[data-role="op"]').value;
    const raw = row.querySelector('[data-role="value"]').value;
    const kind = kindOf(op);
    const value = kind === "bool" ? raw === "true" : kind === "hours" ? Number(raw) : raw.split(/[,，]/).map((v) => v.trim()).filter(Boolean);
    return { field: row.querySelector('[data-role="field"]').value, op, value };
  }

  // -- the rule editor ------------------------------------------------------------------
  const ACTION_TEXT = ["queue", "priority", "min_priority", "category", "complaint_category", "skill", "team", "strategy", "sla_policy",
    "acknowledgement", "call"];
  function openEditor(index) {
    editing = index;
    const rule = index >= 0 ? draft[index] : { name: "", enabled: true, stop: false, groups: [{ mode: "all", conditions: [{ field: "channel", op: "in", value: ["email"] }] }], actions: {} };
    form.elements.name.value = rule.name;
    form.elements.enabled.checked = rule.enabled !== false;
    form.elements.stop.checked = !!rule.stop;
    const groups = form.querySelector('[data-role="groups"]');
    groups.replaceChildren(...rule.groups.map(groupBox));
    const a = rule.actions || {};
    ACTION_TEXT.forEach((k) => (form.elements[k].value = a[k] || ""));
    form.elements.tags.value = (a.tags || []).join(", ");
    form.elements.assignee_id.value = a.assignee_id || "";
    form.elements.join.checked = !!a.join_open_ticket;
    form.elements.join_hours.value = (a.join_open_ticket && a.join_open_ticket.within_hours) || "";
    form.elements.join_callback.checked = !!(a.join_open_ticket && a.join_open_ticket.callback_only);
    form.hidden = false;
    form.elements.name.focus();
  }
  function readEditor() {
    const actions = {};
    ACTION_TEXT.forEach((k) => { const v = form.elements[k].value.trim(); if (v) actions[k] = v; });
    const tags = form.elements.tags.value.split(/[,，]/).map((t) => t.trim()).filter(Boolean);
    if (tags.length) actions.tags = tags;
    if (form.elements.assignee_id.value) actions.assignee_id = Number(form.elements.assignee_id.value);
    if (form.elements.join.checked) {
      actions.join_open_ticket = { callback_only: form.elements.join_callback.checked };
      if (form.elements.join_hours.value) actions.join_open_ticket.within_hours = Number(form.elements.join_hours.value);
    }
    const groups = [...form.querySelectorAll('[data-role="group"]')].map((g) => ({
      mode: g.querySelector('[data-role="mode"]').value,
      conditions: [...g.querySelectorAll('[data-role="condition"]')].map(readCondition),
    }));
    return { name: form.elements.name.value.trim(), enabled: form.elements.enabled.checked, stop: form.elements.stop.checked, groups, actions };
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const rule = readEditor();
    if (editing >= 0) draft[editing] = rule; else draft.push(rule);
    form.hidden = true;
    markDirty();
    renderList();
  });
  form.querySelector('[data-role="cancel"]').addEventListener("click", () => { form.hidden = true; });
  form.querySelector('[data-role="add-group"]').addEventListener("click", () =>
    form.querySelector('[data-role="groups"]').append(groupBox({ mode: "all", conditions: [{ field: "channel", op: "in", value: [] }] })));
  $("new-rule").addEventListener("click", () => openEditor(-1));

  // -- replay and save ------------------------------------------------------------------
  function table(title, rows) {
    const body = rows.map((r) => el("tr", {}, el("td", { text: r.value }), el("td", { text: String(r.before) }),
      el("td", { text: String(r.after) }), el("td", { text: (r.change > 0 ? "+" : "") + r.change })));
    return el("table", { class: "replay" }, el("caption", { text: title }),
      el("thead", {}, el("tr", {}, el("th", { text: L.value }), el("th", { text: L.before }), el("th", { text: L.after }), el("th", { text: "±" }))),
      el("tbody", {}, ...body));
  }
  const outcome = (o) => o.queue + " · " + o.priority + " · " + (o.assignee === "unassigned" ? L.unassigned : o.assignee);
  $("replay").addEventListener("click", async () => {
    showError(null);
    try {
      const result = await call("POST", "/api/v1/routing/replay", { rules: draft, days: Number($("days").value) });
      $("replay-summary").textContent = result.moved ? result.moved + " " + L.of + " " + result.contacts + " " + L.moved : L.no_change + " (" + result.contacts + ")";
      const examples = el("table", { class: "replay-examples", "data-role": "examples" }, el("caption", { text: L.examples }),
        el("tbody", {}, ...result.examples.map((e) => el("tr", {}, el("td", { text: e.at.slice(0, 16).replace("T", " ") }),
          el("td", { text: e.subject }), el("td", { text: outcome(e.before) }), el("td", { text: "→ " + outcome(e.after) })))));
      $("replay-tables").replaceChildren(table(L.queue, result.queues), table(L.priority, result.priorities),
        table(L.assignee, result.assignees), examples);
      $("replay-results").hidden = false;
    } catch (err) { showError(err); }
  });
  $("save").addEventListener("click", async () => {
    showError(null);
    try {
      const saved = await call("PUT", "/api/v1/routing/rules", { rules: draft, based_on: version, note: $("note").value });
      version = saved.version;
      $("version").textContent = String(version);
      $("status").textContent = L.saved + " " + version;
    } catch (err) { showError(err); }
  });
  renderList();
})();
