// Parley's entry desk: sign in with a named token, record an event through a form made
// from the OpenAPI document, preview it (a dry run), and correct, retract or dispute an
// event from the timeline. Plain DOM, no framework; every string goes in as text.
//
// The forms are generated: each event type's form is built from the append route's
// request body in /openapi.json (the event union), so a new type or field needs no
// code here. Only the value objects get a widget of their own: an actor (a country by
// name or ISO code, or a person), a country and a region (from /reference).
"use strict";

(() => {
  const TOKEN_KEY = "parley-write-token";
  const LAST_SOURCE_KEY = "parley-last-source";
  const NOTICE_KEY = "parley-desk-notice"; // said once, after the page moves to a new negotiation
  const WAIT_FOR_KEY = "parley-wait-for"; // parley.js lists negotiations once the index has it
  const APPEND_PATH = "/negotiations/{slug}/events";
  const LOG_FACTS = { EventCorrected: "Correct", EventRetracted: "Retract", ClaimDisputed: "Dispute" };

  const desk = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    me: null,
    schemas: {},
    types: [],          // event types, in the union's order
    countries: [],
    regionLists: new Map(),
    form: null,         // the open form: { type, root, widget, id, base }
    seq: 0,
  };

  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren();
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const slug = () => ($("negotiation") ? $("negotiation").value : "");
  const humanType = (type) =>
    type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^(\w)(.*)$/, (_, a, b) => a + b.toLowerCase());
  const humanName = (name) => name.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
  const today = () => new Date().toISOString().slice(0, 10);

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  // --- The API --------------------------------------------------------------------------

  class DeskError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function call(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (desk.token) headers.Authorization = `Bearer ${desk.token}`;
    const init = { method: options.method || "GET", headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) throw new DeskError(response.status, body);
    return body;
  }

  // --- Sign-in: a named token, kept only in this tab ---------------------------------------

  async function signIn(token) {
    desk.token = token;
    if (!token) {
      desk.me = null;
      sessionStorage.removeItem(TOKEN_KEY);
      return showWho();
    }
    try {
      desk.me = await call("/me", { auth: true });
      sessionStorage.setItem(TOKEN_KEY, token);
      $("desk-token").value = "";
      showWho();
    } catch (error) {
      desk.me = null;
      desk.token = "";
      sessionStorage.removeItem(TOKEN_KEY);
      showWho(error.status === 401 ? "That token was not accepted." : `Could not sign in: ${error.message}`);
    }
  }

  function showWho(problem) {
    const signedIn = !!desk.me;
    $("desk-signin-form").hidden = signedIn;
    $("desk-signout").hidden = !signedIn;
    fill($("desk-who"), signedIn
      ? ["Writing as ", h("strong", { id: "desk-who-name" }, desk.me.name),
        ` (scope ${desk.me.scope})`,
        desk.me.scopes.includes("append") ? null : ": this token cannot append"]
      : "Not signed in: reading only. Paste a named token to write.");
    const error = $("desk-signin-error");
    error.hidden = !problem;
    fill(error, problem || "");
  }

  // --- The schema ---------------------------------------------------------------------------

  const refName = (s) => (s && s.$ref ? s.$ref.split("/").pop() : null);

  function resolve(s) {
    let seen = 0;
    while (s && s.$ref && seen++ < 20) s = desk.schemas[refName(s)];
    return s || {};
  }

  // ``anyOf: [X, null]`` is an optional X: X, with the outer title and description.
  function unwrap(s) {
    if (s && Array.isArray(s.anyOf)) {
      const others = s.anyOf.filter((x) => x.type !== "null");
      if (others.length === 1 && others.length < s.anyOf.length) {
        return { ...others[0], title: s.title || others[0].title, description: s.description || others[0].description };
      }
    }
    return s;
  }

  const isTime = (s) => s.type === "string" && typeof s.pattern === "string" && s.pattern.includes("T(?:[01][0-9]|2[0-3])");

  async function loadSchema() {
    const doc = await call("/openapi.json");
    desk.schemas = doc.components.schemas;
    const body = doc.paths[APPEND_PATH].post.requestBody.content["application/json"].schema;
    const union = (body.anyOf || body.oneOf || []).find((x) => x.discriminator) || body;
    desk.types = (union.oneOf || union.anyOf || []).map(refName).filter(Boolean);
  }

  async function loadCountries() {
    desk.countries = (await call("/reference/countries")).countries;
    fill($("desk-countries"), desk.countries.map((c) =>
      h("option", { value: c.code, label: c.common_name || c.name })));
  }

  // A country typed by name or code, as its alpha-3 code (unknown text is sent as typed,
  // and the server's 422 names it).
  function countryCode(text) {
    const t = text.trim();
    if (!t) return "";
    const lower = t.toLowerCase();
    const found = desk.countries.find((c) => c.code.toLowerCase() === lower || c.alpha_2.toLowerCase() === lower ||
      [c.name, c.common_name, c.official_name].some((n) => n && n.toLowerCase() === lower));
    if (found) return found.code;
    // "Russia" for "Russian Federation": a beginning that names one country only.
    const begins = desk.countries.filter((c) =>
      [c.name, c.common_name, c.official_name].some((n) => n && n.toLowerCase().startsWith(lower)));
    return begins.length === 1 ? begins[0].code : t;
  }

  async function regionList(countries) {
    const codes = [...new Set(countries.map(countryCode).filter((c) => /^[A-Z]{3}$/.test(c)))].sort();
    if (!codes.length) return null;
    const key = codes.join("-");
    if (!desk.regionLists.has(key)) {
      const id = `desk-regions-${key}`;
      const list = h("datalist", { id });
      document.body.append(list);
      desk.regionLists.set(key, id);
      try {
        const query = codes.map((c) => `country=${c}`).join("&");
        const body = await call(`/reference/regions?${query}`);
        fill(list, body.regions.map((r) => h("option", { value: r.code, label: `${r.name} (${r.country})` })));
      } catch {
        desk.regionLists.delete(key);
        return null;
      }
    }
    return desk.regionLists.get(key);
  }

  // --- Widgets: each has ``el``, ``get()`` (undefined when empty) and ``set(value)`` --------

  const idOf = (path) => `desk-f-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;

  function fieldLabel(name, s, required) {
    return [s.title && !/^(Data|Items?)$/.test(s.title) ? s.title : humanName(name), required ? null : h("span", { class: "optional" }, " (optional)")];
  }

  function errorSlot(id) {
    return h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  }

  // One labelled input; ``make`` builds the control.
  function leaf(path, name, s, required, control, parse, show) {
    const id = idOf(path);
    control.id = id;
    control.name = path;
    control.dataset.path = path;
    const help = s.description ? h("p", { class: "help", id: `${id}-help` }, s.description) : null;
    control.setAttribute("aria-describedby", [help ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(" "));
    if (required) control.setAttribute("aria-required", "true");
    const el = h("div", { class: "desk-field" },
      h("label", { for: id }, fieldLabel(name, s, required)), control, help, errorSlot(id));
    return { el, control, get: () => parse(control), set: (v) => show(control, v) };
  }

  const textValue = (c) => (c.value.trim() === "" ? undefined : c.value.trim());

  function build(schema, path, name, required) {
    const raw = schema;
    const s0 = unwrap(schema);
    const ref = refName(s0);
    if (ref === "Actor") return actorWidget(path, name, raw, required);
    const named = ref === "CountryCode" || ref === "RegionCode"; // their own titles name the type
    const s = { ...resolve(s0), title: s0.title || raw.title || (named ? null : resolve(s0).title), description: raw.description || s0.description || resolve(s0).description };
    if (ref === "CountryCode") {
      return leaf(path, name, { ...s, description: "a country by name or ISO code (UKR)" }, required,
        h("input", { type: "text", list: "desk-countries", autocomplete: "off", spellcheck: "false" }),
        (c) => countryCode(c.value) || undefined, (c, v) => { c.value = v || ""; });
    }
    if (ref === "RegionCode") return regionWidget(path, name, s, required);
    if (s.enum) {
      const pick = !required || s.default === undefined || s.default === null;
      const select = h("select", {}, pick ? h("option", { value: "" }, required ? "— choose —" : "—") : null,
        s.enum.map((v) => h("option", { value: v }, String(v).replace(/_/g, " "))));
      if (s.default !== undefined && s.default !== null) select.value = s.default;
      return leaf(path, name, s, required, select, (c) => (c.value === "" ? undefined : c.value), (c, v) => { c.value = v ?? ""; });
    }
    if (s.type === "integer" || s.type === "number") {
      const input = h("input", { type: "number", step: s.type === "integer" ? "1" : "any", min: s.minimum ?? null, max: s.maximum ?? null });
      return leaf(path, name, s, required, input,
        (c) => (c.value === "" ? undefined : Number(c.value)), (c, v) => { c.value = v ?? ""; });
    }
    if (s.type === "boolean") {
      const box = h("input", { type: "checkbox" });
      return leaf(path, name, s, required, box, (c) => c.checked, (c, v) => { c.checked = !!v; });
    }
    if (s.type === "array") return arrayWidget(path, name, s, required);
    if (s.type === "object" && s.properties) return objectWidget(path, name, s, required);
    if (s.type === "string") {
      const prose = !s.pattern || s.pattern === "^[^\\x00]*$"; // free text, not a URL or a code
      const long = prose && (s.maxLength || 0) > 300;
      const control = long ? h("textarea", { rows: "3" }) : h("input", {
        type: "text", autocomplete: "off",
        placeholder: isTime(s) ? "2025-05-28 or 2025-05-28T10:00:00+03:00" : s.format === "uuid" ? "an event id" : null,
      });
      if (name === "outlet") control.setAttribute("list", "desk-outlets");
      return leaf(path, name, s, required, control, textValue, (c, v) => { c.value = v ?? ""; });
    }
    // Anything else (a free object, a union): JSON, checked by the server.
    return leaf(path, name, { ...s, description: `${s.description ? `${s.description}; ` : ""}as JSON` }, required,
      h("textarea", { rows: "4", class: "json", spellcheck: "false" }),
      (c) => {
        if (c.value.trim() === "") return undefined;
        try {
          return JSON.parse(c.value);
        } catch {
          return c.value; // the server says what is wrong with it
        }
      },
      (c, v) => { c.value = v === undefined ? "" : JSON.stringify(v, null, 2); });
  }

  function group(path, name, s, required, body) {
    const id = idOf(path);
    return h("fieldset", { class: "desk-group", "data-path": path, id, "aria-describedby": `${id}-error` },
      h("legend", {}, fieldLabel(name, s, required)),
      s.description ? h("p", { class: "help" }, s.description) : null,
      errorSlot(id), body);
  }

  function objectWidget(path, name, s, required) {
    const need = new Set(s.required || []);
    const parts = Object.entries(s.properties)
      .filter(([key, p]) => !resolve(unwrap(p)).const)
      .map(([key, p]) => [key, build(p, path ? `${path}.${key}` : key, key, need.has(key))]);
    const el = group(path, name, s, required, parts.map(([, w]) => w.el));
    const widget = {
      el,
      parts: Object.fromEntries(parts),
      get() {
        const out = {};
        for (const [key, w] of parts) {
          const v = w.get();
          if (v !== undefined) out[key] = v;
        }
        return Object.keys(out).length || required ? out : undefined;
      },
      set(value) {
        for (const [key, w] of parts) w.set(value ? value[key] : undefined);
      },
    };
    // A region offers the regions of the country beside it.
    const country = widget.parts.country;
    for (const w of Object.values(widget.parts)) {
      if (w.regionOf) w.regionOf(() => (country ? [country.control.value] : []));
    }
    if (refName(unwrap(s)) === "Source" || name === "sources" || /^sources\.\d+$/.test(path)) addSameAsLast(widget);
    return widget;
  }

  // The last source's outlet and date, offered again on each source.
  function addSameAsLast(widget) {
    const last = JSON.parse(sessionStorage.getItem(LAST_SOURCE_KEY) || "null");
    if (!last || !widget.parts.outlet) return;
    const text = [last.outlet, last.published_at].filter(Boolean).join(", ");
    widget.el.insertBefore(h("button", {
      type: "button", class: "quiet desk-same",
      onclick: () => {
        widget.parts.outlet.set(last.outlet);
        if (widget.parts.published_at) widget.parts.published_at.set(last.published_at);
      },
    }, `Same as last source (${text})`), widget.el.querySelector(".desk-field"));
  }

  function arrayWidget(path, name, s, required) {
    const item = s.items || {};
    const rows = h("ol", { class: "desk-rows" });
    let widgets = [];
    const itemName = humanName(name).replace(/ies$/, "y").replace(/s$/, "");
    const render = (values) => {
      widgets = values.map((v, i) => {
        const w = build(item, `${path}.${i}`, `${itemName} ${i + 1}`, true);
        if (v !== undefined) w.set(v);
        if (w.regionOf && arrayWidget.regionsFrom) w.regionOf(arrayWidget.regionsFrom);
        return w;
      });
      fill(rows, widgets.map((w, i) => h("li", { class: "desk-row" }, w.el,
        h("button", {
          type: "button", class: "quiet desk-remove", "aria-label": `Remove ${itemName.toLowerCase()} ${i + 1}`,
          onclick: () => {
            const values = widgets.map((x) => x.get());
            values.splice(i, 1);
            render(values);
            addButton.focus();
          },
        }, "Remove"))));
    };
    const addButton = h("button", {
      type: "button", class: "quiet desk-add",
      onclick: () => {
        render([...widgets.map((x) => x.get()), undefined]);
        const first = widgets[widgets.length - 1].el.querySelector("input, select, textarea");
        if (first) first.focus();
      },
    }, `Add ${itemName.toLowerCase()}`);
    const el = group(path, name, s, required, [rows, addButton]);
    render((s.minItems || 0) > 0 ? [undefined] : []);
    return {
      el,
      get() {
        const values = widgets.map((w) => w.get())
          .filter((v) => v !== undefined && !(v && typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length));
        return values.length || required ? values : undefined;
      },
      set(value) {
        render(Array.isArray(value) ? value : []);
      },
    };
  }
  arrayWidget.regionsFrom = null;

  function regionWidget(path, name, s, required) {
    const input = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "ISO 3166-2, e.g. UA-63" });
    const w = leaf(path, name, { ...s, description: "ISO 3166-2 code of a region (pick from the list)" }, required, input,
      (c) => (c.value.trim() ? c.value.trim().toUpperCase() : undefined), (c, v) => { c.value = v || ""; });
    let from = () => partyCountries();
    w.regionOf = (f) => { from = f; };
    input.addEventListener("focus", async () => {
      if (!parties.length) await loadParties();
      const id = await regionList(from().length ? from() : partyCountries());
      if (id) input.setAttribute("list", id);
    });
    return w;
  }

  // The negotiation's parties' countries: the regions a scope is most likely drawn from.
  let parties = [];
  const partyCountries = () => parties;

  async function loadParties() {
    parties = [];
    if (!slug()) return;
    try {
      const n = await call(`/negotiations/${encodeURIComponent(slug())}`);
      parties = [...(n.parties || []), ...(n.mediators || [])]
        .map((a) => (typeof a === "string" ? a : a.country)).filter(Boolean);
    } catch {
      parties = [];
    }
  }

  function actorWidget(path, name, s, required) {
    const id = idOf(path);
    const country = h("input", { type: "text", id: `${id}-country`, list: "desk-countries", autocomplete: "off", spellcheck: "false", "data-path": `${path}.country`, "aria-describedby": `${id}-country-error` });
    const person = h("input", { type: "text", id: `${id}-name`, autocomplete: "off", "data-path": `${path}.name`, "aria-describedby": `${id}-name-error` });
    const role = h("input", { type: "text", id: `${id}-role`, autocomplete: "off", "data-path": `${path}.role`, "aria-describedby": `${id}-role-error` });
    const el = h("fieldset", { class: "desk-group desk-actor", "data-path": path, id, "aria-describedby": `${id}-error` },
      h("legend", {}, fieldLabel(name, { title: s.title === "Actor" ? null : s.title }, required), " — an actor"),
      errorSlot(id),
      h("div", { class: "desk-inline" },
        h("div", { class: "desk-field" }, h("label", { for: country.id }, "Country, by name or ISO code"), country, errorSlot(country.id)),
        h("div", { class: "desk-field" }, h("label", { for: person.id }, "Person or body ", h("span", { class: "optional" }, "(optional)")), person, errorSlot(person.id)),
        h("div", { class: "desk-field" }, h("label", { for: role.id }, "Role ", h("span", { class: "optional" }, "(optional)")), role, errorSlot(role.id))));
    return {
      el,
      control: country,
      get() {
        const code = countryCode(country.value);
        const n = person.value.trim();
        const r = role.value.trim();
        if (!n && !r) return code || undefined;
        const out = {};
        if (n) out.name = n;
        if (code) out.country = code;
        if (r) out.role = r;
        return out;
      },
      set(v) {
        const a = typeof v === "string" ? { country: v } : v || {};
        country.value = a.country || "";
        person.value = a.name || "";
        role.value = a.role || "";
      },
    };
  }

  // --- One event's form ----------------------------------------------------------------------

  const ENVELOPE_ORDER = ["occurred_at", "precision", "occurred_until", "data", "sources", "asserted_by"];

  function eventWidget(type) {
    const s = resolve({ $ref: `#/components/schemas/${type}` });
    const need = new Set(s.required || []);
    const keys = ENVELOPE_ORDER.filter((k) => s.properties[k]).concat(
      Object.keys(s.properties).filter((k) => !ENVELOPE_ORDER.includes(k) && !["id", "type"].includes(k)));
    const parts = keys.map((k) => [k, build(s.properties[k], k, k === "data" ? `${humanType(type)}: what happened` : k, need.has(k))]);
    const widget = {
      el: h("div", { class: "desk-event" }, parts.map(([, w]) => w.el)),
      parts: Object.fromEntries(parts),
      get() {
        const out = { type };
        for (const [k, w] of parts) {
          const v = w.get();
          if (v !== undefined) out[k] = v;
        }
        return out;
      },
      set(value) {
        for (const [k, w] of parts) w.set(value ? value[k] : undefined);
      },
    };
    if (widget.parts.occurred_at) widget.parts.occurred_at.set(today());
    return widget;
  }

  async function openForm(type, prefill, about) {
    $("desk-type").value = type;
    const widget = eventWidget(type);
    if (prefill) {
      for (const [k, v] of Object.entries(prefill)) if (widget.parts[k]) widget.parts[k].set(v);
    }
    desk.form = { type, widget, id: uuid4(), base: null, opens: type === "NegotiationOpened" };
    // Opening a negotiation appends to a new one: its slug is asked for first.
    const opens = desk.form.opens
      ? h("div", { class: "desk-field" },
        h("label", { for: "desk-new-slug" }, "New negotiation's slug"),
        h("input", { type: "text", id: "desk-new-slug", "data-path": "slug", autocomplete: "off", spellcheck: "false",
          placeholder: "e.g. istanbul-2025", "aria-describedby": "desk-new-slug-error" }),
        errorSlot("desk-new-slug"))
      : null;
    fill($("desk-form-body"),
      about ? h("p", { class: "desk-about", id: "desk-about" }, about) : null,
      opens, widget.el);
    $("desk-form-body").dataset.type = type;
    fill($("desk-preview"));
    fill($("desk-conflict"));
    $("desk-conflict").hidden = true;
    showStatus("");
    await refreshBase();
  }

  async function refreshBase() {
    if (!desk.form) return;
    if (desk.form.opens) { // needs no negotiation shown: the first one is opened from here
      desk.form.base = 0;
      fill($("desk-base"), "Opens a new negotiation.");
      return;
    }
    if (!slug()) return;
    try {
      const n = await call(`/negotiations/${encodeURIComponent(slug())}`);
      desk.form.base = n.version;
      fill($("desk-base"), `Based on version ${n.version} of ${n.title}.`);
    } catch {
      fill($("desk-base"), "");
    }
  }

  function showStatus(message, kind) {
    const el = $("desk-status");
    el.className = `desk-status ${kind || ""}`;
    fill(el, message || "");
  }

  function clearErrors() {
    for (const el of $("desk-form").querySelectorAll(".field-error")) {
      el.hidden = true;
      fill(el);
    }
    for (const el of $("desk-form").querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // Each problem next to the field it names: the input with the longest path that is a
  // prefix of the problem's field (a fieldset for an object or a list).
  function showErrors(errors) {
    const nodes = [...$("desk-form").querySelectorAll("[data-path]")];
    const general = [];
    let first = null;
    for (const e of errors) {
      const field = String(e.field || "").replace(/^events\.0\./, "");
      let best = null;
      for (const node of nodes) {
        const p = node.dataset.path;
        if ((field === p || field.startsWith(`${p}.`)) && (!best || p.length > best.dataset.path.length)) best = node;
      }
      if (!best) {
        general.push(`${e.field}: ${e.message}`);
        continue;
      }
      const slot = $(`${best.id}-error`);
      slot.hidden = false;
      slot.append(h("span", {}, field === best.dataset.path ? e.message : `${field}: ${e.message}`), " ");
      best.setAttribute("aria-invalid", "true");
      first = first || best;
    }
    if (first) (first.matches("fieldset") ? first.querySelector("input, select, textarea") || first : first).focus();
    return general;
  }

  // --- Preview and record ------------------------------------------------------------------

  async function send(dryRun) {
    if (!desk.form) return;
    const seq = ++desk.seq;
    clearErrors();
    fill($("desk-conflict"));
    $("desk-conflict").hidden = true;
    if (!desk.me) {
      showStatus("Sign in with a named token to preview or record.", "bad");
      $("desk-token").focus();
      return;
    }
    const target = desk.form.opens ? $("desk-new-slug").value.trim() : slug();
    if (!target) {
      if (desk.form.opens) return showErrors([{ field: "slug", message: "name the new negotiation" }]);
      return showStatus("Pick a negotiation first.", "bad");
    }
    if (desk.form.base == null) await refreshBase();
    const event = { id: desk.form.id, ...desk.form.widget.get() };
    const headers = desk.form.base == null || desk.form.opens ? {} : { "If-Match": `"${desk.form.base}"` };
    showStatus(dryRun ? "Checking…" : "Recording…");
    try {
      const path = `/negotiations/${encodeURIComponent(target)}/events${dryRun ? "?dry_run=true" : ""}`;
      const body = await call(path, { method: "POST", body: event, headers, auth: true });
      if (seq !== desk.seq) return;
      if (dryRun) return showPreview(body);
      recorded(event, body, target);
    } catch (error) {
      if (seq !== desk.seq) return;
      failed(error, dryRun);
    }
  }

  function recorded(event, body, target) {
    const [stored] = body.events;
    for (const s of event.sources || []) {
      sessionStorage.setItem(LAST_SOURCE_KEY, JSON.stringify({ outlet: s.outlet, published_at: s.published_at || null }));
      if (s.outlet && ![...$("desk-outlets").options].some((o) => o.value === s.outlet)) {
        $("desk-outlets").append(h("option", { value: s.outlet }));
      }
    }
    const type = desk.form.type;
    if (desk.form.opens) {
      sessionStorage.setItem(WAIT_FOR_KEY, String(stored.position));
      sessionStorage.setItem(NOTICE_KEY, `Opened ${target}: recorded ${humanType(stored.type)} as version ${stored.version} (position ${stored.position}).`);
      location.assign(`/?negotiation=${encodeURIComponent(target)}`); // the page shows the new one
      return;
    }
    openForm(type).then(() => {
      showStatus(`Recorded ${humanType(stored.type)} as version ${stored.version} (position ${stored.position}${stored.stored === "existing" ? ", already stored" : ""}).`, "ok");
      $("desk-status").dataset.recorded = stored.id;
      $("desk-status").dataset.position = stored.position;
    });
  }

  function failed(error, dryRun) {
    const p = error.problem;
    if (error.status === 409 && p.current_version !== undefined) return conflict(p, dryRun);
    if (error.status === 422 && Array.isArray(p.errors)) {
      const general = showErrors(p.errors);
      return showStatus(`Not ${dryRun ? "valid" : "recorded"}: ${p.errors.length} problem${p.errors.length === 1 ? "" : "s"}, shown next to ${p.errors.length === 1 ? "its field" : "their fields"}.${general.length ? ` ${general.join("; ")}` : ""} Nothing typed is lost.`, "bad");
    }
    if (error.status === 401 || error.status === 403) return showStatus(`Not allowed: ${error.message}`, "bad");
    showStatus(`${dryRun ? "Could not check" : "Not recorded"}: ${error.message}. Nothing typed is lost.`, "bad");
  }

  // A 409: what changed meanwhile (the events since the form's version) and a rebase.
  async function conflict(p, dryRun) {
    const base = desk.form.base;
    const current = p.current_version;
    showStatus(`Not ${dryRun ? "checked" : "recorded"}: the negotiation moved on from version ${base} to ${current} meanwhile. Nothing typed is lost.`, "bad");
    let since = [];
    try {
      const page = await call(`/negotiations/${encodeURIComponent(slug())}/events?after_version=${base}&limit=50`);
      since = page.events;
    } catch {
      since = [];
    }
    const box = $("desk-conflict");
    box.hidden = false;
    fill(box,
      h("h4", {}, `Recorded since version ${base}`),
      h("ol", { class: "desk-since" }, since.map((e) => h("li", {},
        h("strong", {}, humanType(e.type)), ` (version ${e.version}), occurred ${e.occurred_at}`,
        e.recorded_by ? `, recorded by ${e.recorded_by}` : ""))),
      h("button", {
        type: "button", id: "desk-rebase",
        onclick: async () => {
          desk.form.base = current;
          fill($("desk-base"), `Based on version ${current}.`);
          box.hidden = true;
          await send(true);
        },
      }, `Rebase on version ${current} and preview again`));
    $("desk-rebase").focus();
  }

  function showPreview(body) {
    const state = body.state;
    const events = body.events.map((e) => `${humanType(e.type)} as version ${e.version} (${e.stored})`);
    const parts = state ? state.changed.map((key) => changePart(key, state.before[key], state.after[key])) : [];
    fill($("desk-preview"),
      h("h4", { id: "desk-preview-title", tabindex: "-1" }, "Preview: nothing is stored yet"),
      h("p", {}, "Would store ", events.join(", "), "."),
      state ? h("p", { class: "help" }, `The state as of ${state.as_of}, as known now, before and after:`) : null,
      parts.length ? parts : h("p", { class: "empty" }, "No part of the state changes at that valid time."));
    showStatus("Checked: the event is valid here. Record it, or change it and preview again.", "ok");
    $("desk-preview-title").focus();
  }

  // One changed part of the state: for a list, only the items that differ.
  function changePart(key, before, after) {
    let shownBefore = before;
    let shownAfter = after;
    let same = 0;
    if (Array.isArray(before) && Array.isArray(after)) {
      const b = new Set(before.map((x) => JSON.stringify(x)));
      const a = new Set(after.map((x) => JSON.stringify(x)));
      shownBefore = before.filter((x) => !a.has(JSON.stringify(x)));
      shownAfter = after.filter((x) => !b.has(JSON.stringify(x)));
      same = after.length - shownAfter.length;
    }
    const block = (title, value) => h("div", { class: "desk-side" }, h("h5", {}, title),
      h("pre", { tabindex: "0", "aria-label": `${key} ${title.toLowerCase()}` }, JSON.stringify(value, null, 2)));
    return h("section", { class: "desk-change", "data-part": key },
      h("h5", { class: "desk-change-title" }, humanName(key), same ? h("span", { class: "muted" }, ` (${same} unchanged not shown)`) : null),
      h("div", { class: "desk-sides" }, block("Before", shownBefore), block("After", shownAfter)));
  }

  // A stored event's data as a person would write it: no empty optional fields.
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
    }
    return value;
  }

  // --- Acting from the timeline ----------------------------------------------------------------

  function addActions(root) {
    for (const entry of root.querySelectorAll("li.entry[id^='ev-']")) {
      if (entry.querySelector(".desk-actions")) continue;
      const id = entry.id.slice(3);
      const type = (entry.querySelector(".type") || {}).textContent || "event";
      const when = (entry.querySelector(".entry-when") || {}).textContent || "";
      const body = entry.querySelector(".entry-body") || entry;
      body.append(h("p", { class: "desk-actions" }, Object.entries(LOG_FACTS).map(([fact, verb]) =>
        h("button", {
          type: "button", class: "quiet", "data-act": fact, "data-event": id,
          "aria-label": `${verb} the ${type.toLowerCase()} of ${when.trim()}`,
          onclick: () => actOn(fact, id),
        }, verb))));
    }
  }

  async function actOn(fact, id) {
    let event = null;
    try {
      event = await call(`/events/${encodeURIComponent(id)}`);
    } catch (error) {
      showStatus(`Could not read event ${id}: ${error.message}`, "bad");
    }
    const data = { event_id: id };
    if (fact === "EventCorrected" && event) {
      // Every field the correction may change, as it stands; not those naming the thing.
      const fixed = await call("/reference/corrections").then((r) => r.fixed_fields, () => []);
      data.data = withoutNulls(Object.fromEntries(Object.entries(event.data).filter(([k]) => !fixed.includes(k))));
    }
    const about = event ? [`${LOG_FACTS[fact]}s the ${humanType(event.type).toLowerCase()} of ${event.occurred_at} (`, h("code", {}, id), ")"] : null;
    await openForm(fact, { data }, about);
    $("desk").scrollIntoView({ block: "start" });
    const next = $("desk-form-body").querySelector(`[data-path="data.${fact === "EventCorrected" ? "reason" : fact === "EventRetracted" ? "reason" : "disputed_by.country"}"]`)
      || $("desk-form-body").querySelector("input, select, textarea");
    if (next) next.focus();
  }

  // --- Wiring --------------------------------------------------------------------------------

  function wire() {
    $("desk-signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      signIn($("desk-token").value.trim());
    });
    $("desk-signout").addEventListener("click", () => signIn(""));
    $("desk-type").addEventListener("change", () => openForm($("desk-type").value));
    $("desk-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      send(ev.submitter && ev.submitter.id === "desk-preview-button");
    });
    $("negotiation").addEventListener("change", async () => {
      await loadParties();
      await refreshBase();
    });
    new MutationObserver(() => addActions($("timeline-body")))
      .observe($("timeline-body"), { childList: true, subtree: true });
    addActions($("timeline-body"));
  }

  async function start() {
    wire();
    try {
      await Promise.all([loadSchema(), loadCountries()]);
    } catch (error) {
      showStatus(`The desk could not load the API's schema: ${error.message}`, "bad");
      return;
    }
    fill($("desk-type"), desk.types.map((t) => h("option", { value: t }, humanType(t))));
    const last = JSON.parse(sessionStorage.getItem(LAST_SOURCE_KEY) || "null");
    if (last && last.outlet) $("desk-outlets").append(h("option", { value: last.outlet }));
    await signIn(desk.token);
    await loadParties();
    await openForm(desk.types.includes("StatementIssued") ? "StatementIssued" : desk.types[0]);
    const notice = sessionStorage.getItem(NOTICE_KEY);
    if (notice) {
      sessionStorage.removeItem(NOTICE_KEY);
      showStatus(notice, "ok");
    }
    $("desk").dataset.ready = "true";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
