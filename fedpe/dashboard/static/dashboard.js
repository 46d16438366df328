/* fedpe dashboard: what htmx does not do by itself.
 *
 * 1. Run forms: show the chosen tab's fields (strategies, `x-shown-when`) and an optional
 *    object's fields only when it is switched on.
 * 2. The execution page: one EventSource on /executions/{id}/events (the session cookie is the
 *    credential). `round` events feed the uPlot curves and the table of numbers, `log` events the
 *    log, `status` and `done` refresh the htmx regions; after `done` the page closes the stream
 *    (the server answers 204 to any reconnect with the last id, so no loop either way).
 *    The first chart is the loss; the second shows the metric chosen in `#curve-metric`, whose
 *    options follow the rounds (the rule is fedpe/dashboard/curves.py's, handed over in the
 *    select's data attributes). The numbers each chart plots are in its `data-plotted` attribute,
 *    the metric in its `data-metric`.
 */
(function () {
  "use strict";

  // -- run forms ----------------------------------------------------------------------------------

  function valueOf(form, name) {
    const field = form.elements.namedItem(name);
    if (!field) return "";
    if (field instanceof RadioNodeList) return field.value;
    if (field.type === "checkbox") return field.checked ? "on" : "";
    return field.value;
  }

  function syncForm(form) {
    form.querySelectorAll("[data-variant]").forEach((el) => {
      const [name, value] = el.dataset.variant.split("=");
      el.hidden = valueOf(form, name) !== value;
    });
    form.querySelectorAll("[data-shown-when]").forEach((el) => {
      const [name, value] = el.dataset.shownWhen.split("=");
      el.hidden = valueOf(form, name) !== value;
    });
    form.querySelectorAll("fieldset.object").forEach((el) => {
      const toggle = el.querySelector("legend input[type=checkbox]");
      el.querySelector(".object-fields").hidden = !(toggle && toggle.checked);
    });
  }

  function initForms(root) {
    root.querySelectorAll("form.run-form").forEach((form) => {
      if (form.dataset.synced) return;
      form.dataset.synced = "yes";
      form.addEventListener("change", () => syncForm(form));
      syncForm(form);
    });
  }

  // -- the execution page ----------------------------------------------------------------------------

  const PALETTE = ["#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#ea580c"];
  const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
  const MAX_LOG_LINES = 3000;

  function execution(root) {
    const id = root.dataset.executionId;
    const rows = new Map(); // round -> {round, metrics, per_client, dropped}
    const charts = {};
    const table = root.querySelector("#rounds-table tbody");
    const logList = root.querySelector("#log-lines");
    const nodeFilter = root.querySelector("#log-node");
    const levelFilter = root.querySelector("#log-level");
    const streamState = root.querySelector("#stream-state");
    const chooser = root.querySelector("#curve-metric");
    const notPlotted = new Set(JSON.parse((chooser && chooser.dataset.notPlotted) || "[]"));
    const preferred = JSON.parse((chooser && chooser.dataset.preferred) || '["accuracy"]');
    let chosen = chooser ? chooser.value : preferred[0];
    let userChose = false; // until someone picks a metric, the chooser follows the preferred one
    let refreshTimer = null;

    function clients() {
      const names = new Set();
      rows.forEach((row) => Object.keys(row.per_client || {}).forEach((h) => names.add(h)));
      return Array.from(names).sort();
    }

    function inOrder() {
      return Array.from(rows.values()).sort((a, b) => a.round - b.round);
    }

    function droppedRounds() {
      return inOrder().filter((r) => (r.dropped || []).length).map((r) => ({ round: r.round, hosts: r.dropped }));
    }

    function columns(metric, hosts) {
      const ordered = inOrder();
      const x = ordered.map((r) => r.round);
      const global = ordered.map((r) => (r.metrics && r.metrics[metric] != null ? r.metrics[metric] : null));
      const perHost = hosts.map((h) => ordered.map((r) => {
        const m = (r.per_client || {})[h];
        return m && m[metric] != null ? m[metric] : null;
      }));
      return { x, global, perHost, dropped: droppedRounds() };
    }

    function isNumber(value) {
      return typeof value === "number" && isFinite(value);
    }

    function choices() {
      // curves.choices: every name with a number in some round, pooled or a client's, by name
      const names = new Set();
      rows.forEach((row) => [row.metrics || {}, ...Object.values(row.per_client || {})].forEach((group) => {
        Object.entries(group || {}).forEach(([k, v]) => { if (isNumber(v) && !notPlotted.has(k)) names.add(k); });
      }));
      return Array.from(names).sort();
    }

    function syncChooser() {
      if (!chooser) return;
      const names = choices();
      if (!userChose) chosen = preferred.find((p) => names.includes(p)) || names[0] || preferred[0];
      const shown = names.length ? names : [chosen];
      if (Array.from(chooser.options).map((o) => o.value).join("\n") !== shown.join("\n")) {
        chooser.replaceChildren(...shown.map((name) => new Option(name, name)));
      }
      chooser.value = chosen;
    }

    function droppedMarks() {
      return (u) => {
        const dropped = droppedRounds();
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#dc2626";
        ctx.setLineDash([5, 4]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        dropped.forEach((d) => {
          const cx = u.valToPos(d.round, "x", true);
          ctx.beginPath();
          ctx.moveTo(cx, u.bbox.top);
          ctx.lineTo(cx, u.bbox.top + u.bbox.height);
          ctx.stroke();
        });
        ctx.restore();
      };
    }

    function draw(slot, metric) {
      // slot: the chart's element, #chart-loss or #chart-metric; metric: what it plots now
      const el = root.querySelector(`#chart-${slot}`);
      if (!el || typeof uPlot === "undefined") return;
      el.dataset.metric = metric;
      el.setAttribute("aria-label", `${metric} per round`);
      const hosts = clients();
      const c = columns(metric, hosts);
      el.dataset.plotted = JSON.stringify({
        round: c.x, global: c.global,
        clients: Object.fromEntries(hosts.map((h, i) => [h, c.perHost[i]])),
        dropped: c.dropped,
      });
      el.dataset.rounds = String(c.x.length);
      const data = [c.x, c.global, ...c.perHost];
      const key = `${metric}|${hosts.join(",")}`;
      const width = Math.max(280, el.clientWidth || 600);
      if (!charts[slot] || charts[slot].key !== key) {
        if (charts[slot]) charts[slot].plot.destroy();
        const plot = new uPlot({
          title: metric, width, height: 240,
          scales: { x: { time: false } },
          axes: [{ label: "round" }, { label: metric, size: 60 }],
          series: [
            { label: "round" },
            { label: "global", stroke: "#1d4ed8", width: 2.5, points: { show: true, size: 5 } },
            ...hosts.map((h, i) => ({ label: h, stroke: PALETTE[i % PALETTE.length], width: 1, dash: [6, 3] })),
          ],
          hooks: { draw: [droppedMarks()] },
        }, data, el);
        charts[slot] = { plot, key, metric };
      } else {
        charts[slot].plot.setData(data);
      }
    }

    function drawAll() {
      syncChooser();
      draw("loss", "loss");
      draw("metric", chosen);
    }

    function number(value, digits) {
      return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "–";
    }

    function tableRow(row) {
      if (!table || table.querySelector(`tr[data-round="${row.round}"]`)) return;
      const tr = document.createElement("tr");
      tr.dataset.round = String(row.round);
      tr.dataset.metrics = JSON.stringify(row.metrics || {});
      tr.dataset.perClient = JSON.stringify(row.per_client || {});
      tr.dataset.dropped = JSON.stringify(row.dropped || []);
      const perClient = Object.entries(row.per_client || {})
        .map(([h, m]) => `${h} ${number(m.loss, 3)} / ${number(m.accuracy, 3)}`).join("; ");
      const cells = [String(row.round), number((row.metrics || {}).loss, 4), number((row.metrics || {}).accuracy, 4),
        perClient, (row.dropped || []).join(", ") || "–", number((row.metrics || {}).round_ms, 1)];
      cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); });
      table.appendChild(tr);
      const count = root.querySelector("#rounds-count");
      if (count) count.textContent = String(rows.size);
      table.parentElement.dataset.rounds = String(rows.size);
    }

    function addRound(row) {
      if (rows.has(row.round)) return;
      rows.set(row.round, row);
      tableRow(row);
      drawAll();
      refreshSoon(["#status"]);
    }

    function logVisible(li) {
      const node = nodeFilter ? nodeFilter.value : "";
      const level = LEVELS[levelFilter ? levelFilter.value : "INFO"] || 0;
      return (!node || li.dataset.node === node) && (LEVELS[li.dataset.level] || 0) >= level;
    }

    function addLog(line) {
      if (!logList) return;
      const li = document.createElement("li");
      li.dataset.node = line.node || "flow";
      li.dataset.level = line.level;
      const time = document.createElement("time");
      time.dateTime = line.timestamp;
      time.textContent = (line.timestamp || "").slice(11, 19);
      const level = document.createElement("span");
      level.className = `level ${String(line.level).toLowerCase()}`;
      level.textContent = line.level;
      const node = document.createElement("span");
      node.className = "node";
      node.textContent = `[${line.node || "flow"}]`;
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = line.message;
      li.append(time, " ", level, " ", node, " ", message);
      li.hidden = !logVisible(li);
      const atBottom = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 8;
      logList.appendChild(li);
      while (logList.children.length > MAX_LOG_LINES) logList.removeChild(logList.firstChild);
      if (atBottom) logList.scrollTop = logList.scrollHeight;
    }

    function refilter() {
      if (!logList) return;
      logList.querySelectorAll("li").forEach((li) => { li.hidden = !logVisible(li); });
      logList.scrollTop = logList.scrollHeight; // a new filter follows the newest lines again
    }

    function refreshSoon(targets) {
      // Rounds may come many a second: refresh the regions at most once a second.
      if (refreshTimer) return;
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        targets.forEach((sel) => { const el = document.querySelector(sel); if (el) htmx.trigger(el, "refresh"); });
      }, 1000);
    }

    function refreshNow(targets) {
      targets.forEach((sel) => { const el = document.querySelector(sel); if (el) htmx.trigger(el, "refresh"); });
    }

    function setStream(state, text) {
      root.dataset.stream = state;
      if (streamState) streamState.textContent = text;
    }

    // the rounds rendered with the page
    if (table) {
      table.querySelectorAll("tr[data-round]").forEach((tr) => {
        rows.set(Number(tr.dataset.round), {
          round: Number(tr.dataset.round), metrics: JSON.parse(tr.dataset.metrics || "{}"),
          per_client: JSON.parse(tr.dataset.perClient || "{}"), dropped: JSON.parse(tr.dataset.dropped || "[]"),
        });
      });
    }
    drawAll();
    if (chooser) {
      chooser.addEventListener("change", () => {
        chosen = chooser.value;
        userChose = true;
        drawAll();
      });
    }
    if (nodeFilter) nodeFilter.addEventListener("change", refilter);
    if (levelFilter) levelFilter.addEventListener("change", refilter);
    window.addEventListener("resize", () => {
      Object.entries(charts).forEach(([slot, c]) => {
        const el = root.querySelector(`#chart-${slot}`);
        c.plot.setSize({ width: Math.max(280, el.clientWidth), height: 240 });
      });
    });

    const source = new EventSource(`/executions/${encodeURIComponent(id)}/events`);
    let lastStatus = root.dataset.status;
    source.addEventListener("open", () => setStream("live", "live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) setStream("closed", "stream closed");
      else setStream("reconnecting", "reconnecting…");
    });
    source.addEventListener("round", (e) => addRound(JSON.parse(e.data)));
    source.addEventListener("log", (e) => addLog(JSON.parse(e.data)));
    source.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      const key = `${s.status}/${s.paused}/${JSON.stringify(s.statuses)}`;
      if (key !== lastStatus) { lastStatus = key; refreshNow(["#status"]); }
    });
    source.addEventListener("done", (e) => {
      source.close();
      const d = JSON.parse(e.data);
      root.dataset.status = d.status;
      setStream("ended", `ended ${d.status}`);
      refreshNow(["#status", "#result", "#files", "#report", "#audit"]);
    });
    window.fedpeExecution = { source, charts, rows };
  }

  document.addEventListener("DOMContentLoaded", () => {
    initForms(document);
    const root = document.getElementById("execution");
    if (root) execution(root);
  });
  document.addEventListener("htmx:afterSwap", (e) => initForms(e.target.ownerDocument || document));
})();
