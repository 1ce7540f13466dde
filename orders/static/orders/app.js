// Order engine dashboard: live quotes, order placement, the live order table
// (WebSocket /ws/orders) and one order's live detail (WebSocket /ws/orders/<id>).
// Plain JavaScript, no build step. Pages work without it; this makes them live.
(function () {
  "use strict";

  // Five steps on the progress bar; `waiting` (limit and sniper orders) shares
  // the first with `pending` and is drawn "armed" until its trigger fires.
  var STEPS = ["pending", "routing", "building", "submitted", "confirmed"];
  var LIFECYCLE = ["pending", "waiting", "routing", "building", "submitted", "confirmed"];
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
  // As the `amount` template filter writes it. Intl formats a decimal string
  // exactly; a Number would keep only 15-17 of its digits (a BONK fill has more).
  function fmtAmount(value, places) {
    if (value === null || value === undefined || value === "") return "—";
    var n = Number(value);
    if (!isFinite(n)) return String(value);
    var exact = typeof value === "string" ? value.trim() : n;
    var options = n !== 0 && Math.abs(n) < 1
      ? { maximumSignificantDigits: 6, useGrouping: false }
      : { maximumFractionDigits: places === undefined ? 6 : places };
    options.roundingMode = "halfEven";  // Python's Decimal rounds so
    return new Intl.NumberFormat("en-US", options).format(exact);
  }

  // Same rule as the `price` template filter: 6 significant digits.
  function fmtPrice(value) {
    var n = Number(value);
    if (!isFinite(n) || n === 0 || Math.abs(n) < 1) return fmtAmount(value);
    var places = Math.max(0, 6 - Math.floor(Math.log10(Math.abs(n))) - 1);
    return fmtAmount(n.toFixed(places), places);
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
  // The back-off starts over once a socket has served: a frame came, or it
  // stayed open STAYED_OPEN_MS. Not at the open itself: a server that
  // accepts and then fails (its database down) was asked again twice a
  // second, for as long as it failed.
  var STAYED_OPEN_MS = 5000;
  function liveSocket(path, handlers) {
    var delay = 500, socket = null, stopped = false, retry = null, openedAt = null;
    function connect() {
      socket = new WebSocket(wsUrl(path));
      openedAt = null;
      socket.onopen = function () {
        openedAt = Date.now();
        // "live" only once what the page shows has caught up (the dashboard
        // resyncs on open): before that, a row may still show old news. If
        // catching up fails, say so and try again while the socket is open.
        var opened = socket;
        function stillOpen() { return opened === socket && opened.readyState === WebSocket.OPEN; }
        function catchUp(wait) {
          Promise.resolve(handlers.open && handlers.open()).then(function () {
            if (stillOpen()) setConn("live", "live");
          }, function () {
            if (!stillOpen()) return;
            setConn("retrying", "catching up");
            setTimeout(function () { if (stillOpen()) catchUp(Math.min(wait * 2, 15000)); }, wait);
          });
        }
        catchUp(1000);
      };
      socket.onmessage = function (event) {
        delay = 500;
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        var messages = message.type === "batch" ? message.events || [] : [message];
        messages.forEach(handlers.message);
      };
      socket.onclose = function (event) {
        // A socket replaced since (the page came back from the browser's
        // cache and opened another) starts no reconnect of its own.
        if (stopped || event.target !== socket) return;
        if (handlers.closed && handlers.closed(event.code)) { setConn("idle", "done"); return; }
        setConn("retrying", "reconnecting");
        if (openedAt !== null && Date.now() - openedAt >= STAYED_OPEN_MS) delay = 500;
        var wait = delay * (0.75 + Math.random() * 0.5);
        delay = Math.min(delay * 2, 15000);
        retry = setTimeout(connect, wait);
      };
    }
    connect();
    window.addEventListener("pagehide", function () {
      stopped = true;
      clearTimeout(retry);  // else it would fire on the way back, beside pageshow's socket
      if (socket) socket.close();
    });
    // Back to a page the browser kept whole (its back/forward cache): the
    // socket closed on the way out, so open it again and catch up.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted || !stopped) return;
      stopped = false;
      delay = 500;
      setConn("retrying", "reconnecting");
      connect();
    });
  }

  // --- Order state ------------------------------------------------------------

  function rank(status) { return TERMINAL[status] ? LIFECYCLE.length : LIFECYCLE.indexOf(status); }

  function stepOf(status) { return status === "waiting" ? 0 : STEPS.indexOf(status); }

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
      var index = stepOf(entry.status);
      if (index >= 0 && (entry.attempt || 1) === order.attempt) reached = Math.max(reached, index + 1);
    });
    return Math.max(reached, stepOf(order.status) + 1);
  }

  // The same rule as orders.views._progress.
  function progress(order) {
    return STEPS.map(function (name, index) {
      if (order.status === "cancelled") return "cancelled"; // the whole bar greys out
      if (index >= order.reached) return "";
      if (order.status === "failed") return "failed";
      if (order.status === "waiting") return "armed";
      return order.status === "confirmed" || index < order.reached - 1 ? "done" : "current";
    });
  }

  // --- Limit and sniper orders: the trigger and the distance to it --------------

  // Best spot price per pair, both ways ("SOL/USDC": USDC per SOL), from /market.json.
  var prices = null;

  function percent(value) { return Math.abs(value) < 1 ? value.toFixed(2) : value.toFixed(1); }

  function isArmed(order) { return order.status === "pending" || order.status === "waiting"; }

  // The same rule as orders.views._trigger.
  function trigger(order) {
    var pay = order.tokenIn, get = order.tokenOut, distance = null, current;
    if (order.type === "limit" && order.limitPrice) {
      var limit = Number(order.limitPrice);
      if (isArmed(order) && prices) {
        current = prices[pay + "/" + get];
        if (current === undefined) distance = "no pool trades " + pay + "/" + get + " now";
        else if (Number(current) < limit) distance = "current best " + fmtPrice(current) + ", " + percent((limit - Number(current)) / limit * 100) + " % below the limit";
        else distance = "current best " + fmtPrice(current) + ": at the limit before fees and price impact";
      }
      return { text: "Limit " + fmtAmount(order.limitPrice) + " " + get + " per " + pay, distance: distance };
    }
    if (order.type === "sniper") {
      var text = "Waits for " + get + "'s first pool";
      if (order.maxPrice) text += " · at most " + fmtAmount(order.maxPrice) + " " + pay + " per " + get;
      if (isArmed(order) && prices) {
        current = prices[get + "/" + pay];
        distance = current === undefined ? get + " is not trading yet" : get + " trades at " + fmtPrice(current) + " " + pay + " per " + get;
      }
      return { text: text, distance: distance };
    }
    return null;
  }

  // Armed orders get a button, when this viewer may place orders at all.
  // The feed does not say whose an order is, so one another trader placed
  // has a button too until the engine refuses it (401 or 403); a refused
  // order gets none again, whatever the page reads of it later.
  var refusedCancels = new Set();

  function cancellable(order) {
    if (!viewerMayCancel || refusedCancels.has(order.orderId)) return false;
    return order.status === "waiting" || (order.status === "pending" && !!order.type && order.type !== "market");
  }

  function csrfToken(scope) {
    var input = (scope || document).querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // POST /api/orders/<id>/cancel; resolves to {ok, status, body}, or an
  // answer carrying the sentence to show when the engine cannot be reached.
  function cancelOrder(orderId, token) {
    return getJSON("/api/orders/" + orderId + "/cancel", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: "{}",
    }).then(function (answer) {
      if (!answer.ok && !answer.body.error) answer.body.error = "The order was not cancelled (HTTP " + answer.status + ").";
      return answer;
    }, function () {
      return { ok: false, status: 0, body: { error: "Could not reach the engine; the order was not cancelled." } };
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
  var viewerMayCancel = !rows || rows.getAttribute("data-may-cancel") !== "0";
  // Orders that fell off the bottom of the table, newest last: under load an
  // order falls off before it ends, and its later statuses are for no row.
  var dropped = new Set();
  // Orders whose news came for no row, waiting for the list to be read again.
  var unknown = new Set();

  function drop(orderId) {
    orders.delete(orderId);
    dropped.delete(orderId);  // (to the newest end)
    dropped.add(orderId);
    if (dropped.size > 1000) dropped.delete(dropped.values().next().value);
  }

  function renderTrigger(order) {
    var info = trigger(order);
    if (!info) return null;
    return h("div", { "class": "trigger" }, [
      h("span", { "class": "trigger-text" }, [info.text]),
      info.distance ? h("span", { "class": "distance" }, [info.distance]) : null,
    ]);
  }

  function renderCancel(order) {
    if (!cancellable(order)) return null;
    return h("form", { "class": "cancel-form", method: "post", action: "/orders/" + order.orderId + "/cancel" }, [
      h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken(form) }),
      h("button", { type: "submit", "class": "cancel" }, ["Cancel"]),
    ]);
  }

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
        order.type && order.type !== "market" ? " " : null,
        order.type && order.type !== "market" ? h("span", { "class": "type-tag" }, [order.type]) : null,
      ]),
      h("td", { "data-label": "Status", "class": "status-cell" }, [
        statusLine, steps(order, false), renderTrigger(order), renderCancel(order),
        order.cancelError ? h("div", { "class": "reason cancel-error", role: "alert" }, [order.cancelError]) : null,
        order.error ? h("div", { "class": "reason" }, [order.error]) : null,
      ]),
      h("td", { "data-label": "Route", "class": "dex" }, [order.dex || "—"]),
      h("td", { "data-label": "Received", "class": "num out" }, [out]),
    ]);
  }

  function sortedOrders() {
    return Array.from(orders.values()).sort(function (a, b) { return a.createdAt < b.createdAt ? 1 : -1; });
  }

  // Rows are drawn anew as orders change; the keyboard's place among them is
  // kept (the same control of the same order), where it fell back to the
  // top of the page with every redraw of the table.
  function keepingFocus(draw) {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest("tr[data-order-id]") : null;
    if (!row || !rows.contains(row)) { draw(); return; }
    var id = row.getAttribute("data-order-id");
    var index = Array.prototype.indexOf.call(row.querySelectorAll("a, button"), active);
    draw();
    var again = rows.querySelector('tr[data-order-id="' + id + '"]');
    // The control gone (a Cancel once the order has started): the row's link.
    var same = again && (index < 0 ? again : again.querySelectorAll("a, button")[index] || again.querySelector("a"));
    if (same && same !== document.activeElement) same.focus();
  }

  function renderAll() {
    keepingFocus(function () {
      var list = sortedOrders();
      list.slice(MAX_ROWS).forEach(function (order) { drop(order.orderId); });
      var fragment = document.createDocumentFragment();
      list.slice(0, MAX_ROWS).forEach(function (order) { fragment.appendChild(renderRow(order)); });
      rows.replaceChildren(fragment);
    });
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
      keepingFocus(function () { existing.replaceWith(row); });
    } else {
      // Newest first, by when the order was made: the feed can bring an
      // order's first status after a younger order's (each web process
      // publishes its own placements).
      var before = Array.prototype.find.call(rows.children, function (other) {
        var shown = orders.get(other.getAttribute("data-order-id"));
        return !shown || shown.createdAt < order.createdAt;
      });
      rows.insertBefore(row, before || null);
      var extra = rows.children[MAX_ROWS];
      if (extra) { drop(extra.getAttribute("data-order-id")); extra.remove(); }
    }
    if (isNew) row.classList.add("fresh");
    updateCount();
  }

  function fromRest(data) {
    var order = Object.assign({}, data);
    order.reached = reachedFromHistory(order);
    return order;
  }

  var ORDER_TYPES = { market: true, limit: true, sniper: true };

  function applyEvent(event) {
    // A `pending` message names the order's type; it may arrive as
    // `orderType` or, as the engine sends it today, in place of `type`.
    var kind = event.orderType || (ORDER_TYPES[event.type] ? event.type : null);
    if ((event.type !== "status" && !kind) || !event.orderId || !event.status) return;
    var order = orders.get(event.orderId);
    var attempt = event.attempt || 1;
    if (!order && event.status !== "pending") {
      // We missed this order's start (joined late or the socket dropped):
      // read the recent orders again rather than guess. Not for one that
      // fell off the table: at 100 orders/s that read the list twice a second.
      if (!dropped.has(event.orderId)) { unknown.add(event.orderId); scheduleResync(); }
      return;
    }
    if (order && order.provisional && !event.provisional && event.status === "pending") {
      // The server's time for an order the placement's answer drew first.
      delete order.provisional;
      order.createdAt = event.at;
      var drawn = rows.querySelector('tr[data-order-id="' + order.orderId + '"]');
      if (drawn) { drawn.remove(); showRow(order, false); }
      return;
    }
    if (!isNewer(order, attempt, event.status)) return;
    // Why a cancel was refused was about the status before this one.
    if (order && order.status !== event.status) delete order.cancelError;
    var isNew = !order;
    var wasWaiting = !!order && order.status === "waiting";
    order = order || { orderId: event.orderId, createdAt: event.at, reached: 0, attempt: attempt };
    if (attempt !== order.attempt) {
      // A retry starts over from routing: what the last attempt chose is void.
      order.reached = 0; order.dex = null; order.amountOut = null; order.txHash = null;
    }
    Object.keys(event).forEach(function (key) {
      if (key !== "type" && key !== "orderType" && key !== "at" && event[key] !== undefined) order[key] = event[key];
    });
    if (kind) order.type = kind;
    order.attempt = attempt;
    var index = stepOf(event.status);
    if (index >= 0) order.reached = Math.max(order.reached, index + 1);
    orders.set(order.orderId, order);
    showRow(order, isNew);
    // A confirmed swap moved a pool; a sniper leaving `waiting` means a new
    // pool opened: show the market as it is now rather than in 10 s.
    if (event.status === "confirmed" || (wasWaiting && event.status === "routing")) scheduleMarket();
  }

  function cancelFromRow(event) {
    var cancelForm = event.target.closest("form.cancel-form");
    if (!cancelForm) return;
    event.preventDefault();
    var row = cancelForm.closest("tr"), orderId = row.getAttribute("data-order-id");
    var button = cancelForm.querySelector("button");
    button.disabled = true;
    cancelOrder(orderId, csrfToken(cancelForm)).then(function (answer) {
      button.disabled = false;
      var order = orders.get(orderId);
      if (answer.ok) {
        var data = fromRest(answer.body);
        if (!order || isNewer(order, data.attempt, data.status)) { orders.set(orderId, data); showRow(data, false); }
        return;
      }
      // Too late (409: it started routing) or not allowed: say why, next to the order.
      if (order) {
        order.cancelError = answer.body.error;
        if (answer.status === 401 || answer.status === 403) refusedCancels.add(orderId);
        showRow(order, false);
        return;
      }
      var note = row.querySelector(".cancel-error") || row.querySelector(".status-cell").appendChild(h("div", { "class": "reason cancel-error", role: "alert" }));
      note.textContent = answer.body.error;
      scheduleResync();
    });
  }

  var resyncTimer = null;
  // How soon news of an unknown order reads the list again: soon, unless the
  // last read asked about such orders and none was among the newest. Then
  // they are older orders starting (a backlog draining, limit orders
  // firing), each of which would read the list again, three times a second.
  var resyncDelay = 300;
  var resyncing = false;  // a read of the list is on its way: the next waits for it
  function scheduleResync() {
    if (resyncTimer || resyncing) return;
    resyncTimer = setTimeout(function () {
      resyncTimer = null;
      resyncing = true;
      resync().then(function () {
        resyncing = false;
        // News that came while it was read, timed by what this read found.
        if (unknown.size) scheduleResync();
      }, function () {
        resyncing = false;  // the next event or reconnect reads it again
      });
    }, resyncDelay);
  }

  // Rejects when the list could not be read: the page may be behind.
  function resync() {
    var asked = Array.from(unknown);
    unknown.clear();
    return getJSON("/api/orders?limit=" + MAX_ROWS).then(function (answer) {
      if (!answer.ok) { asked.forEach(function (id) { unknown.add(id); }); throw new Error("the order list answered " + answer.status); }
      var results = answer.body.results || [];
      var listed = new Set(results.map(function (data) { return data.orderId; }));
      // Not among the newest: an older order (a limit order placed long ago
      // that fired). Its news is for no row; reading the list again for each
      // of its statuses would only redraw the table.
      asked.forEach(function (id) { if (!listed.has(id)) drop(id); });
      var foundNone = asked.length > 0 && !asked.some(function (id) { return listed.has(id); });
      resyncDelay = foundNone ? 3000 : 300;
      results.forEach(function (data) {
        var current = orders.get(data.orderId);
        if (!current || isNewer(current, data.attempt, data.status) || (current.attempt === data.attempt && current.status === data.status)) {
          var next = fromRest(data);
          // Why a cancel was refused stays under the order while its status does.
          if (current && current.cancelError && current.status === next.status) next.cancelError = current.cancelError;
          orders.set(data.orderId, next);
        }
      });
      renderAll();
    });
  }

  // --- Dashboard: the order form and the live quote -----------------------------

  var form = $("order-form");
  var lastQuote = null;

  function orderType() {
    var checked = form.querySelector("input[name=type]:checked");
    return checked ? checked.value : "market";
  }

  function positive(text) {
    var value = Number(String(text).trim());
    return text.trim() !== "" && isFinite(value) && value > 0 ? value : null;
  }

  // Units follow the selected tokens: a limit price is tokenOut per tokenIn,
  // a sniper's max price SOL per token.
  function updateUnits() {
    $("limit-unit").textContent = form.tokenOut.value + " per " + form.tokenIn.value;
    $("max-unit").textContent = "SOL per " + (form.snipeToken.value || "token");
  }

  // "You receive": the best quote for a market order, at least amount x limit
  // for a limit order, at least amount / max price for a sniper.
  function updateEstimate() {
    var type = orderType(), amount = positive(form.amount.value), text = "—";
    var quoted = lastQuote && lastQuote.best ? fmtAmount(lastQuote.best.amountOut) : "—";
    if (type === "market") text = quoted;
    if (type === "limit") {
      var limit = positive(form.limitPrice.value);
      text = amount && limit ? "≥ " + fmtAmount(amount * limit) : quoted;
    }
    if (type === "sniper") {
      var most = positive(form.maxPrice.value);
      if (amount && most) text = "≥ " + fmtAmount(amount / most);
    }
    $("estimate").textContent = text;
    var now = $("limit-now");
    if (lastQuote && lastQuote.best && Number(lastQuote.amount) > 0) {
      now.textContent = "Now " + fmtAmount(Number(lastQuote.best.amountOut) / Number(lastQuote.amount)) + " " + lastQuote.tokenOut +
        " per " + lastQuote.tokenIn + " for this amount; the order fills when the price reaches your limit.";
    } else {
      now.textContent = "Fills when the whole amount gets at least this price.";
    }
  }

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

  var quoteTimer = null, quoteSeq = 0, placements = 0, servedErrors = false;
  var quoteBox = $("quote");

  function scheduleQuote() {
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requestQuote, 250);
  }

  function requestQuote() {
    var amount = form.amount.value.trim();
    var seq = ++quoteSeq, placed = servedErrors ? -1 : placements;
    servedErrors = false;
    var inputErrors = currentErrors();
    delete inputErrors.amount; delete inputErrors.tokenIn; delete inputErrors.tokenOut; delete inputErrors.non_field_errors;
    if (!amount || orderType() === "sniper") {
      // No quote without an amount, nor for a token that does not trade yet.
      quoteBox.hidden = true; lastQuote = null; updateEstimate(); setErrors(inputErrors); return;
    }
    var params = new URLSearchParams({ tokenIn: form.tokenIn.value, tokenOut: form.tokenOut.value, amount: amount });
    quoteBox.classList.add("loading");
    getJSON("/api/quote?" + params).then(function (answer) {
      if (seq !== quoteSeq) return; // a newer keystroke won
      quoteBox.classList.remove("loading");
      // A placement answered since this quote was asked for: its errors
      // (or its success) are newer than the ones this quote started from.
      if (placed !== placements) inputErrors = currentErrors();
      if (answer.ok) {
        setErrors(inputErrors);
        showQuote(answer.body);
      } else if (answer.body.fields) {
        setErrors(Object.assign(inputErrors, answer.body.fields));
        quoteBox.hidden = true;
        lastQuote = null;
        updateEstimate();
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
    lastQuote = null;
    updateEstimate();
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
    lastQuote = quote;
    updateEstimate();
    quoteBox.hidden = false;
  }

  var unanswered = null;  // { key, body } of the last placement that got no answer
  var MAY_BE_PLACED = "The order may or may not be placed: place it again to retry; it will not be placed twice.";

  function newIdempotencyKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);  // unlike crypto.randomUUID, also on plain http
    return "dashboard-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function submitOrder(event) {
    event.preventDefault();
    var slippage = slippageBps();
    if (slippage.error) { setErrors({ slippageBps: [slippage.error] }); return; }
    var button = $("submit");
    button.disabled = true;
    var type = orderType();
    var body = { type: type, amount: form.amount.value.trim(), tokenIn: form.tokenIn.value, tokenOut: form.tokenOut.value, slippageBps: slippage.value };
    if (type === "limit") {
      if (form.limitPrice.value.trim()) body.limitPrice = form.limitPrice.value.trim();
      body.expiresInSeconds = Number(form.expiresIn.value);
    }
    if (type === "sniper") {
      // New tokens launch against SOL: a sniper pays in SOL.
      body.tokenIn = "SOL"; body.tokenOut = form.snipeToken.value;
      if (form.maxPrice.value.trim()) body.maxPrice = form.maxPrice.value.trim();
      body.expiresInSeconds = Number(form.expiresIn.value);
    }
    // A placement whose answer never came may have been placed: sent again
    // unchanged, it carries the same Idempotency-Key, so the engine answers
    // with that order instead of placing a second one.
    var text = JSON.stringify(body);
    var key = unanswered && unanswered.body === text ? unanswered.key : newIdempotencyKey();
    getJSON("/api/orders/execute", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value, "Idempotency-Key": key },
      body: text,
    }).then(function (answer) {
      button.disabled = false;
      placements++;
      // A 5xx may come from a proxy after the engine placed the order: keep the key.
      unanswered = answer.status >= 500 ? { key: key, body: text } : null;
      if (!answer.ok) {
        var why = answer.status >= 500
          ? (answer.body.error ? answer.body.error + " " : "The engine answered HTTP " + answer.status + ". ") + MAY_BE_PLACED
          : answer.body.error || "The order was not accepted (HTTP " + answer.status + ").";
        setErrors(answer.body.fields || { non_field_errors: [why] });
        return;
      }
      setErrors({});
      // The feed usually announces the order first; if not, show it now, on
      // top: this browser's clock may run behind the server's. The feed's
      // `pending` brings the time the server gave it.
      if (!orders.has(answer.body.orderId)) {
        var newest = sortedOrders()[0], at = new Date().toISOString();
        if (newest && newest.createdAt >= at) at = new Date(Date.parse(newest.createdAt) + 1).toISOString();
        applyEvent({ type: "status", orderId: answer.body.orderId, status: "pending", at: at, attempt: 1,
                     tokenIn: body.tokenIn, tokenOut: body.tokenOut, amount: body.amount, orderType: type,
                     limitPrice: body.limitPrice, maxPrice: body.maxPrice, provisional: true });
      }
    }).catch(function () {
      button.disabled = false;
      placements++;
      unanswered = { key: key, body: text };
      setErrors({ non_field_errors: ["No answer from the engine. " + MAY_BE_PLACED] });
    });
  }

  // --- Dashboard: market panel ---------------------------------------------------

  var marketTimer = null;
  function scheduleMarket() {
    if (!marketTimer) marketTimer = setTimeout(function () { marketTimer = null; refreshMarket(); }, 500);
  }

  // Waiting orders' distance to their trigger, redrawn in place (not the
  // whole row, so a Cancel button under the pointer stays put).
  function updateDistances() {
    orders.forEach(function (order) {
      var info = isArmed(order) ? trigger(order) : null;
      var row = info && rows.querySelector('tr[data-order-id="' + order.orderId + '"]');
      if (!row || !info.distance) return;
      var node = row.querySelector(".trigger .distance");
      if (!node) node = row.querySelector(".trigger").appendChild(h("span", { "class": "distance" }));
      node.textContent = info.distance;
    });
  }

  function refreshMarket() {
    if (document.hidden) return;
    getJSON("/market.json").then(function (answer) {
      if (!answer.ok) return;
      prices = answer.body.prices || {};
      updateDistances();
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
    form.querySelectorAll("input[name=type]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        // Errors of the other type's fields no longer apply.
        setErrors({});
        scheduleQuote();
      });
    });
    ["tokenIn", "tokenOut", "snipeToken"].forEach(function (name) { form[name].addEventListener("change", updateUnits); });
    ["limitPrice", "maxPrice"].forEach(function (name) {
      form[name].addEventListener("input", function () {
        var fields = currentErrors(); delete fields[name]; setErrors(fields);
        updateEstimate();
      });
    });
    updateUnits();
    rows.addEventListener("submit", cancelFromRow);
    ["slippage", "slippageUnit"].forEach(function (name) {
      form[name].addEventListener("input", function () {
        var fields = currentErrors(); delete fields.slippageBps; setErrors(fields);
      });
    });
    var flip = $("flip");
    flip.hidden = false;
    flip.addEventListener("click", function () {
      var a = form.tokenIn.value; form.tokenIn.value = form.tokenOut.value; form.tokenOut.value = a;
      updateUnits();
      scheduleQuote();
    });
    form.addEventListener("submit", submitOrder);
    // A form posted before this script ran came back with the server's errors: the first quote keeps them.
    if (form.amount.value.trim()) {
      servedErrors = Object.keys(currentErrors()).length > 0;
      scheduleQuote();
    }
    liveSocket("/ws/orders", { open: resync, message: applyEvent });
    refreshMarket();
    setInterval(refreshMarket, 10000);
    document.addEventListener("visibilitychange", refreshMarket);
  }

  // --- Order detail ------------------------------------------------------------------

  function startDetail(body) {
    var orderId = body.getAttribute("data-order-id");
    var loading = false, again = null, cancelError = null, waitTimer = null;
    // Why a cancel was refused is about the status the order had then: kept
    // until a page drawn after the refusal shows the order moved on.
    var draws = 0, refusedFrom = 0, refusedAt = null;
    // Each status message redraws the page body from the server's template, so
    // the live page and the no-JS page are drawn by the same code.
    var failedDraws = 0;
    function redraw(distanceOnly) {
      // One more after this one, whole if any asked for it whole.
      if (loading) { again = again === "whole" || !distanceOnly ? "whole" : "distance"; return; }
      loading = true;
      var draw = ++draws;
      fetch("/orders/" + orderId + "?fragment=1").then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html === null) throw new Error("not drawn");
        failedDraws = 0;
        if (!(distanceOnly && redrawDistance(html))) {
          body.innerHTML = html; forgetAStaleRefusal(draw); showCancelError();
        }
        body.setAttribute("data-drawn", draw);  // for a test to know the draw is done
      }).catch(function () {
        // Asked again, a few times: after the final status no message
        // comes to redraw, and the page showed "submitted" for good.
        if (++failedDraws <= 5 && !again) again = distanceOnly ? "distance" : "whole";
      }).then(function () {
        loading = false;
        if (again) {
          var inPlace = again === "distance"; again = null;
          if (failedDraws) setTimeout(function () { redraw(inPlace); }, 1000 * failedDraws);
          else redraw(inPlace);
        }
        watchTrigger();
      });
    }
    // While the order waits, only its distance to the trigger changes: drawn
    // in place, so that the Cancel button keeps the keyboard's focus and a
    // screen reader its place. False when more than that changed.
    function redrawDistance(html) {
      var page = document.createElement("template");
      page.innerHTML = html;
      var distance = body.querySelector("#distance"), newDistance = page.content.querySelector("#distance");
      if (!distance || !newDistance) return false;
      var now = document.createElement("template");
      now.innerHTML = body.innerHTML;
      if (withoutWhatChangesAlone(now.content) !== withoutWhatChangesAlone(page.content)) return false;
      if (distance.textContent !== newDistance.textContent) distance.textContent = newDistance.textContent;
      return true;
    }
    // The page as the server drew it, less the distance and the CSRF token
    // (masked anew on every render): what must be the same for the distance
    // alone to be redrawn.
    function withoutWhatChangesAlone(fragment) {
      fragment.querySelectorAll("#distance, input[name=csrfmiddlewaretoken]").forEach(function (node) { node.remove(); });
      var refusal = fragment.querySelector("#cancel-error");
      if (refusal) refusal.remove();  // this page's own, drawn after each redraw
      var holder = document.createElement("div");
      holder.appendChild(fragment);
      // Trimmed: the page as first served wraps the same body in whitespace.
      return holder.innerHTML.trim();
    }
    function forgetAStaleRefusal(draw) {
      if (!cancelError || draw < refusedFrom) return;
      var badge = body.querySelector("#order-status");
      var shown = badge ? badge.textContent : null;
      if (refusedAt === null) refusedAt = shown;
      else if (shown !== refusedAt) cancelError = null;
    }
    function showCancelError() {
      var node = body.querySelector("#cancel-error");
      if (!node || !cancelError) return;
      node.hidden = false;
      node.textContent = cancelError;
    }
    // Prices move without the order moving: while it waits, redraw its
    // distance to the trigger every 10 s.
    function watchTrigger() {
      clearTimeout(waitTimer);
      if (body.querySelector("[data-waiting]")) waitTimer = setTimeout(function () { if (!document.hidden) redraw(true); else watchTrigger(); }, 10000);
    }
    body.addEventListener("submit", function (event) {
      var cancelForm = event.target.closest("form.cancel-form");
      if (!cancelForm) return;
      event.preventDefault();
      cancelForm.querySelector("button").disabled = true;
      cancelOrder(orderId, csrfToken(cancelForm)).then(function (answer) {
        cancelError = answer.ok ? null : answer.body.error;
        refusedFrom = draws + 1; refusedAt = null;
        showCancelError();
        redraw();
      });
    });
    watchTrigger();
    if (body.getAttribute("data-terminal") === "1") { setConn("idle", "final"); return; }
    liveSocket("/ws/orders/" + orderId, {
      // In place when nothing but the distance changed: the snapshot each
      // (re)connect brings redrew the page whole, and took the keyboard's
      // focus off Cancel.
      message: function (message) { if (message.type !== "error" && message.status) redraw(true); },
      closed: function (code) { return code === 1000 || code === 4404; },
    });
  }

  if (form && rows) startDashboard();
  var detail = $("order-body");
  if (detail) startDetail(detail);
})();
