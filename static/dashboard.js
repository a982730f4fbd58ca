// The page's own behaviour, on top of htmx and its SSE extension:
// - one row per task id: an event's row replaces the row where it stands, or moves it to the
//   list it now belongs in, and never goes back to an older state (events and form answers
//   can arrive in either order);
// - the SSE URL remembers the last event id, because the extension reconnects with the URL
//   it was given and without the Last-Event-ID header;
// - the CPU and memory chart, fed by each host event;
// - times shown in the viewer's time zone.
(function () {
  "use strict";

  function rankOf(row) {
    return (row.dataset.rank || "0").split(".").map(Number);
  }

  function isOlder(a, b) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const left = a[i] || 0;
      const right = b[i] || 0;
      if (left !== right) return left < right;
    }
    return false;
  }

  // A row put in place by this script, not by htmx, needs htmx's processing and local times.
  function settleRow(row) {
    htmx.process(row);
    localizeTimes(row);
  }

  function placeRow(row, target) {
    const existing = document.getElementById(row.id);
    if (!existing) {
      // No row, but a filtered list may have left out a later state of this task.
      const left = leftOut.get(row.id);
      if (left && isOlder(rankOf(row), left)) row.remove();
      return;
    }
    if (isOlder(rankOf(row), rankOf(existing))) {
      row.remove(); // stale: the page already shows a later state of this task
    } else if (existing.parentElement === target) {
      row.remove(); // out of the event's fragment: htmx is not to insert it
      patch(existing, row);
    } else {
      existing.remove(); // it moves to another list; htmx inserts it there
    }
  }

  // An event or a poll brings a whole row or card; replacing all of it would take a button
  // away from under a pressed mouse or the keyboard's focus (a running task's row comes four
  // times a second). So what is unchanged stays in place: text and attributes are brought up
  // to date where they stand, and only an element whose kind, children, class or htmx
  // attributes change is replaced (and handed to htmx). A time keeps its local wording while
  // its moment is the same.
  function patch(current, fresh) {
    if (current.nodeType !== Node.ELEMENT_NODE || current.nodeName !== fresh.nodeName) {
      if (current.nodeType === Node.TEXT_NODE && fresh.nodeType === Node.TEXT_NODE) {
        if (current.nodeValue !== fresh.nodeValue) current.nodeValue = fresh.nodeValue;
      } else {
        replaceNode(current, fresh);
      }
      return;
    }
    if (current.nodeName === "TIME") { // keeps its local wording, or is put in local anew
      if (!sameAttribute(current, fresh, "datetime")) replaceNode(current, fresh);
      return;
    }
    if (!sameShape(current, fresh)) {
      replaceNode(current, fresh);
      return;
    }
    copyAttributes(current, fresh);
    const pairs = Array.from(current.childNodes, (node, index) => [node, fresh.childNodes[index]]);
    for (const [node, freshNode] of pairs) patch(node, freshNode);
  }

  function replaceNode(current, fresh) {
    current.replaceWith(fresh);
    if (fresh.nodeType === Node.ELEMENT_NODE) settleRow(fresh);
  }

  function sameAttribute(a, b, name) {
    return a.getAttribute(name) === b.getAttribute(name);
  }

  function htmxAttributes(element) {
    return Array.from(element.attributes)
      .filter((attribute) => /^(hx-|sse-)/.test(attribute.name))
      .map((attribute) => attribute.name + "=" + attribute.value)
      .join(" ");
  }

  // Classes of the page's own, without those htmx adds while it works (htmx-request...).
  function ownClasses(element) {
    return Array.from(element.classList).filter((name) => !name.startsWith("htmx-")).join(" ");
  }

  function sameShape(current, fresh) {
    return current.childNodes.length === fresh.childNodes.length
      && ownClasses(current) === ownClasses(fresh)
      && htmxAttributes(current) === htmxAttributes(fresh);
  }

  function copyAttributes(current, fresh) { // all but class, the same but for htmx's own
    for (const attribute of Array.from(current.attributes)) {
      if (attribute.name === "class") continue;
      if (!fresh.hasAttribute(attribute.name)) current.removeAttribute(attribute.name);
    }
    for (const attribute of Array.from(fresh.attributes)) {
      if (attribute.name === "class") continue;
      if (current.getAttribute(attribute.name) !== attribute.value) {
        current.setAttribute(attribute.name, attribute.value);
      }
    }
  }

  // A process's output, asked for every two seconds, is left alone when nothing was added (a
  // selection in it stays), follows new lines while it is read at its end, and keeps its
  // place when the reader has scrolled up in it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const log = event.detail.target;
    if (!log || !log.classList.contains("log") || !event.detail.shouldSwap) return;
    const template = document.createElement("template");
    template.innerHTML = event.detail.serverResponse;
    if (log.hasChildNodes() && template.content.textContent === log.textContent) {
      event.detail.shouldSwap = false;
      return;
    }
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 4;
    log.dataset.follow = atEnd || !log.hasChildNodes() ? "yes" : "no";
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const log = event.detail.target;
    if (log && log.classList.contains("log") && log.dataset.follow === "yes") {
      log.scrollTop = log.scrollHeight;
    }
  });

  // A card that polls (a task's status, the processes) is patched in place too.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || !target.hasAttribute("data-patch") || !event.detail.shouldSwap) return;
    const template = document.createElement("template");
    template.innerHTML = event.detail.serverResponse.trim();
    const fresh = template.content.firstElementChild;
    if (!fresh || fresh.id !== target.id) return; // not the same card: htmx swaps as usual
    event.detail.shouldSwap = false;
    patch(target, fresh);
    announceTaskEnd();
  });

  // A task page says the task's end to a screen reader once, in its status line: only for a
  // task seen running (one opened ended says so in its heading).
  let taskSeenActive = false;

  function announceTaskEnd() {
    const card = document.getElementById("task-detail");
    const news = document.getElementById("task-news");
    if (!card || !news) return;
    if (!card.dataset.ended) taskSeenActive = true;
    else if (taskSeenActive && news.textContent !== card.dataset.ended) {
      news.textContent = card.dataset.ended;
    }
  }
  document.addEventListener("DOMContentLoaded", announceTaskEnd);

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    const { target, fragment } = event.detail;
    noteLateRows(target, fragment);
    for (const row of Array.from(fragment.children || [])) {
      if (row.id && row.classList.contains("task-row")) placeRow(row, target);
    }
    keepNewsOutOfFilteredList(target, fragment);
  });

  // A filtered Finished list is a snapshot of what matched: a task that finishes now may not
  // match, and the server does not say, so it is left out and counted instead (once per task:
  // an event can come twice). Rows already in the list were updated in place by placeRow.
  // The rank of each row left out is kept, so that an older state of the same task arriving
  // later (the start form's answer can come after the task has finished) is not shown either.
  const unseenByList = new WeakMap();
  const leftOut = new Map(); // task row id -> the latest rank left out of a filtered list

  function keepNewsOutOfFilteredList(target, fragment) {
    const filtered = target.closest("[data-filtered]");
    if (!filtered || !fragment.hasAttribute || !fragment.hasAttribute("data-live")) return;
    const news = Array.from(fragment.children).filter((row) => row.classList.contains("task-row"));
    for (const row of news) row.remove();
    leaveOut(filtered, news);
  }

  // Rows a filtered list does not take: counted once each, their ranks remembered.
  function leaveOut(filtered, rows) {
    if (!unseenByList.has(filtered)) unseenByList.set(filtered, new Set());
    const unseen = unseenByList.get(filtered);
    for (const row of rows) {
      unseen.add(row.id);
      const left = leftOut.get(row.id);
      if (!left || isOlder(left, rankOf(row))) leftOut.set(row.id, rankOf(row));
    }
    const note = filtered.querySelector("#finished-unseen");
    if (!note || !unseen.size) return;
    note.textContent = unseen.size === 1
      ? "1 task has finished since."
      : unseen.size + " tasks have finished since.";
    note.hidden = false;
  }

  // A filter change asks for the Finished list and replaces it with the answer, which is the
  // list as the server read it. A task that finished while the answer was on its way came by
  // its event, into the list about to be replaced: without this, it would vanish until the
  // next page load. Such rows are kept: put back on top of a live list, or counted as
  // finished since in a filtered one.
  const lateRows = { xhr: null, rows: new Map() };

  document.addEventListener("htmx:beforeRequest", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "finished-list") return;
    lateRows.xhr = event.detail.xhr; // hx-sync replaces any earlier request: only this one swaps
    lateRows.rows = new Map();
  });

  function noteLateRows(target, fragment) {
    if (!lateRows.xhr || target.id !== "finished-rows") return;
    if (!fragment.hasAttribute || !fragment.hasAttribute("data-live")) return;
    for (const row of Array.from(fragment.children)) {
      if (!row.id || !row.classList.contains("task-row")) continue;
      lateRows.rows.delete(row.id); // keep arrival order: the latest goes on top
      lateRows.rows.set(row.id, row.cloneNode(true));
    }
  }

  function restoreLateRows(list) {
    const body = list.querySelector("#finished-rows");
    if (!body) return;
    if (list.hasAttribute("data-filtered")) {
      const rows = Array.from(lateRows.rows.values());
      leaveOut(list, rows.filter((row) => !document.getElementById(row.id)));
      return;
    }
    for (const row of lateRows.rows.values()) {
      const existing = document.getElementById(row.id);
      if (existing && !isOlder(rankOf(existing), rankOf(row))) continue;
      if (existing) existing.remove();
      body.prepend(row);
      settleRow(row);
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    const list = event.target;
    if (event.detail.xhr !== lateRows.xhr || list.id !== "finished-list") return;
    restoreLateRows(list);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.xhr !== lateRows.xhr) return;
    lateRows.xhr = null;
    lateRows.rows = new Map();
  });

  // A start form's answer replaces the form, filled in with what was sent. What was typed or
  // chosen while the answer was on its way is put back into the new form: no keystroke lost.
  const sentForms = new Map(); // form id -> { sent, typed }: its fields' values when sent, and just before the answer's swap

  function isCheckable(field) {
    return field.type === "checkbox" || field.type === "radio";
  }

  function fieldKey(field) {
    return isCheckable(field) ? field.name + "=" + field.value : field.name;
  }

  function fieldValues(form) {
    const values = new Map();
    for (const field of Array.from(form.elements)) {
      if (!field.name || field.type === "hidden" || field.type === "submit") continue;
      values.set(fieldKey(field), isCheckable(field) ? field.checked : field.value);
    }
    return values;
  }

  function putBackTyped(form, sent, typed) {
    for (const field of Array.from(form.elements)) {
      const key = fieldKey(field);
      if (!typed.has(key) || typed.get(key) === sent.get(key)) continue;
      if (isCheckable(field)) field.checked = typed.get(key);
      else field.value = typed.get(key);
    }
  }

  function isStartForm(element) {
    return element && element.classList && element.classList.contains("task-form");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = event.detail.elt;
    if (isStartForm(form)) sentForms.set(form.id, { sent: fieldValues(form), typed: null });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    const form = event.detail.elt;
    const values = isStartForm(form) && sentForms.get(form.id);
    if (values) values.typed = fieldValues(form);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const formId = event.detail.elt && event.detail.elt.id;
    const values = sentForms.get(formId);
    if (!values || !values.typed) return;
    sentForms.delete(formId);
    const form = document.getElementById(formId);
    if (form) putBackTyped(form, values.sent, values.typed);
  });

  // The second click of a double-click on a start button is not a second start: a short task
  // answers within it, so the fresh form's button would otherwise take it and start the task
  // again. Nor on Retry, whose button stays. (Enter and single clicks, even quick ones, start a
  // task each.)
  document.addEventListener("click", function (event) {
    if (event.detail < 2 || !event.target.closest) return;
    if (event.target.closest(".task-form button[type=submit]")) event.preventDefault();
    if (event.target.closest("button.retry")) {
      event.preventDefault(); // nor the form it sits in, for a browser without script
      event.stopPropagation(); // htmx never hears it
    }
  }, true);

  function rememberLastEventId(event) {
    const id = event.detail && event.detail.lastEventId;
    const live = document.getElementById("live");
    if (!id || !live) return;
    const url = new URL(live.getAttribute("sse-connect"), window.location.href);
    url.searchParams.set("last_event_id", id);
    live.setAttribute("sse-connect", url.pathname + url.search);
  }

  // What the stream last said of itself; while paused the badge says so instead.
  const connection = { state: "connecting", text: "connecting…" };

  function showConnection(state, text) {
    connection.state = state;
    connection.text = text;
    // While the stream is down, what it keeps up to date is dimmed (dashboard.css): a worker
    // "online" or a task in PROGRESS may no longer be so (QA).
    document.body.dataset.connection = state;
    showBadge();
  }

  function showBadge() {
    const badge = document.getElementById("connection");
    if (!badge) return;
    const count = pause.waiting.length;
    const waiting = pause.overflowed ? "many updates"
      : count + (count === 1 ? " update" : " updates");
    const held = connection.state === "live" && pause.on;
    badge.dataset.state = held ? "paused" : connection.state;
    badge.textContent = held ? "paused: " + waiting + " waiting" : connection.text;
  }

  // Live updates can be paused (WCAG 2.2.2: content that moves on its own can be stopped).
  // The stream stays open, so nothing is missed: what it brings waits and comes in, in order,
  // on resume. A region replaced whole (gauges, workers, a list) keeps only its latest, and so
  // does each task (its progress ticks came four a second: QA saw 80 waiting in 20 s); notices
  // keep all of theirs. The chart still takes each reading, drawn on resume; a card that
  // polls (the processes) does not poll meanwhile. Past PAUSE_HOLDS_AT_MOST waiting updates
  // the page is read afresh instead.
  const PAUSE_HOLDS_AT_MOST = 2000;
  const pause = { on: false, waiting: [], overflowed: false };

  // What a newer update of the same thing replaces while waiting; null: each one is kept.
  function heldKey(region, data, swapStyle) {
    if (swapStyle === "outerHTML") return region.id;
    const task = region.id === "task-events" && /id="(task-[^"]+)"/.exec(data);
    return task ? task[1] : null;
  }

  function recordChartPoint(data) {
    const holder = document.createElement("template");
    holder.innerHTML = data;
    const gauges = holder.content.querySelector("#host-gauges");
    if (gauges) addPointOf(gauges);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const poller = event.detail.elt;
    const trigger = (poller && poller.getAttribute && poller.getAttribute("hx-trigger")) || "";
    if (pause.on && /\bevery\b/.test(trigger)) event.preventDefault();
  });

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (!pause.on) return;
    event.preventDefault();
    rememberLastEventId(event); // a reconnect meanwhile resumes after what is held
    hold(event.detail.elt, event.detail.data);
    showBadge();
  });

  function hold(region, data) {
    if (region.id === "host-gauges") recordChartPoint(data);
    if (pause.overflowed) return;
    const swapStyle = region.getAttribute("hx-swap") || "innerHTML";
    const key = heldKey(region, data, swapStyle);
    if (key) pause.waiting = pause.waiting.filter((held) => held.key !== key);
    pause.waiting.push({ id: region.id, key: key, data: data, swapStyle: swapStyle });
    if (pause.waiting.length > PAUSE_HOLDS_AT_MOST) {
      pause.overflowed = true;
      pause.waiting = [];
    }
  }

  function resumeUpdates() {
    pause.on = false;
    if (pause.overflowed) {
      window.location.reload();
      return;
    }
    const waiting = pause.waiting;
    pause.waiting = [];
    for (const held of waiting) {
      const region = document.getElementById(held.id);
      if (!region) continue;
      const spec = { swapStyle: held.swapStyle, swapDelay: 0, settleDelay: 0, ignoreTitle: true };
      htmx.swap(region, held.data, spec, { contextElement: region });
      htmx.trigger(region, "htmx:sseMessage", { data: held.data });
    }
    showBadge();
  }

  // The button says what it will do (not aria-pressed, whose label would have to stay the
  // same); focus stays on it, so a screen reader reads its new name.
  function togglePause(button) {
    if (pause.on) {
      resumeUpdates();
    } else {
      pause.on = true;
      showBadge();
    }
    button.textContent = pause.on ? "Resume updates" : "Pause updates";
  }

  document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("live-pause");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", () => togglePause(button));
  });

  document.addEventListener("htmx:sseMessage", rememberLastEventId);
  document.addEventListener("htmx:sseOpen", function () { showConnection("live", "live"); });
  document.addEventListener("htmx:sseError", function () {
    showConnection("reconnecting", "reconnecting…");
    sendToLoginIfSignedOut();
  });

  // A stream refused because the session ended (logged out elsewhere, or expired) would retry
  // for ever; ask once whether we are still logged in, and if not go to the login page.
  let checkingLogin = false;
  // Logging out from this page ends its stream too: the logout's own answer says where to go.
  let loggingOut = false;
  function isLogout(event) {
    return Boolean(event.detail.requestConfig && event.detail.requestConfig.path === "/logout");
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isLogout(event)) loggingOut = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    // Refused or not sent: still logged in. (Not `successful`, which htmx leaves unset on
    // the logout's own answer, a redirect.)
    const status = event.detail.xhr.status;
    if (isLogout(event) && (status === 0 || status >= 400)) loggingOut = false;
  });
  function sendToLoginIfSignedOut() {
    if (checkingLogin || loggingOut) return;
    checkingLogin = true;
    fetch("/api/me", { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          const here = window.location.pathname + window.location.search;
          // "ended": the login page says why (QA: it was an empty form, with no reason).
          window.location.assign("/login?next=" + encodeURIComponent(here) + "&ended=1");
        } else if (response.ok) {
          return explainRefusedStream();
        }
      })
      .catch(function () { /* the server is down: the stream's own retries go on */ })
      .finally(function () { checkingLogin = false; });
  }

  // Still logged in, yet the stream fails: an EventSource hides the answer's status, so ask
  // the stream's address (HEAD costs only its headers). A 429 is the per-user stream limit:
  // say so, rather than "reconnecting…" for ever; the stream's own retries go on, and the
  // page is live again once other pages close.
  function explainRefusedStream() {
    const live = document.getElementById("live");
    if (!live) return undefined;
    return fetch(live.getAttribute("sse-connect"), { method: "HEAD", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 429) {
          showConnection("refused", "not live: too many pages open, close some");
        }
      });
  }

  // A time of today shows as the clock alone; an earlier one with its day, and its year if
  // not this one, so a long history reads without doubt. Hovering shows the full moment.
  const clock = { hour: "2-digit", minute: "2-digit", hour12: false };
  const timeFormats = {
    today: new Intl.DateTimeFormat(undefined, { ...clock, second: "2-digit" }),
    thisYear: new Intl.DateTimeFormat(undefined, { ...clock, month: "short", day: "numeric" }),
    older: new Intl.DateTimeFormat(undefined, {
      ...clock, year: "numeric", month: "short", day: "numeric",
    }),
    full: new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }),
  };

  function shownTime(moment, now) {
    if (moment.toDateString() === now.toDateString()) return timeFormats.today.format(moment);
    if (moment.getFullYear() === now.getFullYear()) return timeFormats.thisYear.format(moment);
    return timeFormats.older.format(moment);
  }

  function localizeTimes(root) {
    const now = new Date();
    const times = Array.from(root.querySelectorAll("time[datetime]"));
    if (root.matches && root.matches("time[datetime]")) times.push(root); // a time swapped in
    for (const element of times) {
      const moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) continue;
      element.textContent = shownTime(moment, now);
      element.title = timeFormats.full.format(moment);
    }
  }

  document.addEventListener("htmx:load", function (event) {
    localizeTimes(event.detail.elt);
    chartPoint(event.detail.elt);
  });

  const chart = { plot: null, data: [[], [], []], windowSeconds: 300 };

  // Readings come about once a second; a longer silence (the stream was down, the server
  // away) is drawn as a gap, not as a straight line across it (QA).
  const CHART_GAP_SECONDS = 5;

  function addPoint(t, cpu, memory) {
    const [times, cpus, memories] = chart.data;
    const last = times.length ? times[times.length - 1] : null;
    if (last !== null && t <= last) return;
    if (last !== null && t - last > CHART_GAP_SECONDS) {
      times.push(last + 1); cpus.push(null); memories.push(null);
    }
    times.push(t); cpus.push(cpu); memories.push(memory);
    while (times.length && times[0] < t - chart.windowSeconds) {
      times.shift(); cpus.shift(); memories.shift();
    }
  }

  function chartWidth(container) {
    return Math.max(240, container.clientWidth);
  }

  // The chart's times on the same 24-hour clock as the rest of the page (uPlot's own is
  // "8:26pm" under a date): with seconds while its ticks are under a minute apart.
  const minuteFormat = new Intl.DateTimeFormat(undefined, clock);

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

  function chartTime(t, step) {
    return (step < 60 ? timeFormats.today : minuteFormat).format(new Date(t * 1000));
  }

  function percent(value) {
    return value.toFixed(1) + " %";
  }

  function shownAt(value, series, idx, format) {
    const values = chart.data[series];
    const shown = idx == null ? values[values.length - 1] : value;
    return shown == null ? "–" : format(shown);
  }

  // The chart draws on a canvas, which CSS does not reach: its colours are read from the
  // page's variables, so it follows the light or dark theme.
  function themeColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function makeChart(container) {
    const ink = themeColour("--muted");
    const grid = { stroke: themeColour("--line") };
    const options = {
      width: chartWidth(container),
      height: 180,
      scales: { y: { range: [0, 100] } },
      axes: [
        // At least 80 px and a whole second apart: "23:11:00" labels neither touch nor repeat.
        { space: 80, incrs: TIME_STEPS, stroke: ink, grid: grid, ticks: grid, values: (_, ticks, _axis, _space, step) => ticks.map((t) => chartTime(t, step)) },
        { size: 56, stroke: ink, grid: grid, ticks: grid, values: (_, ticks) => ticks.map((v) => v + " %") },
      ],
      // Under the chart, the figures where the pointer is; elsewhere, the latest ones (QA: the
      // legend read "Time: – CPU: – Memory: –" unless a pointer was over the chart).
      series: [
        { value: (_, t, series, idx) => shownAt(t, series, idx, (v) => timeFormats.today.format(new Date(v * 1000))) },
        { label: "CPU", stroke: themeColour("--cpu-line"), width: 2, value: (_, v, series, idx) => shownAt(v, series, idx, percent) },
        { label: "Memory", stroke: themeColour("--memory-line"), width: 2, value: (_, v, series, idx) => shownAt(v, series, idx, percent) },
      ],
    };
    return new uPlot(options, chart.data, container);
  }

  function startChart() {
    const container = document.getElementById("host-chart-plot");
    const history = document.getElementById("host-history");
    if (!container || !history || typeof uPlot === "undefined") return;
    chart.windowSeconds = Number(container.dataset.windowSeconds) || 300;
    for (const point of JSON.parse(history.textContent)) addPoint(point.t, point.cpu, point.memory);
    chart.plot = makeChart(container);
    // The system turned dark or light while the page is open: the canvas is drawn again in
    // the new colours.
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      chart.plot.destroy();
      chart.plot = makeChart(container);
    });
    new ResizeObserver(function () {
      chart.plot.setSize({ width: chartWidth(container), height: 180 });
    }).observe(container);
  }

  // A host event replaces #host-gauges; the new element carries the sample's figures.
  // The reading a gauges card carries; false when it carries none.
  function addPointOf(gauges) {
    if (gauges.id !== "host-gauges" || !gauges.dataset.takenAt) return false;
    const { takenAt, cpu, memory } = gauges.dataset;
    addPoint(Number(takenAt), Number(cpu), Number(memory));
    return true;
  }

  function chartPoint(element) {
    if (!addPointOf(element) || !chart.plot) return;
    chart.plot.setData(chart.data);
    if (chart.plot.cursor.idx == null) chart.plot.setLegend({ idx: null }); // the latest figures
  }

  // Notices: a toast closes on its button or by itself after a while. Of my tasks' notices a
  // few show at once: a burst of endings would otherwise cover the page. Older ones give way
  // to one line that counts them (the Finished list holds them all).
  const TOAST_SECONDS = 12;
  // Fewer on a phone, where four covered a third of the screen (QA).
  const MAX_TASK_TOASTS = { wide: 4, narrow: 2 };

  function maxTaskToasts() {
    return window.matchMedia("(max-width: 700px)").matches
      ? MAX_TASK_TOASTS.narrow : MAX_TASK_TOASTS.wide;
  }

  function toastSeconds(toast) {
    const box = toast.closest(".toasts");
    return Number(box && box.dataset.toastSeconds) || TOAST_SECONDS;
  }

  // A notice's time runs only while nobody attends to it: pointed at or holding the
  // keyboard's focus, it stays, and what was left of its time runs on once let go (a slow
  // reader, or one reaching its link by Tab, saw it vanish under them).
  function isHeld(toast) {
    return Boolean(toast.hovered) || toast.contains(document.activeElement);
  }

  function closeLater(toast, milliseconds = toastSeconds(toast) * 1000) {
    clearTimeout(toast.closeTimer);
    toast.closeTimer = null;
    toast.millisecondsLeft = milliseconds;
    if (isHeld(toast)) return; // let go of, it runs on
    toast.closeAt = Date.now() + milliseconds;
    toast.closeTimer = setTimeout(() => closeToast(toast), milliseconds);
  }

  function holdToast(toast) {
    if (!toast.closeTimer) return; // held already
    clearTimeout(toast.closeTimer);
    toast.closeTimer = null;
    toast.millisecondsLeft = Math.max(0, toast.closeAt - Date.now());
  }

  function letGoOfToast(toast) {
    if (!toast.closeTimer && !isHeld(toast)) closeLater(toast, toast.millisecondsLeft);
  }

  // The keyboard's focus goes back where it was before it went into the notices (not to
  // <body>, the page's start), else to the page's main heading.
  let focusBeforeNotices = null;

  document.addEventListener("focusin", function (event) {
    const from = event.relatedTarget;
    const intoNotices = event.target.closest && event.target.closest(".toasts");
    if (intoNotices && from && !from.closest(".toasts")) focusBeforeNotices = from;
  });

  function focusAfterNotice() {
    if (canTakeFocus(focusBeforeNotices)) return focusBeforeNotices;
    const heading = document.querySelector("main h1");
    if (heading) heading.tabIndex = -1;
    return heading;
  }

  function closeToast(toast) {
    if (toast.contains(document.activeElement)) {
      const next = focusAfterNotice();
      if (next) moveFocusTo(next);
    }
    clearTimeout(toast.closeTimer);
    toast.remove();
  }

  function armToast(toast) {
    if (toast.dataset.armed) return;
    toast.dataset.armed = "1";
    const button = toast.querySelector(".toast-close");
    if (button) button.addEventListener("click", () => closeToast(toast));
    toast.addEventListener("keydown", function (event) {
      if (event.key === "Escape") closeToast(toast);
    });
    toast.addEventListener("mouseenter", function () { toast.hovered = true; holdToast(toast); });
    toast.addEventListener("mouseleave", function () { toast.hovered = false; letGoOfToast(toast); });
    toast.addEventListener("focusin", function () { holdToast(toast); });
    toast.addEventListener("focusout", function (event) {
      if (!toast.contains(event.relatedTarget)) setTimeout(() => letGoOfToast(toast), 0);
    });
    closeLater(toast);
  }

  // Toasts arrive by SSE swaps, whose events do not all name a target: look for new ones.
  function armNewToasts() {
    for (const toast of document.querySelectorAll(".toast:not([data-armed])")) armToast(toast);
    capTaskToasts();
  }
  document.addEventListener("htmx:afterSwap", armNewToasts);
  document.addEventListener("htmx:sseMessage", armNewToasts);

  function capTaskToasts() {
    const box = document.getElementById("task-toasts");
    if (!box) return;
    const toasts = Array.from(box.querySelectorAll(".toast[data-task-id]"));
    const extra = toasts.length - maxTaskToasts();
    if (extra <= 0) return;
    for (const toast of toasts.slice(0, extra)) closeToast(toast);
    countEarlierToasts(box, extra);
  }

  function countEarlierToasts(box, count) {
    let note = box.querySelector(".toast-more");
    if (!note) {
      note = makeToast("toast toast-more", "status", "", "Dismiss the count of ended tasks");
      const link = document.createElement("a");
      link.href = "#finished-list";
      link.textContent = "See all";
      link.setAttribute("aria-label", "See all finished tasks");
      note.querySelector(".toast-close").before(link);
      box.prepend(note);
      armToast(note);
    }
    const total = Number(note.dataset.count || 0) + count;
    note.dataset.count = String(total);
    note.querySelector("span").textContent = total === 1
      ? "1 more of your tasks has ended."
      : total + " more of your tasks have ended.";
    closeLater(note);
  }

  function makeToast(className, role, text, dismissLabel) {
    const toast = document.createElement("div");
    toast.className = className;
    toast.setAttribute("role", role);
    const message = document.createElement("span");
    message.textContent = text;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "toast-close";
    button.setAttribute("aria-label", dismissLabel);
    button.textContent = "×";
    toast.append(message, button);
    return toast;
  }

  // A refused request (403, 404, 409, 500...) says why in a notice instead of failing silently.
  function showError(text) {
    const notices = document.getElementById("notices");
    if (!notices) return;
    const toast = makeToast("toast error", "alert", text, "Dismiss the notice: " + text);
    notices.append(toast);
    armToast(toast);
  }

  function reasonOf(xhr) {
    try {
      const detail = JSON.parse(xhr.responseText).detail;
      if (typeof detail === "string") return detail;
    } catch (_) { /* not JSON: fall back to the status line */ }
    return xhr.status ? xhr.status + " " + xhr.statusText : "the server could not be reached";
  }

  document.addEventListener("htmx:responseError", function (event) {
    showError("Refused: " + reasonOf(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check the connection and try again.");
  });

  // htmx reports an answer on the element that asked. A Cancel whose task ends while it is on
  // its way has had its row swapped away by then, and its refusal ("ended already") would
  // never show: the request itself says so once the button has left the page. Only buttons
  // whose answers are never swapped in (hx-swap="none"): a form's 422 replaces the form.
  // The same goes for the refusals the page's htmx config swaps in like answers (a form's
  // 422 carries the form back): htmx reports no error for them, and a button that swaps
  // nothing would say nothing. A Retry past the owner's limit (429) or with the queue away
  // (503) was silent so.
  const SWAPPED_REFUSALS = new Set([422, 429, 503]);
  document.addEventListener("htmx:beforeSend", function (event) {
    const asker = event.detail.elt;
    const xhr = event.detail.xhr;
    if (asker.getAttribute("hx-swap") !== "none") return;
    xhr.addEventListener("loadend", function () {
      if (xhr.status >= 200 && xhr.status < 400) return;
      if (asker.isConnected && !SWAPPED_REFUSALS.has(xhr.status)) return; // htmx said it
      showError("Refused: " + reasonOf(xhr));
    });
  });

  // A Retry on a task's own page goes on to the new task's page, once it has been made.
  document.addEventListener("htmx:afterRequest", function (event) {
    const asker = event.detail.elt;
    const xhr = event.detail.xhr;
    if (!asker.hasAttribute("data-go-to-created") || xhr.status !== 202) return;
    const created = JSON.parse(xhr.responseText);
    window.location.assign("/tasks/" + encodeURIComponent(created.id));
  });

  // A new API token is shown once. Copy puts it on the clipboard and says so; where the
  // clipboard cannot be written (no secure context, or refused), the token is selected for
  // the keyboard's own copy and the line says how. The wording is the template's.
  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyFrom(button) {
    const source = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copyStatus);
    if (!source) return;
    const say = (text) => { if (status) status.textContent = text; };
    const selectInstead = () => { source.focus(); selectText(source); say(button.dataset.selected); };
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      selectInstead();
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim())
      .then(() => say(button.dataset.copied), selectInstead);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (button) copyFrom(button);
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-select-on-focus")) {
      selectText(event.target);
    }
  });

  // How many of the tasks shown are running and queued, beside the Active heading and in the
  // window's title, so a tab in the background still tells when the work is done.
  const pageTitle = document.title;

  function countActive() {
    const note = document.getElementById("active-count");
    if (!note) return;
    const body = document.getElementById("active-rows");
    const rows = Array.from(body.querySelectorAll("tr.task-row"));
    // A capped list (dashboard.crud.list_active) holds only part of a long queue.
    const more = body.hasAttribute("data-capped") ? "+" : "";
    const queued = rows.filter((row) => row.dataset.state === "QUEUED").length;
    const running = rows.length - queued;
    const parts = [];
    if (running) parts.push(running + " running");
    if (queued) parts.push(queued + more + " queued");
    // Written only when changed: this runs on every swap, progress ticks included.
    const text = parts.join(" · ");
    if (note.textContent !== text) note.textContent = text;
    const title = rows.length ? "(" + rows.length + more + ") " + pageTitle : pageTitle;
    if (document.title !== title) document.title = title;
  }
  // The Active list keeps to the length the server gives it (dashboard.crud.list_active):
  // past it, as new tasks arrive or hidden queued ones start, the oldest queued rows shown
  // give way, and the list says it is cut. Running rows always stay.
  function keepActiveToItsLimit() {
    const body = document.getElementById("active-rows");
    const limit = body ? Number(body.dataset.limit) || Infinity : Infinity;
    // Runs on every swap, progress ticks included: the count of the list's children (all of
    // them rows) costs nothing, and the rows are looked at only when there are too many.
    if (!body || body.childElementCount <= limit) return;
    const extra = body.querySelectorAll("tr.task-row").length - limit;
    if (extra <= 0) return;
    const queued = Array.from(body.querySelectorAll("tr.task-row[data-state=QUEUED]"));
    const queuedAt = (row) => Date.parse(row.dataset.queued) || 0;
    queued.sort((a, b) => queuedAt(a) - queuedAt(b)); // the oldest first
    for (const row of queued.slice(0, extra)) row.remove();
    body.setAttribute("data-capped", "");
    const note = document.getElementById("active-capped");
    if (note) note.hidden = false;
  }

  // A cut list learns of its hidden queued tasks only as they start. Once it has room (tasks
  // ended or were cancelled), it asks for the list again and takes the rows it lacks, and
  // stops saying it is cut when the server's list is not (QA: "360+ queued" stayed after the
  // queue had shrunk to fit). Rows are added, never taken away or replaced: a row shown is
  // kept up to date by its events, and one missing from the answer came after it was read,
  // or has ended and its event moves it.
  let toppingUp = false;
  function topUpActiveList() {
    const body = document.getElementById("active-rows");
    if (!body || toppingUp || !body.hasAttribute("data-capped")) return;
    if (body.querySelectorAll("tr.task-row").length >= Number(body.dataset.limit)) return;
    toppingUp = true;
    fetch(body.dataset.refresh, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then(mergeActiveList)
      .catch(function () { /* the next swap asks again */ })
      .finally(function () {
        setTimeout(function () { toppingUp = false; topUpActiveList(); }, 2000);
      });
  }

  function mergeActiveList(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fresh = template.content.getElementById("active-rows");
    const body = document.getElementById("active-rows");
    if (!fresh || !body) return;
    for (const row of Array.from(fresh.querySelectorAll("tr.task-row"))) {
      if (document.getElementById(row.id) || leftOut.has(row.id)) continue; // shown, or ended
      body.append(row); // the oldest queued: the list's end
      settleRow(row);
    }
    if (!fresh.hasAttribute("data-capped")) {
      body.removeAttribute("data-capped");
      const note = document.getElementById("active-capped");
      if (note) note.hidden = true;
    }
    keepActiveToItsLimit();
    countActive();
  }

  // Running tasks head the Active list, above the queue: a new task's row arrives at the top
  // and a queued one starts where it stood, so with a backlog the work in progress sank to
  // the bottom, thousands of pixels down (QA). A running row that follows a queued one moves
  // up to the end of the running block; the queued rows keep their order (newest first).
  function runningFirst() {
    const body = document.getElementById("active-rows");
    if (!body) return;
    let firstQueued = null;
    for (const row of Array.from(body.children)) {
      const queued = row.dataset.state === "QUEUED";
      if (queued && !firstQueued) firstQueued = row;
      else if (!queued && firstQueued) body.insertBefore(row, firstQueued);
    }
  }
  document.addEventListener("htmx:afterSettle", function () { // every swap, SSE ones too
    runningFirst();
    keepActiveToItsLimit();
    countActive();
    topUpActiveList();
  });

  // The keyboard's place across swaps. An answer or an event that takes the focused control
  // away (a start form's button, Cancel in a row that moves to Finished, Revoke) left the
  // focus on <body>: a keyboard or screen reader user was sent back to the page's start. The
  // control last focused is remembered; when it has left the page and nothing else holds the
  // focus, its successor takes it: the element with the same data-focus key or id, else the
  // landing of its nearest ancestor still on the page (a card's heading, a row's link). The
  // ancestors are noted when it takes the focus: a patch may take away a part of the card
  // with it, whose own ancestors are gone by then.
  let lastFocused = null;
  let lastFocusedPlace = []; // the ids of its ancestors, the nearest first
  const LANDING_HEADING = ":scope > h1, :scope > h2";

  function focusIsLost() {
    return !document.activeElement || document.activeElement === document.body;
  }

  function canTakeFocus(element) {
    return Boolean(element) && element.isConnected && !element.disabled
      && element.getClientRects().length > 0;
  }

  function landingIn(region) {
    const heading = region.querySelector(LANDING_HEADING);
    if (heading) {
      heading.tabIndex = -1; // focusable by script only, not a stop for Tab
      return heading;
    }
    const link = region.querySelector("a[href]");
    return canTakeFocus(link) ? link : null;
  }

  function successorOf(lost) {
    const key = lost.getAttribute("data-focus");
    const byKey = key && document.querySelector('[data-focus="' + CSS.escape(key) + '"]');
    if (canTakeFocus(byKey)) return byKey;
    const byId = lost.id && document.getElementById(lost.id);
    if (canTakeFocus(byId)) return byId;
    for (const id of lastFocusedPlace) {
      const fresh = document.getElementById(id);
      const landing = fresh && landingIn(fresh);
      if (landing) return landing;
    }
    return null;
  }

  // Focus without a jump for a mouse user (a row that moves to Finished can be far down);
  // scrolled into view when the keyboard was in use (:focus-visible says so).
  function moveFocusTo(element) {
    element.focus({ preventScroll: true });
    if (element.matches(":focus-visible")) element.scrollIntoView({ block: "nearest" });
  }

  function keepFocusInPlace() {
    const lost = lastFocused;
    if (!lost || lost.isConnected || !focusIsLost()) return;
    lastFocused = null;
    const successor = successorOf(lost);
    if (successor) moveFocusTo(successor);
  }

  function idsAround(element) {
    const ids = [];
    for (let node = element.parentElement; node; node = node.parentElement) {
      if (node.id) ids.push(node.id);
    }
    return ids;
  }

  document.addEventListener("focusin", function (event) {
    lastFocused = event.target;
    lastFocusedPlace = idsAround(event.target);
  });
  // Focus the user moved away themselves (a click on the page's background) is not brought
  // back; a control disabled while its request is on its way, or taken away, is.
  document.addEventListener("focusout", function (event) {
    const left = event.target;
    setTimeout(function () {
      if (lastFocused === left && left.isConnected && !left.disabled && focusIsLost()) {
        lastFocused = null;
      }
    }, 0);
  });
  // Every way a control leaves the page (htmx's swaps, events' rows, patches, this script's
  // own removals) ends in a change of the document's children: looked at once after each.
  new MutationObserver(keepFocusInPlace).observe(document.documentElement, {
    childList: true, subtree: true,
  });

  // A filter, a search or "Show older" answers silently for a screen reader: the list it
  // replaces is no live region (its live rows would be read out all the time). Say what came.
  function sayWhatTheFinishedListShows() {
    const status = document.getElementById("finished-status");
    const rows = document.querySelectorAll("#finished-rows > tr.task-row").length;
    if (!status) return;
    const more = document.getElementById("finished-more") ? ", more below" : "";
    status.textContent = rows === 0 ? "No finished task matches."
      : rows + (rows === 1 ? " finished task shown" : " finished tasks shown") + more + ".";
  }
  // Said once the answer is in: asked before the swap, as "Show older" replaces itself and
  // the events after the swap go to it, no longer in the page. (With no swap delay, htmx
  // swaps before this script's next turn.)
  document.addEventListener("htmx:beforeSwap", function (event) {
    const path = event.detail.requestConfig && event.detail.requestConfig.path;
    if (!event.detail.shouldSwap || !path || !path.startsWith("/fragments/finished")) return;
    setTimeout(sayWhatTheFinishedListShows, 0);
  });

  // "Show older" is a link that acts as a button (a plain link without script): a button
  // answers Space too.
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (event.key !== " " || !target.matches || !target.matches("a[role=button]")) return;
    event.preventDefault();
    target.click();
  });

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    startChart();
    countActive();
  });
})();
