// Order engine dashboard: live quotes, order placement, the live order table
// (WebSocket /ws/orders) and one order's live detail (WebSocket /ws/orders/<id>).
// Plain JavaScript, no build step. Pages work without it; this makes them live.
(function () {
  "use strict";

  var STEPS = ["pending", "routing", "building", "submitted", "confirmed"];
  var TERMINAL = { confirmed: true, failed: true, cancelled: true };
  var MAX_ROWS = 50;

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (attrs[key] !== null && attrs[key] !== undefined && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Same rule as the `amount` template filter: grouped, at most `places`
  // decimals, or 6 significant digits below 1.
  function fmtAmount(value, places) {
    if (value === null || value === undefined || value === "") return "—";
    var n = Number(value);
    if (!isFinite(n)) return String(value);
    if (n !== 0 && Math.abs(n) < 1) return n.toLocaleString("en-US", { maximumSignificantDigits: 6, useGrouping: false });
    return n.toLocaleString("en-US", { maximumFractionDigits: places === undefined ? 6 : places });
  }

  function fmtBps(bps) { return bps === null || bps === undefined ? "—" : (bps / 100).toFixed(2) + "%"; }

  function fmtTime(iso) {
    // UTC, as the server renders it, so a row looks the same before and after a redraw.
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toISOString().slice(11, 19);
  }

  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path; }

  function getJSON(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  // --- Connection indicator and a socket that reconnects with back-off ------

  var conn = $("conn");
  function setConn(state, text) {
    if (!conn) return;
    conn.setAttribute("data-state", state);
    conn.lastElementChild.textContent = text;
  }

  // Opens `path`, calls handlers.open on every (re)connect and handlers.message
  // per frame. Reconnects after 0.5 s, doubling to 15 s, with jitter; stops
  // when handlers.closed(code) returns true (the server is done with us).
  function liveSocket(path, handlers) {
    var delay = 500, socket = null, stopped = false;
    function connect() {
      socket = new WebSocket(wsUrl(path));
      socket.onopen = function () { delay = 500; setConn("live", "live"); if (handlers.open) handlers.open(); };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        var messages = message.type === "batch" ? message.events || [] : [message];
        messages.forEach(handlers.message);
      };
      socket.onclose = function (event) {
        if (stopped) return;
        if (handlers.closed && handlers.closed(event.code)) { setConn("idle", "done"); return; }
        setConn("retrying", "reconnecting");
        var wait = delay * (0.75 + Math.random() * 0.5);
        delay = Math.min(delay * 2, 15000);
        setTimeout(connect, wait);
      };
    }
    connect();
    window.addEventListener("pagehide", function () { stopped = true; if (socket) socket.close(); });
  }

  // --- Order state ------------------------------------------------------------

  function rank(status) { return TERMINAL[status] ? STEPS.length : STEPS.indexOf(status); }

  // Is (attempt, status) later than what we show? Older or repeated events
  // (a resync racing the feed) must not move a row backwards.
  function isNewer(order, attempt, status) {
    if (!order) return true;
    if (attempt !== order.attempt) return attempt > order.attempt;
    return rank(status) > rank(order.status);
  }

  function reachedFromHistory(order) {
    var reached = 0;
    (order.history || []).forEach(function (entry) {
      var index = STEPS.indexOf(entry.status);
      if (index >= 0 && (entry.attempt || 1) === order.attempt) reached = Math.max(reached, index + 1);
    });
    var own = STEPS.indexOf(order.status);
    return Math.max(reached, own + 1);
  }

  // The same rule as orders.views._progress.
  function progress(order) {
    return STEPS.map(function (name, index) {
      if (index >= order.reached) return "";
      if (order.status === "failed" || order.status === "cancelled") return order.status;
      return order.status === "confirmed" || index < order.reached - 1 ? "done" : "current";
    });
  }

  function steps(order, labeled) {
    var states = progress(order);
    return h("ol", { "class": "steps", "aria-label": "progress" }, STEPS.map(function (name, index) {
      return h("li", { "class": states[index] || null, title: name }, labeled ? [h("span", {}, [name])] : []);
    }));
  }

  // --- Dashboard: recent orders --------------------------------------------------

  var orders = new Map();
  var rows = $("order-rows");

  function renderRow(order) {
    var out = order.amountOut ? fmtAmount(order.amountOut) + " " + order.tokenOut : "—";
    var statusLine = h("div", { "class": "status-line" }, [
      h("span", { "class": "badge badge-" + order.status }, [order.status]),
      order.attempt > 1 ? h("span", { "class": "attempt" }, ["attempt " + order.attempt]) : null,
    ]);
    return h("tr", { "class": "order-row status-" + order.status, "data-order-id": order.orderId }, [
      h("td", { "data-label": "Time" }, [
        h("a", { "class": "mono", href: "/orders/" + order.orderId, title: "Order " + order.orderId }, [fmtTime(order.createdAt)]),
      ]),
      h("td", { "data-label": "Order", "class": "pair" }, [
        fmtAmount(order.amount) + " " + order.tokenIn + " ", h("span", { "class": "arrow" }, ["→"]), " " + order.tokenOut,
      ]),
      h("td", { "data-label": "Status", "class": "status-cell" }, [
        statusLine, steps(order, false), order.error ? h("div", { "class": "reason" }, [order.error]) : null,
      ]),
      h("td", { "data-label": "Route", "class": "dex" }, [order.dex || "—"]),
      h("td", { "data-label": "Received", "class": "num out" }, [out]),
    ]);
  }

  function sortedOrders() {
    return Array.from(orders.values()).sort(function (a, b) { return a.createdAt < b.createdAt ? 1 : -1; });
  }

  function renderAll() {
    var list = sortedOrders();
    list.slice(MAX_ROWS).forEach(function (order) { orders.delete(order.orderId); });
    var fragment = document.createDocumentFragment();
    list.slice(0, MAX_ROWS).forEach(function (order) { fragment.appendChild(renderRow(order)); });
    rows.replaceChildren(fragment);
    updateCount();
  }

  function updateCount() {
    $("orders-empty").hidden = orders.size > 0;
    $("orders-count").textContent = orders.size + " shown";
  }

  function showRow(order, isNew) {
    var row = renderRow(order);
    var existing = rows.querySelector('tr[data-order-id="' + order.orderId + '"]');
    if (existing) {
      existing.replaceWith(row);
    } else {
      rows.insertBefore(row, rows.firstChild);
      var extra = rows.children[MAX_ROWS];
      if (extra) { orders.delete(extra.getAttribute("data-order-id")); extra.remove(); }
    }
    if (isNew) row.classList.add("fresh");
    updateCount();
  }

  function fromRest(data) {
    var order = Object.assign({}, data);
    order.reached = reachedFromHistory(order);
    return order;
  }

  function applyEvent(event) {
    if (event.type !== "status" || !event.orderId) return;
    var order = orders.get(event.orderId);
    var attempt = event.attempt || 1;
    if (!order && event.status !== "pending") {
      // We missed this order's start (joined late or the socket dropped):
      // read the recent orders again rather than guess.
      scheduleResync();
      return;
    }
    if (!isNewer(order, attempt, event.status)) return;
    var isNew = !order;
    order = order || { orderId: event.orderId, createdAt: event.at, reached: 0, attempt: attempt };
    if (attempt !== order.attempt) {
      // A retry starts over from routing: what the last attempt chose is void.
      order.reached = 0; order.dex = null; order.amountOut = null; order.txHash = null;
    }
    Object.keys(event).forEach(function (key) {
      if (key !== "type" && key !== "at" && event[key] !== undefined) order[key] = event[key];
    });
    order.attempt = attempt;
    var index = STEPS.indexOf(event.status);
    if (index >= 0) order.reached = Math.max(order.reached, index + 1);
    orders.set(order.orderId, order);
    showRow(order, isNew);
  }

  var resyncTimer = null;
  function scheduleResync() {
    if (!resyncTimer) resyncTimer = setTimeout(function () { resyncTimer = null; resync(); }, 300);
  }

  function resync() {
    getJSON("/api/orders?limit=" + MAX_ROWS).then(function (answer) {
      if (!answer.ok) return;
      (answer.body.results || []).forEach(function (data) {
        var current = orders.get(data.orderId);
        if (!current || isNewer(current, data.attempt, data.status) || (current.attempt === data.attempt && current.status === data.status)) {
          orders.set(data.orderId, fromRest(data));
        }
      });
      renderAll();
    }).catch(function () { /* the next reconnect resyncs */ });
  }

  // --- Dashboard: the order form and the live quote -----------------------------

  var form = $("order-form");

  function setErrors(fields) {
    form.querySelectorAll("[data-error-for]").forEach(function (node) {
      var name = node.getAttribute("data-error-for");
      var messages = fields[name];
      node.hidden = !messages;
      node.textContent = messages ? messages.join(" ") : "";
      var combo = node.parentElement.querySelector(".combo");
      if (combo && name !== "tokenIn") combo.classList.toggle("invalid", !!messages);
    });
    if (fields.tokenIn) form.querySelector("#tokenIn").parentElement.classList.add("invalid");
  }

  function currentErrors() {
    var fields = {};
    form.querySelectorAll("[data-error-for]").forEach(function (node) {
      if (!node.hidden) fields[node.getAttribute("data-error-for")] = [node.textContent];
    });
    return fields;
  }

  function slippageBps() {
    var raw = form.slippage.value.trim();
    var value = Number(raw);
    if (raw === "" || !isFinite(value)) return { error: "must be a number, like 0.5 (%) or 50 (bps)" };
    var bps = form.slippageUnit.value === "pct" ? value * 100 : value;
    bps = Math.round(bps * 1e6) / 1e6;
    if (!Number.isInteger(bps)) return { error: "must be a whole number of basis points (0.01% steps)" };
    return { value: bps };
  }

  var quoteTimer = null, quoteSeq = 0;
  var quoteBox = $("quote");

  function scheduleQuote() {
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requestQuote, 250);
  }

  function requestQuote() {
    var amount = form.amount.value.trim();
    var seq = ++quoteSeq;
    var inputErrors = currentErrors();
    delete inputErrors.amount; delete inputErrors.tokenIn; delete inputErrors.tokenOut; delete inputErrors.non_field_errors;
    if (!amount) { quoteBox.hidden = true; $("estimate").textContent = "—"; setErrors(inputErrors); return; }
    var params = new URLSearchParams({ tokenIn: form.tokenIn.value, tokenOut: form.tokenOut.value, amount: amount });
    quoteBox.classList.add("loading");
    getJSON("/api/quote?" + params).then(function (answer) {
      if (seq !== quoteSeq) return; // a newer keystroke won
      quoteBox.classList.remove("loading");
      if (answer.ok) {
        setErrors(inputErrors);
        showQuote(answer.body);
      } else if (answer.body.fields) {
        setErrors(Object.assign(inputErrors, answer.body.fields));
        quoteBox.hidden = true;
        $("estimate").textContent = "—";
      } else {
        setErrors(inputErrors);
        showQuoteError(answer.body.error || "No quote available right now.");
      }
    }).catch(function () {
      if (seq !== quoteSeq) return;
      quoteBox.classList.remove("loading");
      showQuoteError("Could not reach the engine for a quote.");
    });
  }

  function showQuoteError(message) {
    quoteBox.hidden = false;
    $("quote-rows").replaceChildren();
    $("quote-best").textContent = "";
    $("quote-error").hidden = false;
    $("quote-error").textContent = message;
    $("estimate").textContent = "—";
  }

  function showQuote(quote) {
    var best = quote.best || {};
    var top = null;
    quote.quotes.forEach(function (q) { if (!top || Number(q.amountOut) > Number(top.amountOut)) top = q; });
    $("quote-rows").replaceChildren.apply($("quote-rows"), quote.quotes.map(function (q) {
      var fills = Number(q.amountOut) > 0;
      return h("tr", { "class": best.dex === q.dex ? "best" : null, "data-dex": q.dex }, [
        h("td", {}, [h("span", { "class": "venue venue-" + q.dex }, [q.dex])]),
        h("td", { "class": "num" }, [fills ? fmtAmount(q.amountOut) : "cannot fill"]),
        h("td", { "class": "num" + (q.priceImpactBps >= 100 ? " high-impact" : "") }, [fills ? fmtBps(q.priceImpactBps) : "—"]),
        h("td", { "class": "num" }, [fills ? fmtBps(q.feeBps) : "—"]),
      ]);
    }));
    var text = "Best: " + best.dex;
    if (best.dex === "split") {
      text = "Best: split " + (best.split || []).map(function (leg) { return leg.dex + " " + (leg.shareBps / 100) + "%"; }).join(" / ");
    }
    $("quote-best").textContent = text + " → " + fmtAmount(best.amountOut) + " " + quote.tokenOut;
    $("quote-error").hidden = true;
    $("estimate").textContent = fmtAmount(best.amountOut);
    quoteBox.hidden = false;
  }

  function submitOrder(event) {
    event.preventDefault();
    var slippage = slippageBps();
    if (slippage.error) { setErrors({ slippageBps: [slippage.error] }); return; }
    var button = $("submit");
    button.disabled = true;
    var body = { amount: form.amount.value.trim(), tokenIn: form.tokenIn.value, tokenOut: form.tokenOut.value, slippageBps: slippage.value };
    getJSON("/api/orders/execute", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
      body: JSON.stringify(body),
    }).then(function (answer) {
      button.disabled = false;
      if (!answer.ok) {
        setErrors(answer.body.fields || { non_field_errors: [answer.body.error || "The order was not accepted (HTTP " + answer.status + ")."] });
        return;
      }
      setErrors({});
      // The feed usually announces the order first; if not, show it now.
      if (!orders.has(answer.body.orderId)) {
        applyEvent({ type: "status", orderId: answer.body.orderId, status: "pending", at: new Date().toISOString(), attempt: 1,
                     tokenIn: body.tokenIn, tokenOut: body.tokenOut, amount: body.amount });
      }
    }).catch(function () {
      button.disabled = false;
      setErrors({ non_field_errors: ["Could not reach the engine; the order was not placed."] });
    });
  }

  // --- Dashboard: market panel ---------------------------------------------------

  function refreshMarket() {
    if (document.hidden) return;
    getJSON("/market.json").then(function (answer) {
      if (!answer.ok) return;
      $("market-rows").replaceChildren.apply($("market-rows"), answer.body.pools.map(function (pool) {
        return h("tr", {}, [
          h("td", { "data-label": "Pool" }, [
            h("span", { "class": "pool-pair" }, [pool.pair]), h("span", { "class": "venue venue-" + pool.dex }, [pool.dex]),
            " ", h("span", { "class": "unit" }, ["· " + Number(pool.feeBps.toFixed(2)) + " bps"]),
          ]),
          h("td", { "data-label": "Price", "class": "num" }, [fmtAmount(pool.price), h("br"), h("span", { "class": "unit" }, [pool.tokenB])]),
          h("td", { "data-label": "Depth", "class": "num depth" }, [
            fmtAmount(pool.depthA, 0) + " ", h("span", { "class": "unit" }, [pool.tokenA]), h("br"),
            fmtAmount(pool.depthB, 0) + " ", h("span", { "class": "unit" }, [pool.tokenB]),
          ]),
        ]);
      }));
      $("market-updated").textContent = "updated " + fmtTime(new Date().toISOString());
    }).catch(function () { /* try again on the next tick */ });
  }

  function startDashboard() {
    ["amount", "tokenIn", "tokenOut"].forEach(function (name) {
      form[name].addEventListener(name === "amount" ? "input" : "change", scheduleQuote);
    });
    ["slippage", "slippageUnit"].forEach(function (name) {
      form[name].addEventListener("input", function () {
        var fields = currentErrors(); delete fields.slippageBps; setErrors(fields);
      });
    });
    var flip = $("flip");
    flip.hidden = false;
    flip.addEventListener("click", function () {
      var a = form.tokenIn.value; form.tokenIn.value = form.tokenOut.value; form.tokenOut.value = a;
      scheduleQuote();
    });
    form.addEventListener("submit", submitOrder);
    if (form.amount.value.trim()) scheduleQuote();
    liveSocket("/ws/orders", { open: resync, message: applyEvent });
    setInterval(refreshMarket, 10000);
    document.addEventListener("visibilitychange", refreshMarket);
  }

  // --- Order detail ------------------------------------------------------------------

  function startDetail(body) {
    var orderId = body.getAttribute("data-order-id");
    var loading = false, again = false;
    // Each status message redraws the page body from the server's template, so
    // the live page and the no-JS page are drawn by the same code.
    function redraw() {
      if (loading) { again = true; return; }
      loading = true;
      fetch("/orders/" + orderId + "?fragment=1").then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html !== null) body.innerHTML = html;
      }).catch(function () { /* the next message redraws */ }).then(function () {
        loading = false;
        if (again) { again = false; redraw(); }
      });
    }
    if (body.getAttribute("data-terminal") === "1") { setConn("idle", "final"); return; }
    liveSocket("/ws/orders/" + orderId, {
      message: function (message) { if (message.type === "snapshot" || message.type === "status") redraw(); },
      closed: function (code) { return code === 1000 || code === 4404; },
    });
  }

  if (form && rows) startDashboard();
  var detail = $("order-body");
  if (detail) startDetail(detail);
})();
