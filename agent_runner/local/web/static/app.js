// The agent-runner web view: a list of executions and one execution, both live.
//
// Every string that comes from an execution (model text, tool output, names) is
// untrusted: it goes into the page as text only (textContent, text nodes),
// never as HTML. The page's Content-Security-Policy forbids inline script and
// eval; this file is the only script.
"use strict";

(() => {
  const PAGE_BYTES = 64 * 1024; // as the server's outputs.PAGE_BYTES
  const TOKEN_KEY = "agent-runner-token";
  const FINAL = new Set(["completed", "failed", "cancelled"]);
  const MARKS = {
    pending: "○", running: "…", completed: "✓", failed: "✗", cancelled: "✗",
    "in progress": "▶",
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    token: "",
    csrf: "",
    session: null,
    rows: new Map(), // execution id -> {summary, row}
    current: null, // id of the execution shown
    detail: null,
    detailStream: null,
    output: null, // {execution, name, page}
  };

  // -- DOM helpers: text only ------------------------------------------------------

  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function setText(node, text) {
    const value = text === null || text === undefined ? "" : String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  // Keeps `container`'s children one node per item, in order, reusing nodes by key,
  // so that live updates keep what the reader opened and scrolled.
  function sync(container, items, keyOf, create, update) {
    const existing = new Map();
    for (const child of container.children) existing.set(child.dataset.key, child);
    let previous = null;
    for (const item of items) {
      const key = String(keyOf(item));
      let node = existing.get(key);
      if (node) existing.delete(key);
      else {
        node = create(item);
        node.dataset.key = key;
      }
      const signature = JSON.stringify(item);
      if (node.signature !== signature) {
        node.signature = signature;
        update(node, item);
      }
      const wanted = previous ? previous.nextSibling : container.firstChild;
      if (node !== wanted) container.insertBefore(node, wanted);
      previous = node;
    }
    for (const node of existing.values()) node.remove();
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function problem(node, message) {
    setText(node, message || "");
    show(node, Boolean(message));
  }

  // -- time ---------------------------------------------------------------------------

  function parseTime(text) {
    const value = text ? Date.parse(text) : NaN;
    return Number.isNaN(value) ? null : value;
  }

  function clock(text) {
    const time = parseTime(text);
    if (time === null) return "";
    const date = new Date(time);
    const today = new Date().toDateString() === date.toDateString();
    const hms = date.toLocaleTimeString([], { hour12: false });
    return today ? hms : `${date.toLocaleDateString()} ${hms}`;
  }

  function duration(start, end, running) {
    const first = parseTime(start);
    if (first === null) return "";
    const last = parseTime(end) ?? (running ? Date.now() : null);
    if (last === null) return "";
    const seconds = Math.max(0, (last - first) / 1000);
    if (seconds < 60) return `${seconds.toFixed(1)}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  }

  function oneLine(text, limit) {
    const flat = String(text || "").split(/\s+/).join(" ").trim();
    return flat.length <= limit ? flat : `${flat.slice(0, limit - 1)}…`;
  }

  // -- server ---------------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function headers(extra) {
    return { Authorization: `Bearer ${state.token}`, ...extra };
  }

  async function api(path, options = {}) {
    const init = { headers: headers(), ...options };
    if (options.body !== undefined) {
      init.method = "POST";
      init.body = JSON.stringify(options.body);
      init.headers = headers({ "Content-Type": "application/json", "X-CSRF-Token": state.csrf });
    }
    const response = await fetch(path, init);
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) {
      throw new HttpError(response.status, (body && body.error) || `HTTP ${response.status}`);
    }
    return body;
  }

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header).
  async function stream(path, onEvent, signal) {
    const response = await fetch(path, { headers: headers(), signal });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = (await response.json()).error || message;
      } catch (err) { /* not JSON */ }
      throw new HttpError(response.status, message);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  function connection(text, ok) {
    const node = $("connection");
    setText(node, text);
    node.classList.toggle("ok", ok);
  }

  // -- sign-in --------------------------------------------------------------------------

  function takeTokenFromUrl() {
    const match = /^#token=([^&]*)/.exec(location.hash);
    if (!match) return;
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  async function signIn() {
    state.token = localStorage.getItem(TOKEN_KEY) || "";
    if (!state.token) {
      askForToken("");
      return;
    }
    try {
      state.session = await api("/api/session");
    } catch (err) {
      if (err.status === 401) {
        localStorage.removeItem(TOKEN_KEY);
        askForToken("That token was refused.");
        return;
      }
      askForToken(err.message);
      return;
    }
    state.csrf = state.session.csrf_token;
    show($("sign-in"), false);
    show($("app"), true);
    prepareForms();
    followList();
    route();
  }

  function askForToken(message) {
    show($("app"), false);
    show($("sign-in"), true);
    problem($("sign-in-problem"), message);
  }

  // -- the list -------------------------------------------------------------------------

  async function followList() {
    for (let wait = 1000; ; wait = Math.min(wait * 2, 10000)) {
      try {
        await stream("/api/events", (event, data) => {
          if (event === "snapshot") replaceRows(data.executions);
          else if (event === "upsert") data.executions.forEach(upsertRow);
          connection("live", true);
          wait = 1000;
        });
      } catch (err) {
        if (err.status === 401) return askForToken("The token was refused.");
      }
      connection("reconnecting…", false);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  function replaceRows(executions) {
    const body = $("executions").tBodies[0];
    state.rows.clear();
    const fragment = document.createDocumentFragment();
    for (const summary of executions) fragment.append(makeRow(summary));
    body.replaceChildren(fragment);
    refreshFilters();
  }

  function makeRow(summary) {
    const row = el("tr");
    row.tabIndex = 0;
    for (let i = 0; i < 7; i++) row.append(el("td"));
    row.cells[0].append(el("span", "phase"));
    row.cells[3].className = "mono";
    row.addEventListener("click", () => openExecution(row.dataset.id));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") openExecution(row.dataset.id);
    });
    row.dataset.id = summary.id;
    state.rows.set(summary.id, { summary, row });
    fillRow(row, summary);
    return row;
  }

  function fillRow(row, s) {
    const badge = row.cells[0].firstChild;
    setText(badge, s.phase);
    badge.className = `phase ${s.phase}`;
    setText(row.cells[1], s.agent);
    setText(row.cells[2], oneLine(s.subject, 80));
    row.cells[2].title = s.subject;
    setText(row.cells[3], s.session);
    setText(row.cells[4], clock(s.started || s.created));
    setText(row.cells[5], duration(s.started, s.completed, s.phase === "running"));
    setText(row.cells[6], shortModel(s.model));
    row.cells[6].title = s.model;
    row.classList.toggle("selected", s.id === state.current);
    row.hidden = !matchesFilters(s);
  }

  // `scripted:/a/long/path/turns.yaml` reads as `scripted:turns.yaml` in a narrow column.
  function shortModel(model) {
    return String(model || "").replace(/^([\w-]+:)?.*\/([^/]+)$/, "$1$2");
  }

  function upsertRow(summary) {
    const known = state.rows.get(summary.id);
    if (known) {
      known.summary = summary;
      fillRow(known.row, summary);
    } else {
      $("executions").tBodies[0].prepend(makeRow(summary));
    }
    refreshFilters();
  }

  function matchesFilters(s) {
    const agent = $("filter-agent").value;
    const session = $("filter-session").value.trim();
    const phase = $("filter-phase").value;
    return (!agent || s.agent === agent)
      && (!session || s.session.includes(session))
      && (!phase || s.phase === phase);
  }

  function refreshFilters() {
    const select = $("filter-agent");
    const agents = new Set([...state.rows.values()].map((r) => r.summary.agent));
    for (const agent of (state.session ? state.session.agents : [])) agents.add(agent.slug);
    const have = new Set([...select.options].map((o) => o.value));
    for (const agent of [...agents].sort()) {
      if (!have.has(agent)) select.append(el("option", null, agent));
    }
    let shown = 0;
    for (const { summary, row } of state.rows.values()) {
      row.hidden = !matchesFilters(summary);
      if (!row.hidden) shown += 1;
    }
    setText($("list-count"), `${shown} of ${state.rows.size} executions`);
  }

  function tick() {
    for (const { summary, row } of state.rows.values()) {
      if (summary.phase === "running") {
        setText(row.cells[5], duration(summary.started, summary.completed, true));
      }
    }
    const d = state.detail;
    if (d) setText($("x-duration"), duration(d.started, d.completed, d.phase === "running"));
  }

  // -- routing --------------------------------------------------------------------------

  function openExecution(id) {
    location.hash = `#/executions/${encodeURIComponent(id)}`;
  }

  function route() {
    const match = /^#\/executions\/([^/]+)$/.exec(location.hash);
    if (match) return showExecution(decodeURIComponent(match[1]));
    if (location.hash === "#/new") return showNewRun();
    return showEmpty();
  }

  function showPane(name) {
    show($("empty"), name === "empty");
    show($("new-run"), name === "new");
    show($("execution"), name === "execution");
  }

  function showEmpty() {
    stopDetail();
    showPane("empty");
  }

  // -- new run --------------------------------------------------------------------------

  function prepareForms() {
    const agents = $("run-agent");
    agents.replaceChildren();
    for (const agent of state.session.agents) {
      const option = el("option", null, agent.slug === agent.name ? agent.slug : `${agent.slug} (${agent.name})`);
      option.value = agent.slug;
      agents.append(option);
    }
    if (state.session.agents.some((a) => a.slug === "demo")) agents.value = "demo"; // as `run`
    describeAgent();
    $("run-model").placeholder = `default: ${state.session.default_model}`;
    $("continue-model").placeholder = `default: ${state.session.default_model}`;
  }

  function describeAgent() {
    const found = state.session.agents.find((a) => a.slug === $("run-agent").value);
    setText($("run-agent-description"), found ? found.description : "");
  }

  function showNewRun(session) {
    stopDetail();
    showPane("new");
    if (session !== undefined) $("run-session").value = session;
    problem($("run-problem"), "");
    $("run-message").focus();
  }

  async function startRun(body, problemNode) {
    problem(problemNode, "");
    try {
      const started = await api("/api/runs", { body });
      openExecution(started.execution_id);
      return true;
    } catch (err) {
      problem(problemNode, err.message);
      return false;
    }
  }

  // -- one execution --------------------------------------------------------------------

  function stopDetail() {
    if (state.detailStream) state.detailStream.abort();
    state.detailStream = null;
    state.current = null;
    state.detail = null;
    for (const { summary, row } of state.rows.values()) fillRow(row, summary);
  }

  async function showExecution(id) {
    stopDetail();
    state.current = id;
    for (const { summary, row } of state.rows.values()) fillRow(row, summary);
    showPane("execution");
    $("x-messages").replaceChildren();
    problem($("x-action-problem"), "");
    setText($("x-cancel"), "Cancel");
    $("x-cancel").disabled = false;
    const controller = new AbortController();
    state.detailStream = controller;
    for (let wait = 1000; state.current === id; wait = Math.min(wait * 2, 10000)) {
      let ended = false;
      try {
        await stream(`/api/executions/${encodeURIComponent(id)}/events`, (event, data) => {
          if (event === "detail" && state.current === id) renderDetail(data);
          if (event === "end") ended = true;
          wait = 1000;
        }, controller.signal);
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err.status === 404) {
          problem($("x-action-problem"), err.message);
          return;
        }
      }
      if (ended || controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  function renderDetail(d) {
    state.detail = d;
    const phase = $("x-phase");
    setText(phase, d.phase);
    phase.className = `phase ${d.phase}`;
    setText($("x-id"), d.id);
    setText($("x-agent"), d.agent);
    setText($("x-session"), d.session);
    setText($("x-model"), d.model);
    setText($("x-started"), clock(d.started || d.created));
    setText($("x-duration"), duration(d.started, d.completed, d.phase === "running"));
    const temporal = $("x-temporal");
    const safeLink = typeof d.temporal_url === "string" && /^https?:\/\//.test(d.temporal_url);
    if (safeLink) temporal.href = d.temporal_url;
    show(temporal, safeLink);
    show($("x-cancel"), !FINAL.has(d.phase));
    problem($("x-error"), d.error ? `error: ${d.error}` : "");
    renderMessages(d);
    renderTodos(d.todos);
    renderTimeline(d);
    renderEnvironment(d);
    sync($("x-skills"), d.skills, (s) => s.slug, () => el("li"), (node, s) => {
      node.replaceChildren(el("b", null, s.name), " ", el("span", "muted", s.description));
    });
  }

  function renderMessages(d) {
    const calls = new Map(d.tool_calls.map((c) => [c.id, c]));
    const subagents = new Map(d.subagents.map((s) => [s.id, s]));
    let messages = d.messages;
    if (!messages.length && d.message) {
      messages = [{ type: "human", content: d.message, time: d.created, tool_calls: [] }];
    }
    const items = messages.map((m, index) => ({
      index,
      message: m,
      calls: m.tool_calls.map((id) => calls.get(id)).filter(Boolean),
      subagents: m.tool_calls.map((id) => subagents.get(id)).filter(Boolean),
    }));
    sync($("x-messages"), items, (item) => item.index, createMessage, updateMessage);
  }

  function createMessage(item) {
    const node = el("div", `message ${item.message.type}`);
    node.append(el("div", "who"), el("div", "text"), el("div", "calls"));
    return node;
  }

  const WHO = { human: "you", ai: "agent", tool: "tool", system: "note" };

  function updateMessage(node, item) {
    const [who, text, calls] = node.children;
    setText(who, `${WHO[item.message.type] || item.message.type} · ${clock(item.message.time)}`);
    setText(text, item.message.content);
    show(text, Boolean(item.message.content));
    const subagents = new Map(item.subagents.map((s) => [s.id, s]));
    sync(
      calls,
      item.calls.map((call) => ({ call, subagent: subagents.get(call.id) || null })),
      (entry) => entry.call.id,
      () => createCall(),
      (callNode, entry) => updateCall(callNode, entry.call, entry.subagent),
    );
  }

  function argSummary(call) {
    const args = call.args || {};
    for (const key of ["command", "file_path", "path", "pattern", "description"]) {
      if (typeof args[key] === "string") return oneLine(args[key], 90);
    }
    return "";
  }

  function createCall() {
    const details = el("details", "call");
    const summary = el(
      "summary", null,
      el("span", "mark"), el("span", "name"), el("span", "arg"),
      el("span", "exit"), el("span", "took"),
    );
    const body = el(
      "div", "call-body",
      el("h4", null, "arguments"), el("pre", "args"),
      el("h4", "output-label", "output"), el("pre", "result"),
      el("div", "kept"), el("p", "error"), el("div", "subagent"),
    );
    details.append(summary, body);
    return details;
  }

  function updateCall(node, call, subagent) {
    node.classList.remove("pending", "running", "completed", "failed");
    node.classList.add(call.status);
    const [mark, name, arg, exit, took] = node.firstChild.children;
    setText(mark, MARKS[call.status] || "…");
    setText(name, call.name);
    setText(arg, argSummary(call));
    setText(exit, call.exit_code === null || call.exit_code === undefined ? "" : `exit ${call.exit_code}`);
    exit.classList.toggle("bad", Boolean(call.exit_code));
    setText(took, duration(call.started, call.completed, false));
    const body = node.lastChild;
    const [, args, outputLabel, result, kept, error, sub] = body.children;
    setText(args, JSON.stringify(call.args, null, 2));
    setText(result, call.result);
    show(outputLabel, Boolean(call.result));
    show(result, Boolean(call.result));
    renderKept(kept, call);
    problem(error, call.error ? `error: ${call.error}` : "");
    if (subagent) renderSubagent(sub, subagent);
    show(sub, Boolean(subagent));
  }

  function renderKept(container, call) {
    container.replaceChildren();
    for (const name of call.kept || []) {
      const button = el("button", "whole-output", `Whole output (${name.split(".").pop()})`);
      button.type = "button";
      button.addEventListener("click", () => openOutput(state.current, name, 0));
      container.append(button);
    }
    if (call.cut && !(call.kept || []).length) {
      container.append(el("p", "muted", "The status holds the start of this output; the rest was not kept."));
    }
  }

  function renderSubagent(container, s) {
    if (!container.firstChild) {
      container.append(
        el("div", "sub-head"), el("p", "sub-input"),
        el("div", "sub-calls"), el("p", "sub-output"), el("p", "error"),
      );
    }
    const [head, input, calls, output, error] = container.children;
    const count = `${s.tool_call_count} tool call${s.tool_call_count === 1 ? "" : "s"}`;
    const took = duration(s.started, s.completed, s.status === "running");
    setText(head, `subagent ${s.name} · ${s.status} · ${count} · ${took}`);
    setText(input, s.input);
    sync(calls, s.calls, (c) => c.id, () => createCall(), (callNode, c) => updateCall(callNode, c, null));
    setText(output, s.output ? `→ ${s.output}` : "");
    problem(error, s.error ? `error: ${s.error}` : "");
  }

  function renderTodos(todos) {
    sync($("x-todos"), todos, (t) => t.id, () => el("li", null, el("span", "mark"), el("span")), (node, t) => {
      node.className = `todo ${t.status.replace(" ", "-")}`;
      setText(node.firstChild, MARKS[t.status] || "○");
      setText(node.lastChild, t.content);
    });
    if (!todos.length) $("x-todos").replaceChildren(el("li", "muted", "none"));
  }

  function renderTimeline(d) {
    const first = d.timeline.length ? d.timeline[0].start : null;
    const origin = parseTime(d.started) ?? parseTime(first) ?? Date.now();
    const end = parseTime(d.completed) ?? Date.now();
    const span = Math.max(1, end - origin);
    // Each bar is placed on the whole run's span, which grows while it runs: every row
    // carries it, so that every bar moves when it changes.
    const steps = d.timeline.map((step) => ({ ...step, origin, runEnd: end, span }));
    const container = $("x-timeline");
    sync(container, steps, (s) => `${s.kind}:${s.id || s.start}`, () => el(
      "div", "step", el("span", "label"), el("span", "track", el("span", "bar")), el("span", "took"),
    ), (row, step) => {
      row.className = `step kind-${step.kind} ${step.status || ""}`;
      const [label, track, took] = row.children;
      setText(label, step.label);
      label.title = step.label;
      const from = (parseTime(step.start) ?? step.origin) - step.origin;
      const to = (parseTime(step.end) ?? step.runEnd) - step.origin;
      const bar = track.firstChild;
      bar.style.left = `${Math.min(99.5, Math.max(0, (100 * from) / step.span))}%`;
      bar.style.width = `${Math.max(0.5, (100 * (to - from)) / step.span)}%`;
      setText(took, duration(step.start, step.end, false));
    });
    if (!d.timeline.length) container.replaceChildren(el("p", "muted", "no steps yet"));
  }

  function renderEnvironment(d) {
    const body = $("x-environment").tBodies[0];
    sync(body, d.environment, (e) => e.name, () => el("tr", null, el("td", "mono"), el("td", "mono"), el("td", "muted")), (row, e) => {
      setText(row.cells[0], e.name);
      setText(row.cells[1], e.value);
      row.cells[1].classList.toggle("secret", e.secret);
      setText(row.cells[2], e.secret ? `${e.source} · secret` : e.source);
    });
    problem($("x-context-problem"), d.problem);
  }

  async function cancelCurrent() {
    const id = state.current;
    problem($("x-action-problem"), "");
    $("x-cancel").disabled = true;
    try {
      await api(`/api/executions/${encodeURIComponent(id)}/cancel`, { body: {} });
      setText($("x-cancel"), "Cancelling…");
    } catch (err) {
      problem($("x-action-problem"), err.message);
      $("x-cancel").disabled = false;
    }
  }

  // -- whole output ---------------------------------------------------------------------

  async function openOutput(execution, name, offset) {
    const dialog = $("output");
    setText($("output-title"), name);
    problem($("output-problem"), "");
    if (!dialog.open) dialog.showModal();
    try {
      const page = await api(`/api/executions/${encodeURIComponent(execution)}/outputs/${encodeURIComponent(name)}?offset=${offset}`);
      state.output = { execution, name, page };
      setText($("output-text"), page.text);
      $("output-text").scrollTop = 0;
      setText($("output-position"), `bytes ${page.offset.toLocaleString()}–${page.next_offset.toLocaleString()} of ${page.size.toLocaleString()}`);
      $("output-previous").disabled = page.offset === 0;
      $("output-first").disabled = page.offset === 0;
      $("output-next").disabled = page.next_offset >= page.size;
      $("output-last").disabled = page.next_offset >= page.size;
      const seek = $("output-seek");
      seek.max = String(page.size);
      seek.value = String(page.offset);
    } catch (err) {
      problem($("output-problem"), err.message);
    }
  }

  function pageOutput(where) {
    const current = state.output;
    if (!current) return;
    const { page } = current;
    const offset = {
      first: 0,
      previous: Math.max(0, page.offset - PAGE_BYTES),
      next: page.next_offset,
      last: Math.max(0, page.size - PAGE_BYTES),
    }[where];
    openOutput(current.execution, current.name, offset);
  }

  // -- wiring ---------------------------------------------------------------------------

  function wire() {
    $("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      localStorage.setItem(TOKEN_KEY, $("sign-in-token").value.trim());
      signIn();
    });
    $("new-run-button").addEventListener("click", () => { location.hash = "#/new"; });
    $("run-close").addEventListener("click", () => { location.hash = ""; });
    $("run-agent").addEventListener("change", describeAgent);
    $("new-run").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.submitter;
      if (button) button.disabled = true;
      const ok = await startRun({
        agent: $("run-agent").value,
        message: $("run-message").value,
        session: $("run-session").value.trim() || null,
        model: $("run-model").value.trim() || null,
      }, $("run-problem"));
      if (button) button.disabled = false;
      if (ok) $("run-message").value = "";
    });
    $("continue").addEventListener("submit", async (event) => {
      event.preventDefault();
      const d = state.detail;
      if (!d) return;
      const ok = await startRun({
        agent: d.agent,
        message: $("continue-message").value,
        session: d.session,
        model: $("continue-model").value.trim() || null,
      }, $("x-action-problem"));
      if (ok) $("continue-message").value = "";
    });
    $("x-cancel").addEventListener("click", cancelCurrent);
    $("x-session").addEventListener("click", (event) => {
      event.preventDefault();
      $("filter-session").value = state.detail ? state.detail.session : "";
      refreshFilters();
    });
    for (const id of ["filter-agent", "filter-phase"]) $(id).addEventListener("change", refreshFilters);
    $("filter-session").addEventListener("input", refreshFilters);
    for (const where of ["first", "previous", "next", "last"]) {
      $(`output-${where}`).addEventListener("click", () => pageOutput(where));
    }
    $("output-close").addEventListener("click", () => $("output").close());
    $("output-seek").addEventListener("change", (event) => {
      const current = state.output;
      if (current) openOutput(current.execution, current.name, Number(event.target.value));
    });
    window.addEventListener("hashchange", route);
    setInterval(tick, 1000);
  }

  takeTokenFromUrl();
  wire();
  signIn();
})();
