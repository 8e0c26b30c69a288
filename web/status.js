// web/status.js - mxgate's status page: reads /api/status every few seconds and draws the queue,
// the counters, the recent messages, the quarantine (with Release, Delete as spam and Delete) and two plots
// (inline SVG). Text from the gateway is only ever set as textContent, never as HTML. The secret
// for changing actions is asked once and kept in sessionStorage (this tab only); it travels in
// the X-Mxgate-Secret header, which a cross-site form cannot send.
"use strict";
(function () {
  const VERDICTS = ["clean", "blocklisted", "spam", "high-spam", "unscannable", "virus"];
  const COLORS = {
    clean: "#4caf50", blocklisted: "#7e57c2", spam: "#ff9800",
    "high-spam": "#e53935", unscannable: "#c9a800", virus: "#8e1b5e",
  };
  const REFRESH_MS = 3000;
  const SECRET_KEY = "mxgate-secret";
  const SVGNS = "http://www.w3.org/2000/svg";
  let generation = 0;
  let pending = null; // {action, qid} waiting for the secret
  const confirming = {}; // qid -> true while its Delete button asks for a second click

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function fmtTime(sec) {
    const d = new Date(sec * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function fmtClock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function fmtSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }

  function notice(kind, text) {
    const n = $("notice");
    n.className = kind;
    n.textContent = text;
    n.hidden = false;
  }

  function secretState() {
    const have = !!sessionStorage.getItem(SECRET_KEY);
    $("secret-text").textContent = have ? "secret: entered" : "secret: not entered";
    $("secret-forget").hidden = !have;
  }

  // ------------------------------------------------------------ actions

  async function send(action, qid, secret) {
    let r, body = {};
    try {
      r = await fetch("/api/quarantine/" + encodeURIComponent(qid) + "/" + action, {
        method: "POST", headers: { "X-Mxgate-Secret": secret }, cache: "no-store",
      });
      body = await r.json().catch(() => ({}));
    } catch (e) {
      notice("error", action + " " + qid + ": " + e.message);
      return;
    }
    if (r.ok) {
      notice("ok", body.message || (action + " " + qid + ": done"));
    } else {
      if (r.status === 403) sessionStorage.removeItem(SECRET_KEY); // asked again next time
      notice("error", action + " " + qid + " refused: " + r.status + " " + (body.error || r.statusText));
    }
    secretState();
    refresh();
  }

  function act(action, qid) {
    const secret = sessionStorage.getItem(SECRET_KEY);
    if (secret) {
      send(action, qid, secret);
      return;
    }
    pending = { action: action, qid: qid };
    $("secret-input").value = "";
    $("secret-modal").hidden = false;
    $("secret-input").focus();
  }

  function secretOk() {
    const v = $("secret-input").value;
    if (!v || !pending) return;
    sessionStorage.setItem(SECRET_KEY, v);
    $("secret-input").value = "";
    $("secret-modal").hidden = true;
    const p = pending;
    pending = null;
    secretState();
    send(p.action, p.qid, v);
  }

  function secretCancel() {
    pending = null;
    $("secret-modal").hidden = true;
  }

  // ------------------------------------------------------------ tables

  function setCount(id, v) { $(id).textContent = String(v); }

  function renderRecent(list) {
    const tb = document.querySelector("#recent tbody");
    const rows = [];
    for (const m of list) {
      const tr = el("tr", "v-" + m.verdict);
      tr.dataset.qid = m.queue;
      tr.dataset.verdict = m.verdict;
      const d = m.delivery, parts = [];
      if (d.delivered) parts.push(d.delivered + " delivered");
      if (d.deferred) parts.push(d.deferred + " deferred");
      if (d.bounced) parts.push(d.bounced + " bounced");
      const to = m.recipients + (m.nrcpt > 10 ? " (+" + (m.nrcpt - 10) + ")" : "");
      const score = m.score === null ? "" : m.score.toFixed(2) + " / " + m.required.toFixed(1);
      const cells = [
        [fmtTime(m.time)], [m.queue, "id"], [m.client || "local"], [m.sender || "<>"], [to],
        [m.subject, "subject"], [fmtSize(m.size), "num"], [m.verdict, "verdict"], [score, "num"],
        [m.viruses !== undefined ? m.viruses : m.rules], [m.actions], [parts.join(", ")],
      ];
      for (const c of cells) tr.appendChild(el("td", c[1], c[0]));
      rows.push(tr);
    }
    tb.replaceChildren(...rows);
    $("recent-count").textContent = "(last " + list.length + ")";
  }

  function actionButton(action, qid) {
    const b = el("button", action, action === "release" ? "Release" :
      action === "delete-spam" ? "Delete as spam" : "Delete");
    b.type = "button";
    b.dataset.qid = qid;
    b.dataset.action = action;
    if (action !== "release" && confirming[qid]) {
      b.textContent = "Really delete?";
      b.classList.add("confirm");
    }
    b.addEventListener("click", () => {
      if (action !== "release" && !confirming[qid]) {
        confirming[qid] = true;
        b.textContent = "Really delete?";
        b.classList.add("confirm");
        setTimeout(() => { delete confirming[qid]; }, 5000);
        return;
      }
      delete confirming[qid];
      act(action, qid);
    });
    return b;
  }

  function renderQuarantine(q) {
    const tb = document.querySelector("#quarantine tbody");
    const rows = [];
    for (const m of q.messages) {
      const tr = el("tr", m.verdict ? "v-" + m.verdict : "");
      tr.dataset.qid = m.queue;
      if (m.error) {
        tr.append(el("td"), el("td", "id", m.queue), el("td", null, "unreadable: " + m.error));
        rows.push(tr);
        continue;
      }
      const to = m.recipients.join(", ") + (m.nrcpt > m.recipients.length ? " (+" +
        (m.nrcpt - m.recipients.length) + ")" : "");
      tr.append(el("td", null, fmtTime(m.time)), el("td", "id", m.queue), el("td", null, m.sender || "<>"),
        el("td", null, to), el("td", "subject", m.subject), el("td", null, m.why));
      const td = el("td");
      td.append(actionButton("release", m.queue), " ", actionButton("delete-spam", m.queue), " ",
        actionButton("delete", m.queue));
      tr.appendChild(td);
      rows.push(tr);
    }
    tb.replaceChildren(...rows);
    $("quar-count").textContent = q.total > q.shown ? "(newest " + q.shown + " of " + q.total + ")"
      : "(" + q.total + ")";
  }

  // ------------------------------------------------------------ plots

  const W = 600, H = 170, L = 34, B = 18, T = 6;

  function frame(box, n, max, t) {
    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    s.appendChild(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#999" }));
    s.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
    s.appendChild(svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(max)));
    s.appendChild(svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0"));
    if (t.length) {
      s.appendChild(svg("text", { x: L, y: H - 4 }, fmtClock(t[0])));
      s.appendChild(svg("text", { x: W, y: H - 4, "text-anchor": "end" }, fmtClock(t[t.length - 1])));
    }
    box.replaceChildren(s);
    return s;
  }

  function empty(box, period) {
    box.replaceChildren(el("p", "muted", "no samples yet (one every " + period / 1000 + " s)"));
  }

  function plotVerdicts(h) {
    const box = $("plot-verdicts"), n = h.t_ms.length;
    $("plot-verdicts-title").textContent = "Messages per " +
      (h.period_ms === 60000 ? "minute" : (h.period_ms / 1000) + " s") + " by verdict" +
      (h.last_in_progress ? " (the last bar: so far)" : "");
    if (!n) return empty(box, h.period_ms);
    let max = 1;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const v of VERDICTS) sum += h.verdicts[v][i];
      max = Math.max(max, sum);
    }
    const s = frame(box, n, max, h.t_ms);
    const slots = Math.max(n, 30), bw = (W - L) / slots, ph = H - B - T;
    for (let i = 0; i < n; i++) {
      let y = H - B;
      for (const v of VERDICTS) {
        const c = h.verdicts[v][i];
        if (!c) continue;
        const hh = c / max * ph;
        y -= hh;
        const r = svg("rect", { x: L + (slots - n + i) * bw + 0.5, y: y, width: Math.max(bw - 1, 0.5), height: hh,
          fill: COLORS[v] });
        r.appendChild(svg("title", {}, v + ": " + c));
        s.appendChild(r);
      }
    }
  }

  function plotQueue(h) {
    const box = $("plot-queue"), n = h.queue.length;
    if (!n) return empty(box, h.period_ms);
    const max = Math.max(1, ...h.queue);
    const s = frame(box, n, max, h.t_ms);
    const slots = Math.max(n, 30), step = (W - L) / slots, ph = H - B - T;
    const pts = h.queue.map((q, i) => (L + (slots - n + i + 0.5) * step).toFixed(1) + "," +
      (H - B - q / max * ph).toFixed(1));
    s.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: "#1e6fb8", "stroke-width": 2 }));
  }

  function legend() {
    const lg = $("legend");
    for (const v of VERDICTS) {
      const s = el("span", null, v);
      s.style.setProperty("--c", COLORS[v]);
      lg.appendChild(s);
    }
  }

  // ------------------------------------------------------------ refresh

  function render(s) {
    $("host").textContent = s.hostname + " (" + s.version + ")";
    $("updated").textContent = "updated " + fmtTime(s.now) + (s.scanning ? "" : " - scanning off") +
      (s.secret_configured ? "" : " - no secret configured: release/delete are off");
    for (const k of ["input", "active", "deferred", "hold", "quarantine"]) setCount("q-" + k, s.queue[k]);
    for (const k of ["accepted", "rejected", "delivered", "bounced", "expired"]) setCount("c-" + k, s.counters[k]);
    const dl = $("verdict-counts"), items = [];
    for (const v of VERDICTS) {
      items.push(el("dt", null, v));
      const dd = el("dd", null, s.counters.verdicts[v]);
      dd.id = "v-" + v;
      items.push(dd);
    }
    dl.replaceChildren(...items);
    renderRecent(s.recent);
    renderQuarantine(s.quarantine_list);
    plotVerdicts(s.history);
    plotQueue(s.history);
  }

  async function refresh() {
    try {
      const r = await fetch("/api/status", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      document.body.dataset.generation = String(++generation);
      document.body.dataset.loaded = "1";
    } catch (e) {
      $("updated").textContent = "update failed: " + e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    legend();
    secretState();
    $("secret-ok").addEventListener("click", secretOk);
    $("secret-cancel").addEventListener("click", secretCancel);
    $("secret-input").addEventListener("keydown", (e) => {
      if (e.key === "Enter") secretOk();
      if (e.key === "Escape") secretCancel();
    });
    $("secret-forget").addEventListener("click", () => {
      sessionStorage.removeItem(SECRET_KEY);
      secretState();
    });
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();
