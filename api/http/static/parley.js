// Parley's page: a negotiation's state as of valid time V, as known at recorded time K.
// Plain DOM, no framework. Every string from the API goes in as text (never innerHTML),
// and a link is made only from an http(s) URL.
"use strict";

(() => {
  const EVENT_TYPES = [
    "NegotiationOpened", "DelegationNamed", "ContactHeld", "StatementIssued",
    "ProposalMade", "ProposalAnswered", "RoundScheduled", "HostAnnounced", "RoundHeld",
    "DocumentExchanged", "CeasefireProposed", "CeasefireDeclared", "SecurityZoneDeclared",
    "ClaimDisputed", "EventCorrected", "EventRetracted",
    "AgreementReached", "AgreementSigned", "AgreementRatified", "AgreementSuspended",
    "AgreementTerminated", "ProvisionImplemented", "CeasefireLifted", "ViolationAlleged",
    "HostilitiesReported",
  ];
  const TIMELINE_SHOWN = 300; // the latest ones, when a window holds more
  const LIVE_KEPT = 50;
  const DAY = 86400000;
  const WAIT_FOR_KEY = "parley-wait-for"; // the desk's last opening: the list waits for it

  // ISO 3166-1 alpha-3 to alpha-2, so that Intl.DisplayNames can name a country.
  const A3_A2 = new Map(
    ("ABWAWAFGAFAGOAOAIAAIALAAXALBALANDADAREAEARGARARMAMASMASATAAQATFTFATGAGAUSAUAUTATAZEAZ" +
     "BDIBIBELBEBENBJBESBQBFABFBGDBDBGRBGBHRBHBHSBSBIHBABLMBLBLRBYBLZBZBMUBMBOLBOBRABRBRBBB" +
     "BRNBNBTNBTBVTBVBWABWCAFCFCANCACCKCCCHECHCHLCLCHNCNCIVCICMRCMCODCDCOGCGCOKCKCOLCOCOMKM" +
     "CPVCVCRICRCUBCUCUWCWCXRCXCYMKYCYPCYCZECZDEUDEDJIDJDMADMDNKDKDOMDODZADZECUECEGYEGERIER" +
     "ESHEHESPESESTEEETHETFINFIFJIFJFLKFKFRAFRFROFOFSMFMGABGAGBRGBGEOGEGGYGGGHAGHGIBGIGINGN" +
     "GLPGPGMBGMGNBGWGNQGQGRCGRGRDGDGRLGLGTMGTGUFGFGUMGUGUYGYHKGHKHMDHMHNDHNHRVHRHTIHTHUNHU" +
     "IDNIDIMNIMINDINIOTIOIRLIEIRNIRIRQIQISLISISRILITAITJAMJMJEYJEJORJOJPNJPKAZKZKENKEKGZKG" +
     "KHMKHKIRKIKNAKNKORKRKWTKWLAOLALBNLBLBRLRLBYLYLCALCLIELILKALKLSOLSLTULTLUXLULVALVMACMO" +
     "MAFMFMARMAMCOMCMDAMDMDGMGMDVMVMEXMXMHLMHMKDMKMLIMLMLTMTMMRMMMNEMEMNGMNMNPMPMOZMZMRTMR" +
     "MSRMSMTQMQMUSMUMWIMWMYSMYMYTYTNAMNANCLNCNERNENFKNFNGANGNICNINIUNUNLDNLNORNONPLNPNRUNR" +
     "NZLNZOMNOMPAKPKPANPAPCNPNPERPEPHLPHPLWPWPNGPGPOLPLPRIPRPRKKPPRTPTPRYPYPSEPSPYFPFQATQA" +
     "REUREROURORUSRURWARWSAUSASDNSDSENSNSGPSGSGSGSSHNSHSJMSJSLBSBSLESLSLVSVSMRSMSOMSOSPMPM" +
     "SRBRSSSDSSSTPSTSURSRSVKSKSVNSISWESESWZSZSXMSXSYCSCSYRSYTCATCTCDTDTGOTGTHATHTJKTJTKLTK" +
     "TKMTMTLSTLTONTOTTOTTTUNTNTURTRTUVTVTWNTWTZATZUGAUGUKRUAUMIUMURYUYUSAUSUZBUZVATVAVCTVC" +
     "VENVEVGBVGVIRVIVNMVNVUTVUWLFWFWSMWSYEMYEZAFZAZMBZMZWEZW")
      .match(/.{5}/g).map((pair) => [pair.slice(0, 3), pair.slice(3)]),
  );
  let regionNames = null;
  try {
    regionNames = new Intl.DisplayNames(["en"], { type: "region" });
  } catch {
    regionNames = null;
  }

  const page = {
    slug: "",
    asOf: "",     // as sent to the API: a date, or whatever the URL said
    knownAt: "",  // as sent to the API: a datetime with a Z offset, or whatever the URL said
    reportedAt: "",  // the third clock, sent like knownAt ("" means now)
    token: sessionStorage.getItem("parley-read-token") || "",
    needsToken: false,
    negotiations: [],
    summary: null,
    loadSeq: 0,
    errorFrom: null,
    source: null,
    refreshTimer: 0,
    chartTimer: 0,
    live: [],
  };

  const $ = (id) => document.getElementById(id);

  // --- DOM building: text only ------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    add(el, children);
    return el;
  }

  function add(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child)); // strings become text nodes
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren();
    return add(el, children);
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  const join = (items, sep = ", ") =>
    items.flatMap((item, i) => (i ? [sep, item] : [item]));

  // --- Formatting -----------------------------------------------------------------------

  function countryName(code) {
    const a2 = code && A3_A2.get(code);
    if (!a2 || !regionNames) return null;
    try {
      const name = regionNames.of(a2);
      return name && name !== a2 ? name : null;
    } catch {
      return null;
    }
  }

  function country(code) {
    if (!code) return null;
    const name = countryName(code);
    return name ? h("abbr", { title: name, class: "code" }, code) : h("span", { class: "code" }, code);
  }

  // An actor: "Vladimir Putin (RUS)", with the role as a tooltip; a state: "Türkiye (TUR)".
  function actor(a) {
    if (!a) return h("span", { class: "muted" }, "—");
    if (typeof a === "string") a = { country: a };
    if (a.name) {
      return h("span", { class: "actor", title: a.role || null },
        a.name, a.country ? [" (", country(a.country), ")"] : null);
    }
    const name = countryName(a.country);
    return h("span", { class: "actor" }, name ? [name, " (", a.country, ")"] : a.country || "?");
  }

  const actors = (list) =>
    list && list.length ? join(list.map(actor)) : h("span", { class: "muted" }, "—");

  function place(p) {
    if (!p) return h("span", { class: "muted" }, "—");
    const where = [p.city, countryName(p.country) || p.country].filter(Boolean).join(", ");
    return h("span", { class: "place" }, where,
      p.region ? [" ", h("span", { class: "code muted" }, p.region)] : null);
  }

  // "2025-05-28T12:57:00-04:00" -> "2025-05-28 12:57 −04:00"; a date stays a date.
  function when(value) {
    if (!value) return h("span", { class: "muted" }, "—");
    const text = String(value)
      .replace("T", " ")
      .replace(/(\d\d:\d\d):00(?=[.Z+-]|$)/, "$1")
      .replace(/\.\d+/, "")
      .replace(/ 23:59:59Z$/, " (end of day, UTC)");
    return h("time", { datetime: value }, text);
  }

  function badge(text, kind) {
    return h("span", { class: `badge badge-${kind || text}` }, text);
  }

  function humanType(type) {
    return type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^(\w)(.*)$/, (_, a, b) => a + b.toLowerCase());
  }

  // What a timeline entry or a live event says, in one line.
  function describe(event) {
    try {
      return describeData(event);
    } catch {
      return [humanType(event.type || "event")]; // a shape this page does not know yet
    }
  }

  function describeData(event) {
    const d = event.data || {};
    switch (event.type) {
      case "NegotiationOpened":
        return [h("strong", {}, d.title), ": parties ", actors(d.parties),
          d.mediators && d.mediators.length ? ["; mediators ", actors(d.mediators)] : null];
      case "DelegationNamed":
        return [actor(d.party), " names its delegation, headed by ", actor(d.head),
          d.members && d.members.length ? ["; members ", actors(d.members)] : null];
      case "ContactHeld":
        return [join(d.participants.map(actor), " and "), ` (${d.medium}`,
          d.host ? [", hosted by ", actor(d.host)] : null, d.place ? [" in ", place(d.place)] : null,
          "): ", d.summary];
      case "StatementIssued":
        return [actor(d.speaker), ": ", d.summary];
      case "ProposalMade":
        return [actor(d.proposer), d.addressees && d.addressees.length ? [" → ", actors(d.addressees)] : null,
          ", ", h("em", {}, d.subject), ": ", d.summary];
      case "ProposalAnswered":
        return [actor(d.responder), ` ${d.response} proposal `, h("code", {}, d.proposal_id),
          d.summary ? [": ", d.summary] : null];
      case "RoundScheduled":
        return [`Round ${d.round} ${d.status} for `, when(d.starts_at), " in ", place(d.place)];
      case "HostAnnounced":
        return [actor(d.host), ` to host round ${d.round}`, d.place ? [" in ", place(d.place)] : null];
      case "RoundHeld":
        return [`Round ${d.round} held in `, place(d.place),
          d.participants && d.participants.length
            ? ["; ", join(d.participants.map((p) => [actor(p.actor), ` (${p.role})`]), ", ")] : null,
          d.outcomes && d.outcomes.length ? ["; outcomes: ", d.outcomes.join("; ")] : null];
      case "DocumentExchanged":
        return [actor(d.from), " → ", actor(d.to), ": ", h("em", {}, d.title),
          d.round ? ` (round ${d.round})` : null];
      case "CeasefireProposed":
        return [actor(d.proposer), " proposes a ceasefire",
          d.scope && d.scope.length ? [" over ", regions(d.scope)] : null,
          d.conditions && d.conditions.length ? ["; conditions: ", d.conditions.join("; ")] : null];
      case "CeasefireDeclared":
        return ["Ceasefire declared by ", actors(d.parties), " from ", when(d.effective_from),
          d.effective_until ? [" until ", when(d.effective_until)] : null,
          d.scope && d.scope.length ? [" over ", regions(d.scope)] : null];
      case "SecurityZoneDeclared":
        return [actor(d.declared_by), ` declares a security zone (${d.status}) over `, regions(d.regions),
          d.depth_km ? `, ${d.depth_km} km deep` : null];
      case "ClaimDisputed":
        return [actor(d.disputed_by), " disputes ", eventLink(d.event_id, "an earlier claim"), ": ",
          h("q", {}, d.counter_claim)];
      case "AgreementReached":
        return [h("strong", {}, d.title), ` ${d.stage || "reached"} by `, actors(d.parties),
          d.place ? [" in ", place(d.place)] : null,
          d.provisions && d.provisions.length ? ` (${d.provisions.length} provisions)` : null];
      case "AgreementSigned":
        return [h("strong", {}, d.title), " signed by ",
          join(d.signatories.map((x) => [actor(x.actor), x.on_behalf_of ? [" for ", actor(x.on_behalf_of)] : null])),
          d.place ? [" in ", place(d.place)] : null,
          d.witnesses && d.witnesses.length ? ["; witnesses ", actors(d.witnesses)] : null,
          d.guarantors && d.guarantors.length ? ["; guarantors ", actors(d.guarantors)] : null];
      case "AgreementRatified":
        return [actor(d.by), " ratifies ", h("code", {}, d.agreement_id), d.summary ? [": ", d.summary] : null];
      case "AgreementSuspended":
        return [actor(d.by), " suspends ", h("code", {}, d.agreement_id), ": ", d.reason];
      case "AgreementTerminated":
        return [h("code", {}, d.agreement_id), " terminated", d.by ? [" by ", actor(d.by)] : null, ": ", d.reason,
          d.superseded_by ? [" (superseded by ", h("code", {}, d.superseded_by), ")"] : null];
      case "ProvisionImplemented":
        return [actors(d.by), " implement provision ", h("code", {}, d.provision), " of ",
          h("code", {}, d.agreement_id), ": ", d.summary];
      case "CeasefireLifted":
        return [actor(d.by), d.mode === "ended" ? " ends " : " suspends ",
          eventLink(d.ceasefire, "a ceasefire"), d.reason ? [": ", d.reason] : null];
      case "ViolationAlleged":
        return [actor(d.accuser), " accuses ", actors(d.accused), " of violating ",
          d.ceasefire ? eventLink(d.ceasefire, "a ceasefire") : null,
          d.ceasefire && d.agreement_id ? " and " : null,
          d.agreement_id ? ["agreement ", h("code", {}, d.agreement_id)] : null,
          d.regions && d.regions.length ? [" in ", regions(d.regions)] : null, ": ", d.summary];
      case "HostilitiesReported":
        return [humanType(d.kind.replace(/_/g, " ")), " between ", actors(d.parties),
          d.regions && d.regions.length ? [" in ", regions(d.regions)] : null, ": ", d.summary];
      case "EventCorrected":
        return ["Corrects ", eventLink(d.event_id, "an earlier event"), ": ", d.reason];
      case "EventRetracted":
        return ["Retracts ", eventLink(d.event_id, "an earlier event"), ": ", d.reason];
      default:
        return [humanType(event.type || "event")];
    }
  }

  function regions(list) {
    return join(list.map((code) => h("span", { class: "code region" }, code)), " ");
  }

  function eventLink(id, text) {
    return h("a", { href: `#ev-${id}`, title: `event ${id}` }, text);
  }

  // --- The URL: the page's state, shareable ----------------------------------------------

  function readUrl() {
    const query = new URLSearchParams(location.search);
    page.slug = query.get("negotiation") || "";
    page.asOf = query.get("as_of") || "";
    page.knownAt = query.get("known_at") || "";
    page.reportedAt = query.get("reported_at") || "";
  }

  // ':' stays readable in a query string; everything else is encoded.
  const enc = (value) => encodeURIComponent(value).replace(/%3A/gi, ":");

  function queryString(pairs) {
    const parts = pairs.filter(([, v]) => v).map(([k, v]) => `${k}=${enc(v)}`);
    return parts.length ? `?${parts.join("&")}` : "";
  }

  function pageUrl() {
    return location.pathname + queryString([
      ["negotiation", page.slug], ["as_of", page.asOf], ["known_at", page.knownAt],
      ["reported_at", page.reportedAt],
    ]);
  }

  function writeUrl(mode) {
    const url = pageUrl();
    if (url === location.pathname + location.search) return;
    history[mode === "push" ? "pushState" : "replaceState"](null, "", url);
  }

  function syncInputs() {
    $("negotiation").value = page.slug;
    const date = /^\d{4}-\d{2}-\d{2}/.exec(page.asOf);
    $("as-of").value = date ? date[0] : "";
    $("known-at").value = knownAtInput(page.knownAt);
    $("reported-at").value = knownAtInput(page.reportedAt);
    syncScrubber();
  }

  // A known_at from the URL, as a UTC datetime-local value (best effort; the URL wins).
  function knownAtInput(value) {
    if (!value) return "";
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T23:59:59`;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) return "";
    const iso = parsed.toISOString(); // UTC
    return iso.endsWith(":00.000Z") ? iso.slice(0, 16) : iso.slice(0, 19);
  }

  // --- The API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function api(path, withToken = page.needsToken) {
    const headers = { Accept: "application/json" };
    if (withToken && page.token) headers.Authorization = `Bearer ${page.token}`;
    const response = await fetch(path, { headers });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  const slugPath = () => `/negotiations/${encodeURIComponent(page.slug)}`;

  // ``from`` says who may clear it: a view that loads fine clears only its own errors.
  function showError(message, from = "view") {
    page.errorFrom = message ? from : null;
    const el = $("error");
    el.hidden = !message;
    fill(el, message || "");
  }

  // Reads need a bearer token (PARLEY_READ_TOKEN): show the token field, turn live off.
  function needToken(message) {
    page.needsToken = true;
    $("token-box").hidden = false;
    showError(message || "");
    stopLive("off: needs a token");
    fill($("live-note"),
      "Live updates are off: this server needs a read token for reads, and a browser's " +
      "EventSource cannot send an Authorization header. Press Show to refresh.");
    if (message) $("token").focus();
  }

  // --- Loading ------------------------------------------------------------------------------

  // The negotiations index is a projection, a moment behind the log: after the desk opens
  // one, the list waits for its position (wait_for), and a negotiation the list still lacks
  // is asked for by name before the page says there is none.
  async function listNegotiations(withToken) {
    const position = sessionStorage.getItem(WAIT_FOR_KEY);
    if (position) {
      try {
        return await api(`/negotiations?wait_for=${encodeURIComponent(position)}`, withToken);
      } catch (error) {
        if (error.status !== 503 && error.status !== 422) throw error; // behind, or another log
      } finally {
        sessionStorage.removeItem(WAIT_FOR_KEY);
      }
    }
    return api("/negotiations", withToken);
  }

  async function unlisted(slug) {
    try {
      return await api(`/negotiations/${encodeURIComponent(slug)}`);
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  async function loadNegotiations() {
    let body;
    try {
      body = await listNegotiations(false); // are reads open?
    } catch (error) {
      if (error.status !== 401) throw error;
      needToken(page.token ? "" : "This server needs a read token to read.");
      try {
        body = page.token ? await listNegotiations(true) : null;
      } catch (again) {
        if (again.status !== 401) throw again;
        body = null;
        showError("That token was not accepted.");
      }
      if (!body) {
        fill($("summary-title"), "A read token is needed");
        fill($("state-body"), h("p", { class: "empty" }, "Paste the read token above to see the state."));
        fill($("timeline-body"));
        $("main").setAttribute("aria-busy", "false");
        return false;
      }
    }
    page.negotiations = body.negotiations || [];
    if (page.slug && !page.negotiations.some((n) => n.negotiation === page.slug)) {
      const named = await unlisted(page.slug);
      if (named) page.negotiations = [named, ...page.negotiations];
    }
    const select = $("negotiation");
    fill(select, page.negotiations.map((n) =>
      h("option", { value: n.negotiation },
        `${n.title} — ${n.event_count} event${n.event_count === 1 ? "" : "s"}`)));
    if (!page.negotiations.length) {
      fill(select, h("option", { value: "" }, "No negotiations yet"));
      fill($("summary"), h("h2", { id: "summary-title" }, "No negotiations yet"),
        h("p", {}, "Load one with ", h("code", {}, "parley load FILE"), ", or open one with ",
          h("code", {}, "POST /negotiations"), " (see ", h("a", { href: "/docs" }, "the API docs"), ")."));
      fill($("state-body"), h("p", { class: "empty" }, "Nothing to show."));
      fill($("timeline-body"), h("p", { class: "empty" }, "Nothing to show."));
      $("main").setAttribute("aria-busy", "false");
      return false;
    }
    if (!page.negotiations.some((n) => n.negotiation === page.slug)) {
      if (page.slug) showError(`There is no negotiation "${page.slug}"; showing the first one.`, "url");
      page.slug = page.negotiations[0].negotiation;
      writeUrl("replace");
    }
    return true;
  }

  async function loadSummary() {
    const summary = await api(slugPath());
    page.summary = summary;
    renderSummary(summary);
    const option = [...$("negotiation").options].find((o) => o.value === summary.negotiation);
    if (option) {
      option.textContent = `${summary.title} — ${summary.event_count} event${summary.event_count === 1 ? "" : "s"}`;
    }
    syncScrubber();
  }

  async function loadView() {
    const seq = ++page.loadSeq;
    $("main").setAttribute("aria-busy", "true");
    try {
      const state = await api(`${slugPath()}/state${queryString([
        ["as_of", page.asOf], ["known_at", page.knownAt], ["reported_at", page.reportedAt]])}`);
      if (seq === page.loadSeq) tellCharts(state); // they need its clocks, not the timeline
      // The timeline at the state's own known_at: both answers from the same prefix of
      // the log, even if an event is recorded in between.
      const timeline = await api(`${slugPath()}/timeline${queryString([
        ["to", page.asOf], ["known_at", page.knownAt || state.known_at],
        ["reported_at", page.reportedAt || state.reported_at], ["latest", TIMELINE_SHOWN]])}`);
      if (seq !== page.loadSeq) return; // a newer request has been made
      if (page.errorFrom === "view") showError("");
      renderState(state, timeline);
      renderTimeline(timeline);
      renderRepeat(state, timeline);
      announce(state);
    } catch (error) {
      if (seq !== page.loadSeq) return;
      if (error.status === 401) return needToken("This server needs a read token to read.");
      const fields = error.problem && error.problem.errors;
      showError(fields && fields.length
        ? fields.map((f) => `${f.field}: ${f.message}`).join("; ")
        : `Could not load the state: ${error.message}`);
    } finally {
      if (seq === page.loadSeq) $("main").setAttribute("aria-busy", "false");
    }
  }

  function announce(state) {
    const n = (list, word) => `${list.length} ${word}${list.length === 1 ? "" : "s"}`;
    fill($("announce"), `State as of ${page.asOf || "now"}: ${n(state.rounds, "round")}, ` +
      `${n(state.proposals, "proposal")}, ${n(state.security_zones, "security zone")}, ` +
      `${n(state.contested, "contested claim")}.`);
  }

  // --- Rendering ----------------------------------------------------------------------------

  function renderSummary(n) {
    fill($("summary"),
      h("h2", { id: "summary-title" }, n.title),
      h("dl", { class: "facts" },
        fact("Parties", actors(n.parties)),
        n.mediators && n.mediators.length ? fact("Mediators", actors(n.mediators)) : null,
        fact("Events", String(n.event_count)),
        fact("Opened", when(n.opened_at)),
        fact("Last event", when(n.last_occurred_at && n.last_occurred_at.slice(0, 10))),
        fact("Slug", h("code", {}, n.negotiation))));
  }

  function fact(term, ...value) {
    return h("div", {}, h("dt", {}, term), h("dd", {}, value));
  }

  function table(id, title, columns, rows, emptyText, note) {
    const headingId = `${id}-title`;
    return h("section", { class: "block", id, "aria-labelledby": headingId },
      h("h3", { id: headingId }, title, rows.length ? h("span", { class: "count" }, String(rows.length)) : null),
      note || null,
      rows.length
        ? h("div", { class: "table-wrap" },
          h("table", {},
            h("caption", { class: "visually-hidden" }, title),
            h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rows)))
        : h("p", { class: "empty" }, emptyText));
  }

  function renderState(state, timeline) {
    const byId = new Map(timeline.events.map((e) => [e.id, e]));
    const none = `None as of ${page.asOf || "now"}${page.knownAt ? `, as known at ${page.knownAt}` : ""}.`;
    const rounds = state.rounds.map((r) => h("tr", {},
      h("th", { scope: "row" }, `Round ${r.round}`),
      h("td", {}, badge(r.status)),
      h("td", {}, when(r.starts_at)),
      h("td", {}, place(r.place)),
      h("td", {}, r.host ? actor(r.host) : h("span", { class: "muted" }, "not announced"))));
    const proposals = state.proposals.map((p) => h("tr", {},
      h("td", { class: "nowrap" }, when(p.made_at)),
      h("td", {}, actor(p.proposer), p.addressees && p.addressees.length ? [" → ", actors(p.addressees)] : null),
      h("th", { scope: "row" }, p.subject,
        h("p", { class: "detail" }, p.summary),
        p.answers && p.answers.length
          ? h("ul", { class: "answers" }, p.answers.map((a) => h("li", {},
            actor(a.responder), `: ${a.response}`, a.summary ? ` — ${a.summary}` : null)))
          : null,
        h("p", { class: "detail" }, h("code", { class: "id" }, p.proposal_id))),
      h("td", {}, badge(p.status))));
    const zones = state.security_zones.map((z) => h("tr", {},
      h("th", { scope: "row" }, regions(z.regions)),
      h("td", {}, actor(z.declared_by)),
      h("td", {}, badge(z.status)),
      h("td", {}, z.depth_km ? `${z.depth_km} km` : h("span", { class: "muted" }, "not given")),
      h("td", {}, when(z.declared_at))));
    const ceasefires = state.ceasefires.map((c) => h("tr", {},
      h("th", { scope: "row" }, when(c.occurred_at)),
      h("td", {}, badge(c.status)),
      h("td", {}, c.proposer ? ["proposed by ", actor(c.proposer)] : null,
        c.parties && c.parties.length ? [c.proposer ? "; " : "", "parties ", actors(c.parties)] : null),
      h("td", {}, c.scope && c.scope.length ? regions(c.scope) : h("span", { class: "muted" }, "not given")),
      h("td", {},
        c.effective_from ? ["from ", when(c.effective_from)] : null,
        c.effective_until ? [" until ", when(c.effective_until)] : null,
        c.duration ? ` for ${c.duration}` : null,
        c.conditions && c.conditions.length
          ? h("ul", { class: "conditions" }, c.conditions.map((x) => h("li", {}, x))) : null),
      h("td", { class: "in-force" }, inForce(c.in_force, c.not_in_force),
        c.lifted ? h("p", { class: "detail" }, `${c.lifted.mode} by `, actor(c.lifted.by), " on ",
          when(c.lifted.occurred_at), c.lifted.reason ? `: ${c.lifted.reason}` : null) : null),
      h("td", {}, allegationList(c.allegations))));
    const agreements = (state.agreements || []).map((a) => h("tr", { id: `agreement-${a.agreement_id}` },
      h("th", { scope: "row" }, a.title,
        h("p", { class: "detail" }, a.kind.replace(/_/g, " "), a.place ? [", ", place(a.place)] : null,
          a.text_url && safeUrl(a.text_url)
            ? [" · ", h("a", { href: safeUrl(a.text_url), rel: "noopener noreferrer" }, "text")] : null),
        h("p", { class: "detail" }, h("code", { class: "id" }, a.agreement_id))),
      h("td", {}, badge(a.status), a.in_force ? [" ", inForce(true)] : null,
        a.terminated ? h("p", { class: "detail" }, a.terminated.by ? [actor(a.terminated.by), ": "] : null,
          a.terminated.reason,
          a.terminated.superseded_by ? [" (superseded by ", h("code", {}, a.terminated.superseded_by), ")"] : null) : null,
        a.ratified_by.length ? h("p", { class: "detail" }, "ratified by ", actors(a.ratified_by)) : null,
        a.suspended_by.length ? h("p", { class: "detail" }, "suspended by ", actors(a.suspended_by)) : null),
      h("td", {}, h("p", {}, "parties ", actors(a.parties)),
        a.signatories.length
          ? h("ul", { class: "signatories" }, a.signatories.map((x) => h("li", {},
            actor(x.actor), x.on_behalf_of ? [" for ", actor(x.on_behalf_of)] : null)))
          : null,
        a.witnesses.length ? h("p", { class: "detail" }, "witnesses ", actors(a.witnesses)) : null,
        a.guarantors.length ? h("p", { class: "detail" }, "guarantors ", actors(a.guarantors)) : null),
      h("td", {}, a.provisions.length
        ? h("ol", { class: "provisions" }, a.provisions.map((p) => h("li", {},
          h("code", { class: "id" }, p.id), " ", h("em", {}, p.topic.replace(/_/g, " ")), ": ", p.text,
          p.implemented.length
            ? h("ul", { class: "implemented" }, p.implemented.map((i) => h("li", {},
              badge("implemented"), " ", when(i.occurred_at), " by ", actors(i.by), ": ", i.summary)))
            : h("span", { class: "muted" }, " (not implemented)"))))
        : h("span", { class: "muted" }, "none given"),
        a.allegations.length ? [h("p", { class: "detail" }, "Alleged violations:"), allegationList(a.allegations)] : null)));
    const allegations = (state.allegations || []).map((a) => h("tr", {},
      h("th", { scope: "row" }, when(a.occurred_at), a.occurred_until ? [" – ", when(a.occurred_until)] : null),
      h("td", {}, actor(a.accuser), " accuses ", actors(a.accused)),
      h("td", {}, a.ceasefire ? ["ceasefire ", eventLink(a.ceasefire, a.ceasefire.slice(0, 8))] : null,
        a.ceasefire && a.agreement_id ? "; " : null,
        a.agreement_id ? ["agreement ", h("code", {}, a.agreement_id)] : null),
      h("td", {}, a.kind ? [h("em", {}, a.kind.replace(/_/g, " ")), " "] : null,
        a.regions.length ? regions(a.regions) : null, h("p", { class: "detail" }, a.summary)),
      h("td", {}, disputeList(a.disputes))));
    const hostilities = (state.hostilities || []).map((x) => h("tr", {},
      h("th", { scope: "row" }, when(x.occurred_at), x.occurred_until ? [" – ", when(x.occurred_until)] : null),
      h("td", {}, actors(x.parties)),
      h("td", {}, h("em", {}, x.kind.replace(/_/g, " ")), " ", x.regions.length ? regions(x.regions) : null,
        h("p", { class: "detail" }, x.summary)),
      h("td", {}, disputeList(x.disputes))));
    const contested = state.contested.map((c) => {
      const claim = byId.get(c.event_id);
      return h("tr", {},
        h("th", { scope: "row" }, claim
          ? [h("a", { href: `#ev-${c.event_id}` }, humanType(claim.type)), h("p", { class: "detail" }, describe(claim))]
          : h("code", { class: "id" }, c.event_id)),
        h("td", {}, actor(c.disputed_by)),
        h("td", {}, h("q", {}, c.counter_claim)),
        h("td", {}, when(c.disputed_at)));
    });
    const delegations = Object.values(state.delegations || {}).map((d) => h("tr", {},
      h("th", { scope: "row" }, actor(d.party)),
      h("td", {}, actor(d.head)),
      h("td", {}, d.members && d.members.length ? actors(d.members) : h("span", { class: "muted" }, "—")),
      h("td", {}, when(d.named_at))));
    const documents = (state.documents || []).map((d) => h("tr", {},
      h("th", { scope: "row" }, d.title),
      h("td", {}, actor(d.from || d.sender), " → ", actor(d.to || d.recipient)),
      h("td", {}, d.round ? `round ${d.round}` : "—"),
      h("td", {}, when(d.exchanged_at || d.occurred_at))));

    fill($("state-title"), "State as of ", h("span", { class: "echo" }, page.asOf || "now"),
      page.knownAt ? [", known at ", h("span", { class: "echo" }, page.knownAt)] : null,
      page.reportedAt ? [", as reported by ", h("span", { class: "echo" }, page.reportedAt)] : null);
    fill($("state-body"),
      h("p", { class: "lede" }, `Folded from ${state.event_count} event${state.event_count === 1 ? "" : "s"}`,
        state.position ? [" up to log position ", h("strong", {}, String(state.position))] : null, "."),
      table("rounds", "Rounds", ["Round", "Status", "Starts", "Place", "Host"], rounds, none),
      table("proposals", "Proposals", ["Made", "Proposer → addressee", "Subject", "Status"], proposals, none),
      table("zones", "Security zones", ["Regions", "Declared by", "Status", "Depth", "Declared"], zones, none),
      table("agreements", "Agreements", ["Agreement", "Status", "Parties and signatories", "Provisions"], agreements, none),
      table("ceasefires", "Ceasefires", ["Since", "Status", "Who", "Scope", "Terms", "In force", "Alleged violations"], ceasefires, none),
      table("allegations", "Alleged violations", ["When", "Who accuses whom", "Of violating", "What and where", "Disputed"], allegations, none,
        h("p", { class: "help" }, "Sourced claims: a denial is a dispute, shown beside the claim.")),
      table("hostilities", "Hostilities reported", ["When", "Parties", "What and where", "Disputed"], hostilities, none),
      table("contested", "Contested claims", ["Claim", "Disputed by", "Counter-claim", "Disputed"], contested, none,
        h("p", { class: "help" }, "A dispute never hides an event: the claim stays in the state, marked as contested.")),
      table("delegations", "Delegations", ["Party", "Head", "Members", "Named"], delegations, none),
      documents.length
        ? table("documents", "Documents", ["Title", "From → to", "Round", "Exchanged"], documents, none)
        : null);
  }

  // Whether a ceasefire or an agreement is in force at as_of, and why not.
  function inForce(yes, why) {
    return yes ? badge("in force", "in-force") : badge(why ? `not in force: ${why.replace(/_/g, " ")}` : "not in force", "not-in-force");
  }

  function disputeList(disputes) {
    if (!disputes || !disputes.length) return h("span", { class: "muted" }, "—");
    return h("ul", { class: "disputes" }, disputes.map((d) => h("li", {},
      badge("disputed"), " by ", actor(d.disputed_by), ": ", h("q", {}, d.counter_claim))));
  }

  function allegationList(list) {
    if (!list || !list.length) return h("span", { class: "muted" }, "none");
    return h("ul", { class: "allegations" }, list.map((a) => h("li", {},
      when(a.occurred_at), ": ", actor(a.accuser), " accuses ", actors(a.accused),
      a.kind ? [" of ", a.kind.replace(/_/g, " ")] : null,
      a.regions.length ? [" in ", regions(a.regions)] : null,
      a.disputes.length ? [" ", disputeList(a.disputes)] : null)));
  }

  function sourceItem(s) {
    // A redacted url reads "[redacted]": no link (resolved, it would point at this site).
    const href = s.url && s.url !== "[redacted]" && safeUrl(s.url);
    return h("li", { class: "source" },
      href ? h("a", { href, rel: "noopener noreferrer" }, s.outlet || href) : h("span", { class: "outlet" }, s.outlet || "source"),
      s.via && s.via.length ? h("span", { class: "via" }, " via ", s.via.join(" ← ")) : null,
      s.published_at ? [", ", when(s.published_at)] : null,
      s.attributed_to ? [", attributed to ", actor(s.attributed_to)] : null,
      s.quote ? h("q", { class: "quote" }, s.quote) : null);
  }

  // Who recorded an event: the name of the token that appended it, when one is stored.
  function recordedBy(e) {
    return e.recorded_by ? [" by ", h("span", { class: "recorded-by" }, e.recorded_by)] : null;
  }

  function timelineItem(e) {
    const flags = [];
    if (e.disputed_by && e.disputed_by.length) flags.push(badge("disputed", "disputed"));
    if (e.corrected_by && e.corrected_by.length) flags.push(badge("corrected", "corrected"));
    if (e.retracted_by) flags.push(badge("retracted", "retracted"));
    const coded = codeBadge(e.coding);
    const until = e.occurred_until && e.occurred_until !== e.occurred_at;
    return h("li", { id: `ev-${e.id}`, class: e.retracted_by ? "entry retracted" : "entry" },
      h("div", { class: "entry-when" }, when(e.occurred_at), until ? [" – ", when(e.occurred_until)] : null),
      h("div", { class: "entry-body" },
        h("p", { class: "entry-head" }, h("span", { class: "type" }, humanType(e.type)), flags, coded),
        h("p", { class: "entry-text" }, describe(e)),
        (e.disputed_by || []).map((d) => h("p", { class: "dispute" },
          "Disputed by ", actor(d.disputed_by), ": ", h("q", {}, d.counter_claim))),
        e.corrected_by && e.corrected_by.length
          ? h("p", { class: "note" }, "Corrected (shown as corrected) by ", join(e.corrected_by.map((id) => h("code", { class: "id" }, id.slice(0, 8)))))
          : null,
        e.retracted_by ? h("p", { class: "note" }, "Retracted by ", h("code", { class: "id" }, e.retracted_by.slice(0, 8)), ": it no longer counts in the state.") : null,
        h("ul", { class: "sources", "aria-label": "Sources" }, (e.sources || []).map(sourceItem)),
        h("p", { class: "entry-meta" },
          `position ${e.position} · recorded `, when(e.recorded_at), recordedBy(e), " · ",
          h("a", { href: `/events/${encodeURIComponent(e.id)}` }, "JSON"))));
  }

  // The event's CAMEO code and PLOVER category (GET /events/{id} has them too).
  function codeBadge(coding) {
    if (!coding || !coding.cameo) return null;
    const plover = coding.plover && coding.plover.event
      ? [coding.plover.event, coding.plover.mode].filter(Boolean).join(" / ") : "no PLOVER category";
    return h("span", { class: "badge badge-code", title: `CAMEO ${coding.cameo}: ${coding.cameo_label}; PLOVER: ${plover}` },
      `CAMEO ${coding.cameo}`, coding.plover && coding.plover.event ? ` · ${coding.plover.event}` : null);
  }

  function renderTimeline(timeline) {
    const shown = timeline.events;
    const total = timeline.total ?? shown.length;
    fill($("timeline-title"), "Timeline up to ", h("span", { class: "echo" }, page.asOf || "now"),
      page.knownAt ? [", known at ", h("span", { class: "echo" }, page.knownAt)] : null);
    fill($("timeline-body"),
      total > shown.length
        ? h("p", { class: "help" }, `Showing the latest ${shown.length} of ${total} events.`)
        : null,
      shown.length
        ? h("ol", { class: "timeline-list" }, shown.map(timelineItem))
        : h("p", { class: "empty" }, `No events up to ${page.asOf || "now"}${page.knownAt ? ` as known at ${page.knownAt}` : ""}.`));
  }

  function codeBlock(id, text, label) {
    const copy = navigator.clipboard
      ? h("button", {
        type: "button", class: "quiet copy", "aria-label": `Copy the ${label}`,
        onclick: (ev) => {
          navigator.clipboard.writeText(text).then(
            () => { ev.target.textContent = "Copied"; setTimeout(() => { ev.target.textContent = "Copy"; }, 1500); },
            () => { ev.target.textContent = "Select it to copy"; });
        },
      }, "Copy")
      : null;
    return h("div", { class: "copyable" },
      h("div", { class: "copy-head" }, h("span", {}, label), copy),
      h("pre", { tabindex: "0", "aria-label": label }, h("code", { id }, text)));
  }

  function renderRepeat(state, timeline) {
    const origin = location.origin;
    const auth = page.needsToken ? ' -H "Authorization: Bearer $PARLEY_READ_TOKEN"' : "";
    const stateUrl = `${origin}${slugPath()}/state` +
      queryString([["as_of", state.as_of], ["known_at", state.known_at], ["reported_at", state.reported_at]]);
    const timelineUrl = `${origin}${slugPath()}/timeline` +
      queryString([["to", timeline.to], ["known_at", timeline.known_at], ["reported_at", timeline.reported_at]]);
    const pinned = location.pathname + queryString([
      ["negotiation", page.slug], ["as_of", page.asOf || state.as_of], ["known_at", state.known_at],
      ["reported_at", state.reported_at],
    ]);
    fill($("repeat-body"),
      h("dl", { class: "echoed" },
        fact("as_of", h("code", { id: "echo-as-of" }, state.as_of)),
        fact("known_at", h("code", { id: "echo-known-at" }, state.known_at)),
        fact("reported_at", h("code", { id: "echo-reported-at" }, state.reported_at)),
        fact("position", h("code", { id: "echo-position" }, state.position == null ? "none (no event yet)" : String(state.position)))),
      h("p", { class: "help" }, "The answer echoes the instants it used. The same request, later, gives the same answer:"),
      codeBlock("curl-state", `curl -s${auth} '${stateUrl}'`, "state"),
      codeBlock("curl-timeline", `curl -s${auth} '${timelineUrl}'`, "timeline"),
      h("p", { class: "help", id: "exports" }, "Export these events, coded, as of the same moment: ",
        join(["csv", "plover", "ndjson"].map((format) => h("a", {
          href: `${slugPath()}/export` + queryString([["format", format], ["as_of", state.as_of], ["known_at", state.known_at], ["reported_at", state.reported_at]]),
        }, format.toUpperCase())), " · ")),
      h("p", {}, h("a", { href: pinned, id: "permalink" }, "Link to this exact view"),
        " (every clock pinned, so later events do not change it)."));
  }

  // --- The valid-time scrubber ------------------------------------------------------------

  const dayOf = (iso) => Date.parse(`${iso.slice(0, 10)}T00:00:00Z`);
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

  function scrubRange() {
    const s = page.summary;
    if (!s || !s.opened_at || !s.last_occurred_at) return null;
    const min = dayOf(s.opened_at);
    const max = dayOf(s.last_occurred_at);
    return Number.isNaN(min) || Number.isNaN(max) || max <= min ? null : { min, max };
  }

  function syncScrubber() {
    const range = scrubRange();
    $("scrub").hidden = !range;
    if (!range) return;
    const slider = $("scrubber");
    slider.max = String(Math.round((range.max - range.min) / DAY));
    const at = page.asOf && /^\d{4}-\d{2}-\d{2}/.test(page.asOf) ? dayOf(page.asOf) : range.max;
    const clamped = Math.min(Math.max(at, range.min), range.max);
    slider.value = String(Math.round((clamped - range.min) / DAY));
    slider.setAttribute("aria-valuetext", page.asOf || `now (latest event ${isoDay(range.max)})`);
    fill($("scrub-min"), `opened ${isoDay(range.min)}`);
    fill($("scrub-max"), `latest event ${isoDay(range.max)}`);
  }

  // --- Live: the SSE stream of this negotiation -------------------------------------------

  function setLive(status, kind) {
    const pill = $("live-status");
    pill.textContent = status;
    pill.className = `pill pill-${kind || "off"}`;
  }

  function stopLive(status) {
    if (page.source) page.source.close();
    page.source = null;
    setLive(status || "off", "off");
  }

  // The log's head, read before the view so that the stream can follow from it: an event
  // recorded while the view loads is then in the view, in the stream, or in both.
  async function logHead() {
    try {
      return (await api("/health")).position || 0;
    } catch {
      return 0; // replaying from the start is slower, not wrong
    }
  }

  // Follow from ``after``: the head read before the view, or an overflow's resume_after.
  function startLive(after, resumed = false) {
    stopLive("connecting…");
    if (page.needsToken || !window.EventSource) {
      if (!window.EventSource) setLive("unsupported", "off");
      return;
    }
    const slug = page.slug;
    if (!resumed) {
      page.live = [];
      fill($("live-list"));
    }
    setLive("connecting…", "wait");
    const source = new EventSource(`/events/stream${queryString([["negotiation", slug], ["after", String(after)]])}`);
    page.source = source;
    source.onopen = () => setLive("live", "on");
    source.onerror = () => {
      if (page.source !== source) return;
      setLive(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting…", "wait");
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        if (page.source !== source) return;
        received(JSON.parse(message.data));
      });
    }
    source.addEventListener("heartbeat", () => {
      if (page.source === source) setLive("live", "on");
    });
    source.addEventListener("overflow", (message) => {
      // Too far behind: the server ends the stream; resume where it says.
      if (page.source !== source) return;
      startLive(JSON.parse(message.data).resume_after, true);
    });
  }

  function received(event) {
    page.live.unshift(event);
    page.live.length = Math.min(page.live.length, LIVE_KEPT);
    const list = $("live-list");
    list.prepend(h("li", { class: "live-item" },
      h("p", { class: "entry-head" }, h("span", { class: "type" }, humanType(event.type)),
        h("span", { class: "muted" }, ` #${event.position}`)),
      h("p", {}, describe(event)),
      h("p", { class: "entry-meta" }, "occurred ", when(event.occurred_at), " · recorded ", when(event.recorded_at), recordedBy(event))));
    while (list.children.length > LIVE_KEPT) list.lastElementChild.remove();
    if (page.knownAt) {
      fill($("live-note"), "known_at is pinned, so new events do not change the view. Clear it (Now) to include them.");
    }
    document.dispatchEvent(new CustomEvent("parley:received", { detail: event }));
    clearTimeout(page.refreshTimer);
    page.refreshTimer = setTimeout(() => {
      loadSummary().catch(() => {});
      loadView();
    }, 300);
  }

  // --- Search: this negotiation's events, by words, actor, region or outlet -----------------

  const search = { path: "", seq: 0, shown: [] };

  function searchItem(e) {
    return h("li", { class: "entry" },
      h("div", { class: "entry-when" }, when(e.occurred_at)),
      h("div", { class: "entry-body" },
        h("p", { class: "entry-head" }, h("span", { class: "type" }, humanType(e.type))),
        h("p", { class: "entry-text" }, describe(e)),
        (e.sources || []).filter((s) => s.quote).map((s) => h("p", { class: "note" }, h("q", {}, s.quote))),
        h("p", { class: "entry-meta" }, `version ${e.version} · `,
          h("a", { href: `#ev-${e.id}` }, "in the timeline"), " · ",
          h("a", { href: `/events/${encodeURIComponent(e.id)}` }, "JSON"))));
  }

  function showSearchError(message) {
    $("search-error").hidden = !message;
    fill($("search-error"), message || "");
  }

  // The first page of a search (``more`` false), or the next one after those shown.
  async function runSearch(more) {
    const seq = ++search.seq;
    if (!more) {
      const text = $("search-text").value.trim();
      search.shown = [];
      if (!text || !page.slug) {
        search.path = "";
        showSearchError("");
        fill($("search-body"));
        return;
      }
      search.path = `${slugPath()}/events${queryString([
        [$("search-by").value, text], ["as_of", page.asOf], ["known_at", page.knownAt], ["limit", "50"]])}`;
    }
    try {
      const body = await api(search.path);
      if (seq !== search.seq) return; // a newer search has been made
      showSearchError("");
      search.shown = search.shown.concat(body.events);
      search.path = body.next || "";
      const n = search.shown.length;
      fill($("search-body"),
        h("p", { class: "help", role: "status" }, n
          ? `${n}${search.path ? " or more" : ""} event${n === 1 ? "" : "s"} found.`
          : "No event found."),
        n ? h("ol", { class: "timeline-list" }, search.shown.map(searchItem)) : null,
        search.path ? h("button", { type: "button", class: "quiet", onclick: () => runSearch(true) }, "More") : null);
    } catch (error) {
      if (seq !== search.seq) return;
      const fields = error.problem && error.problem.errors;
      showSearchError(fields && fields.length
        ? fields.map((f) => `${f.field}: ${f.message}`).join("; ")
        : `Could not search: ${error.message}`);
    }
  }

  // --- The charts' bridge (api/static/charts.js draws them) ---------------------------------
  // Each view shown is told to the charts ("parley:view"); a chart sets the page's clocks
  // back ("parley:set-as-of", "parley:set-known-at"): while a line is dragged the view
  // follows, and where it is let go the URL records it.

  function tellCharts(state) {
    document.dispatchEvent(new CustomEvent("parley:view", {
      detail: {
        slug: page.slug, asOf: page.asOf, knownAt: page.knownAt, reportedAt: page.reportedAt, state,
        token: page.needsToken ? page.token : "",
      },
    }));
  }

  function setClock(key, value, final) {
    if (key === "asOf") {
      page.asOf = value;
      $("as-of").value = /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : "";
    } else if (key === "reportedAt") {
      page.reportedAt = value;
      $("reported-at").value = knownAtInput(value);
    } else {
      page.knownAt = value;
      $("known-at").value = knownAtInput(value);
    }
    clearTimeout(page.chartTimer);
    if (final) changed("push");
    else page.chartTimer = setTimeout(() => { syncScrubber(); loadView(); }, 120);
  }

  document.addEventListener("parley:set-as-of", (ev) => setClock("asOf", ev.detail.asOf, ev.detail.final));
  document.addEventListener("parley:set-known-at", (ev) => setClock("knownAt", ev.detail.knownAt, ev.detail.final));
  document.addEventListener("parley:set-reported-at", (ev) => setClock("reportedAt", ev.detail.reportedAt, ev.detail.final));

  // --- Wiring -------------------------------------------------------------------------------

  function changed(mode) {
    writeUrl(mode);
    syncScrubber();
    loadView();
    if ($("search-text").value.trim()) runSearch(false); // the same slice of the log as the view
  }

  function wire() {
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      runSearch(false);
    });
    $("query").addEventListener("submit", (ev) => {
      ev.preventDefault();
      page.asOf = $("as-of").value;
      page.knownAt = $("known-at").value ? `${$("known-at").value}Z` : "";
      page.reportedAt = $("reported-at").value ? `${$("reported-at").value}Z` : "";
      changed("push");
    });
    $("negotiation").addEventListener("change", async () => {
      page.slug = $("negotiation").value;
      writeUrl("push");
      await selectNegotiation();
    });
    $("as-of").addEventListener("change", () => {
      page.asOf = $("as-of").value;
      changed("push");
    });
    $("known-at").addEventListener("change", () => {
      const value = $("known-at").value;
      page.knownAt = value ? `${value}Z` : "";
      changed("push");
    });
    $("reported-at").addEventListener("change", () => {
      const value = $("reported-at").value;
      page.reportedAt = value ? `${value}Z` : "";
      changed("push");
    });
    $("reported-at-now").addEventListener("click", () => {
      page.reportedAt = "";
      $("reported-at").value = "";
      changed("push");
    });
    $("as-of-now").addEventListener("click", () => {
      page.asOf = "";
      $("as-of").value = "";
      changed("push");
    });
    $("known-at-now").addEventListener("click", () => {
      page.knownAt = "";
      $("known-at").value = "";
      fill($("live-note"), "Follows GET /events/stream: events recorded for this negotiation appear here as they arrive, and the state refreshes.");
      changed("push");
    });
    let scrubTimer = 0;
    $("scrubber").addEventListener("input", () => {
      const range = scrubRange();
      if (!range) return;
      page.asOf = isoDay(range.min + Number($("scrubber").value) * DAY);
      $("as-of").value = page.asOf;
      $("scrubber").setAttribute("aria-valuetext", page.asOf);
      clearTimeout(scrubTimer);
      scrubTimer = setTimeout(() => changed("replace"), 120);
    });
    $("token-use").addEventListener("click", () => {
      page.token = $("token").value.trim();
      sessionStorage.setItem("parley-read-token", page.token);
      start();
    });
    $("token-forget").addEventListener("click", () => {
      page.token = "";
      $("token").value = "";
      sessionStorage.removeItem("parley-read-token");
      start();
    });
    window.addEventListener("popstate", () => {
      const slug = page.slug;
      readUrl();
      syncInputs();
      if (slug !== page.slug) selectNegotiation();
      else loadView();
    });
  }

  async function selectNegotiation() {
    syncInputs();
    runSearch(false);
    const slug = page.slug;
    let head = 0;
    if (!page.needsToken) {
      stopLive("connecting…"); // the last negotiation's stream, while this one loads
      head = await logHead();
    }
    await Promise.all([loadSummary().catch(() => {}), loadView()]);
    if (!page.needsToken && slug === page.slug) startLive(head); // else a newer pick starts it
  }

  async function start() {
    page.needsToken = false;
    $("token-box").hidden = true;
    $("token").value = page.token;
    showError("");
    try {
      if (!(await loadNegotiations())) return;
    } catch (error) {
      showError(`Could not reach the API: ${error.message}`);
      $("main").setAttribute("aria-busy", "false");
      return;
    }
    await selectNegotiation();
  }

  readUrl();
  wire();
  start();
})();
