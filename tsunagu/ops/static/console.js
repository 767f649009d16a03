// Plain JS, no CDN: the live flow (Server-Sent Events), periodic refresh of server-rendered
// fragments, and the one write the console allows (dead-letter retry).
(function () {
  "use strict";
  const MAX_ROWS = 500;

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (cls) el.className = cls;
    return el;
  }

  function summary(ev) {
    if (!ev.event) return ev.error || "";
    return Object.entries(ev.event)
      .filter(([k, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length) && k !== ev.aggregate + "_id")
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v))
      .join(" ");
  }

  function startFlow() {
    const table = document.querySelector("#flow tbody");
    if (!table) return;
    const form = document.getElementById("filters");
    const state = document.getElementById("live-state");
    const params = new URLSearchParams();
    for (const name of ["case", "type", "agency"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    const source = new EventSource("/events/stream?" + params.toString());
    source.onopen = function () { state.textContent = "ライブ受信中"; state.className = "ok"; };
    source.onerror = function () { state.textContent = "再接続中…"; state.className = "bad"; };
    source.addEventListener("tsunagu", function (msg) {
      const ev = JSON.parse(msg.data);
      const tr = document.createElement("tr");
      tr.className = "new";
      tr.dataset.seq = ev.seq;
      tr.dataset.type = ev.type;
      tr.appendChild(text("td", ev.seq));
      tr.appendChild(text("td", ev.occurred_jst || ""));
      const label = text("td", ev.label || ev.type);
      label.appendChild(document.createElement("br"));
      label.appendChild(text("small", ev.type));
      tr.appendChild(label);
      tr.appendChild(text("td", (ev.aggregate || "") + "/" + (ev.aggregate_id || "")));
      tr.appendChild(text("td", ev.case_id || ""));
      tr.appendChild(text("td", ev.agency || ""));
      tr.appendChild(text("td", summary(ev), "summary"));
      table.insertBefore(tr, table.firstChild);
      while (table.rows.length > MAX_ROWS) table.deleteRow(table.rows.length - 1);
    });
  }

  function startRefresh() {
    document.querySelectorAll("[data-refresh]").forEach(function (box) {
      const url = box.dataset.refresh;
      const only = box.dataset.only;
      setInterval(async function () {
        try {
          const res = await fetch(url, { credentials: "same-origin" });
          if (!res.ok) return;
          const html = await res.text();
          if (only) {
            const tmp = document.createElement("div");
            tmp.innerHTML = html;
            const part = tmp.querySelector(only);
            if (part) box.innerHTML = part.outerHTML;
          } else {
            box.innerHTML = html;
          }
        } catch (e) { /* the next tick retries */ }
      }, box.id === "dlq" ? 5000 : 3000);
    });
  }

  async function retry(button) {
    const message = document.getElementById("dlq-message");
    button.disabled = true;
    button.textContent = "処理中…";
    try {
      const res = await fetch("/api/dlq/" + button.dataset.seq + "/retry", {
        method: "POST", credentials: "same-origin", headers: { "X-Tsunagu-Console": "1" },
      });
      const body = await res.json();
      if (body.ok) {
        message.textContent = "デッドレター #" + button.dataset.seq + " を再処理しました（" +
          body.result.service + "/" + body.result.projection + "）";
        message.className = "message ok";
        const row = button.closest("tr");
        if (row) row.remove();
      } else {
        message.textContent = "再処理に失敗しました: " + body.error.message;
        message.className = "message bad";
        button.disabled = false;
        button.textContent = "再処理";
      }
    } catch (e) {
      message.textContent = "再処理に失敗しました: " + e;
      message.className = "message bad";
      button.disabled = false;
      button.textContent = "再処理";
    }
  }

  document.addEventListener("click", function (e) {
    const button = e.target.closest("button.retry");
    if (button) retry(button);
  });
  startFlow();
  startRefresh();
})();
