// OrleansScheduler dashboard: polls the JSON API about once a second and redraws.
// Every piece of task data reaches the page through textContent or setAttribute, never as markup.
'use strict';

(() => {
  const REFRESH_MS = 1000;
  const HISTORY_MS = 5000; // the charts move by 5-second samples: no need to read them every second
  const HISTORY_MINUTES = 15;
  const GRAPH_DEPTH = 3;
  const GRAPH_MAX_NODES = 100;
  const PAGE_SIZE = 50;
  const WAITING_SHOWN = 5;
  const STATUSES = ['WAITING', 'SCHEDULED', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'UPSTREAM_FAILED'];
  const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'UPSTREAM_FAILED']);
  const RETRYABLE = new Set(['FAILED', 'CANCELLED', 'UPSTREAM_FAILED']);
  const PENDING = ['WAITING', 'SCHEDULED', 'QUEUED'];

  const state = {
    paused: false,
    key: null, // the API key, when the scheduler asks for one
    status: '',
    type: '',
    newest: true, // follow the newest page of the current filter
    cursor: null, // cursor of the page shown when not following the newest
    nextCursor: null,
    selected: null,
    counts: null,
    total: 0,
    sequence: 0,
    rendered: 0,
    timer: null,
    historyAt: 0, // when the charts were last read
  };

  const $ = (id) => document.getElementById(id);

  /** el('td', {class: 'x'}, 'text', child): strings become text nodes, never markup. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const badge = (status) => el('span', { class: 'badge', 'data-status': status }, status);
  const taskLink = (id) => el('a', { href: '#task=' + encodeURIComponent(id), class: 'mono', 'data-task': id }, id);

  function formatMs(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    if (ms < 3600000) return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
    return `${(ms / 3600000).toFixed(1)} h`;
  }

  const since = (iso) => (iso ? Date.now() - Date.parse(iso) : null);

  function formatTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    const clock = d.toLocaleTimeString([], { hourCycle: 'h23' });
    return sameDay ? clock : `${d.toLocaleDateString()} ${clock}`;
  }

  const time = (iso) => el('time', { datetime: iso || null, title: iso || null }, formatTime(iso));

  // ---- the API key ----------------------------------------------------------------------------
  // A scheduler with API keys answers 401 without one: the page then asks for a key, keeps it in
  // this tab's session storage (gone when the tab closes) and sends it with every request. The
  // Orleans dashboard at /orleans cannot send a header, so the key also goes into a cookie that
  // only /orleans is sent (and only for reads: the server accepts it nowhere else).

  const KEY_STORAGE = 'orleans-scheduler.api-key';
  const KEY_COOKIE = 'scheduler_api_key';

  const storedKey = () => { try { return sessionStorage.getItem(KEY_STORAGE); } catch { return null; } };

  function setKeyCookie(key) {
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = key
      ? `${KEY_COOKIE}=${encodeURIComponent(key)}; Path=/orleans; SameSite=Strict${secure}`
      : `${KEY_COOKIE}=; Path=/orleans; SameSite=Strict; Max-Age=0${secure}`;
  }

  function useKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
    } catch { /* storage disabled: the key lasts as long as the page */ }
    state.key = key || null;
    setKeyCookie(key);
    $('forget-key').hidden = !key;
  }

  /** Thrown by api() on a 401: refresh stops quietly and the form says why. */
  class KeyRequired extends Error {}

  function askForKey(reason) {
    $('key-reason').textContent = reason;
    const form = $('key-form');
    if (form.hidden) {
      form.hidden = false;
      $('key-input').value = '';
      $('key-input').focus();
    }
    setConnection('locked', 'API key required');
  }

  /** Every request of the page goes through here: it adds the API key, if there is one. */
  async function api(path, options) {
    const headers = { Accept: 'application/json' };
    if (state.key) headers.Authorization = `Bearer ${state.key}`;
    const response = await fetch(path, { cache: 'no-store', headers, ...options });
    if (response.status === 401) {
      askForKey(state.key ? 'That API key was not accepted. Enter another.' : 'This scheduler asks for an API key.');
      throw new KeyRequired('API key required');
    }
    const text = await response.text();
    let body = null;
    if (text) {
      try { body = JSON.parse(text); } catch { body = text; }
    }
    return { ok: response.ok, status: response.status, body, headers: response.headers };
  }

  function problemText(result) {
    const p = result.body;
    if (p && typeof p === 'object') {
      const parts = [p.title || `HTTP ${result.status}`];
      if (p.detail) parts.push(p.detail);
      if (p.errors) parts.push(Object.entries(p.errors).map(([k, v]) => `${k}: ${[].concat(v).join('; ')}`).join(' / '));
      return `${result.status}: ${parts.join(' — ')}`;
    }
    return `HTTP ${result.status}${p ? ': ' + String(p) : ''}`;
  }

  function nextCursorOf(headers) {
    const link = headers.get('Link');
    if (!link) return null;
    for (const part of link.split(',')) {
      const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(part);
      if (match) {
        const url = new URL(match[1], location.origin);
        return url.searchParams.get('cursor');
      }
    }
    return null;
  }

  // ---- the list query -------------------------------------------------------------------------

  /** How many tasks the current status filter matches, from the last counts; null if unknown. */
  function filteredCount() {
    if (!state.counts || state.type) return null;
    if (!state.status) return state.total;
    const names = state.status.split(',').flatMap((s) => (s === 'pending' ? PENDING : [s]));
    return [...new Set(names)].reduce((sum, s) => sum + (state.counts[s] || 0), 0);
  }

  const currentListKey = () => JSON.stringify([state.status, state.type, state.newest, state.cursor]);

  function listQuery() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.status) query.set('status', state.status);
    if (state.type) query.set('type', state.type);
    if (state.newest) {
      query.set('order', 'newest'); // the newest page, read backwards from the end of the index
    } else if (state.cursor) {
      query.set('cursor', state.cursor);
    }
    return '/api/tasks?' + query.toString();
  }

  // ---- refresh --------------------------------------------------------------------------------

  async function refresh() {
    const sequence = ++state.sequence;
    const selected = state.selected;
    const listUrl = listQuery();
    const listKey = currentListKey();
    try {
      const requests = [
        api('/api/stats'),
        api('/api/workers'),
        api(listUrl),
        api('/api/tasks?status=pending&limit=' + WAITING_SHOWN),
        api('/api/alerts'),
      ];
      const historyDue = Date.now() - state.historyAt >= HISTORY_MS;
      requests.push(historyDue ? api(`/api/stats/history?minutes=${HISTORY_MINUTES}`) : null);
      requests.push(historyDue ? api('/api/stats/run-times') : null);
      if (selected) {
        const path = `/api/tasks/${encodeURIComponent(selected)}`;
        requests.push(api(path), api(`${path}/events`), api(`${path}/graph?depth=${GRAPH_DEPTH}&max_nodes=${GRAPH_MAX_NODES}`));
      }
      const [stats, workers, list, pending, alerts, history, runTimes, task, events, graph] = await Promise.all(requests);
      const waitingDetails = pending.ok
        ? await Promise.all(pending.body.map((t) => api(`/api/tasks/${encodeURIComponent(t.id)}`)))
        : [];
      if (sequence < state.rendered) return; // a newer refresh already drew
      state.rendered = sequence;

      if (!stats.ok) throw new Error(`/api/stats: ${problemText(stats)}`);
      renderStats(stats.body);
      if (workers.ok) renderWorkers(workers.body);
      if (alerts.ok) renderAlerts(alerts.body);
      if (listKey === currentListKey()) renderTasks(list); // not if the filter changed meanwhile
      renderWaiting(waitingDetails.filter((r) => r.ok).map((r) => r.body));
      if (historyDue) renderHistory(history, runTimes);
      if (selected && selected === state.selected) renderDetail(selected, task, events, graph);
      setConnection(state.paused ? 'paused' : 'live', `updated ${new Date().toLocaleTimeString([], { hourCycle: 'h23' })}`);
    } catch (error) {
      if (!(error instanceof KeyRequired)) setConnection('error', `cannot reach the scheduler: ${error.message}`);
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      if (!state.paused && $('key-form').hidden) await refresh();
      schedule();
    }, REFRESH_MS);
  }

  function setConnection(kind, text) {
    const node = $('connection');
    node.dataset.state = kind;
    node.textContent = kind === 'paused' ? `paused · ${text}` : text;
  }

  // ---- stats, slots, metrics, workers ---------------------------------------------------------

  function renderStats(stats) {
    state.counts = stats.counts;
    state.total = stats.total;

    const cards = [el('button', {
      class: 'count' + (state.status === '' ? ' active' : ''), type: 'button', 'data-status': 'TOTAL', 'data-testid': 'count-TOTAL',
      title: 'Show all tasks', onclick: () => setStatusFilter(''),
    }, el('span', { class: 'n' }, String(stats.total)), el('span', { class: 'label' }, 'total'))];
    for (const status of STATUSES) {
      cards.push(el('button', {
        class: 'count' + (state.status === status ? ' active' : ''), type: 'button', 'data-status': status, 'data-testid': 'count-' + status,
        title: `Show ${status} tasks`, onclick: () => setStatusFilter(status),
      }, el('span', { class: 'n' }, String(stats.counts[status] ?? 0)), el('span', { class: 'label' }, status.replace('_', ' ').toLowerCase())));
    }
    $('counts').replaceChildren(...cards);

    const slots = stats.slots;
    $('slots-text').textContent = `${slots.in_use} / ${slots.limit} in use`;
    $('slots-bar').style.width = slots.limit > 0 ? `${Math.min(100, (100 * slots.in_use) / slots.limit)}%` : '0';
    $('holders').replaceChildren(...(slots.holders.length
      ? slots.holders.map((h) => el('tr', null,
        el('td', { class: 'num' }, String(h.slot)), el('td', null, taskLink(h.task_id)), el('td', { class: 'mono nowrap' }, h.silo_id),
        el('td', { class: 'num' }, String(h.attempt)), el('td', { class: 'num nowrap' }, formatMs(since(h.since)))))
      : [el('tr', null, el('td', { colspan: 5, class: 'empty' }, 'No task is running.'))]));

    const c = stats.counts;
    const finished = (c.COMPLETED || 0) + (c.FAILED || 0);
    const latency = stats.latency;
    const rows = [
      ['Completed, last minute', String(stats.throughput.completed_last_minute)],
      ['Throughput', `${stats.throughput.per_second.toFixed(2)} tasks/s`],
      ['Queue wait p50 / p99', `${formatMs(latency.queue_wait_p50_ms)} / ${formatMs(latency.queue_wait_p99_ms)}`],
      ['Run time p50 / p99', `${formatMs(latency.run_p50_ms)} / ${formatMs(latency.run_p99_ms)}`],
      ['Latency sample', `${latency.sample} recent completions`],
      ['Failure rate', finished ? `${((100 * (c.FAILED || 0)) / finished).toFixed(1)} % of finished (${c.FAILED || 0} failed)` : '–'],
      ['Pending', `${PENDING.reduce((s, k) => s + (c[k] || 0), 0)} (waiting ${c.WAITING || 0}, scheduled ${c.SCHEDULED || 0}, queued ${c.QUEUED || 0})`],
    ];
    $('metrics').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
    $('silos-alive').textContent = `(${stats.silos_alive} alive)`;
  }

  /** ACTIVE green, DEAD red, anything else (stopped, left) grey: the status colours reused. */
  const siloColour = (status) => (/^(active|alive)$/i.test(status) ? 'COMPLETED' : /^dead$/i.test(status) ? 'FAILED' : 'CANCELLED');

  /** The alerts firing now (GET /api/alerts), most severe first. */
  function renderAlerts(alerts) {
    const order = { critical: 0, warning: 1, info: 2 };
    const sorted = [...alerts].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || a.name.localeCompare(b.name));
    $('alerts-count').textContent = sorted.length ? `${sorted.length} firing` : '';
    $('alerts').replaceChildren(...(sorted.length
      ? sorted.map((a) => el('li', { class: 'alert', 'data-alert': a.name, 'data-severity': a.severity },
        el('span', { class: 'badge', 'data-severity': a.severity }, a.severity),
        ' ', el('strong', { class: 'mono' }, a.name),
        ' ', el('span', {}, a.message),
        ' ', el('span', { class: 'muted small' }, 'since ', time(a.since))))
      : [el('li', { class: 'muted' }, 'None firing.')]));
  }

  /** Silos and external workers (GET /api/workers): what each runs, its load and, for an external
   *  worker, the system_info of its last heartbeat. */
  function renderWorkers(workers) {
    const usage = (info) => {
      if (!info) return '';
      const pct = (v) => (typeof v === 'number' ? `${v.toFixed(0)}%` : '–');
      return `${pct(info.cpu_usage)} · ${pct(info.memory_usage)} · ${pct(info.disk_usage)}`;
    };
    $('workers').replaceChildren(...(workers.length
      ? workers.map((w) => el('tr', w.kind === 'external' ? { 'data-worker': w.id } : { 'data-silo': w.id },
        el('td', { class: 'mono nowrap', title: w.kind === 'external' ? `external worker, registered ${w.started_at}` : `silo on host ${w.host}, up since ${w.started_at}` },
          w.id, ' ', el('span', { class: 'small muted' }, w.kind === 'external' ? 'worker' : 'silo')),
        el('td', null, el('span', { class: 'badge', 'data-status': siloColour(w.status) }, w.status)),
        el('td', { class: 'small', 'data-testid': 'capabilities' }, w.kind === 'external' ? (w.capabilities || []).join(', ') : 'handlers + simulator'),
        el('td', { class: 'num nowrap' }, `${w.running_tasks} / ${w.capacity}`),
        el('td', { class: 'nowrap small', 'data-testid': 'system-info', title: w.system_info ? JSON.stringify(w.system_info) : '' }, usage(w.system_info)),
        el('td', { class: 'num nowrap', title: w.heartbeat_at }, `${formatMs(since(w.heartbeat_at))} ago`)))
      : [el('tr', null, el('td', { colspan: 6, class: 'empty' }, 'No silo or worker has registered.'))]));
  }

  function renderWaiting(tasks) {
    const items = tasks.map((t) => el('li', { 'data-status': t.status },
      taskLink(t.id), ' ', badge(t.status), ' ',
      el('span', { class: 'small' }, t.blocked_by ? t.blocked_by.message : 'ready; about to be claimed')));
    $('waiting').replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, 'Nothing is waiting.')]));
  }

  // ---- the charts and the graph (charts.js draws them) -----------------------------------------

  function renderHistory(history, runTimes) {
    if (history && history.ok) {
      state.historyAt = Date.now();
      SchedulerCharts.throughput($('chart-throughput'), history.body);
      SchedulerCharts.queueDepth($('chart-depth'), history.body);
      $('throughput-note').textContent = `· ${history.body.completed} completed, ${history.body.failed} failed in ${HISTORY_MINUTES} min`;
    }
    if (runTimes && runTimes.ok) {
      const h = runTimes.body;
      SchedulerCharts.runTimes($('chart-runtimes'), h);
      $('runtimes-note').textContent = h.sample
        ? `${h.sample} latest completions · p50 ${formatMs(h.p50_ms)} · p99 ${formatMs(h.p99_ms)} · max ${formatMs(h.max_ms)}`
        : 'No task has completed yet.';
    }
  }

  function renderGraph(graph) {
    if (!graph || !graph.ok) {
      return el('p', { class: 'muted', 'data-testid': 'graph-problem' }, graph ? problemText(graph) : 'no graph');
    }
    const g = graph.body;
    const up = g.nodes.filter((n) => n.level < 0).length;
    const down = g.nodes.filter((n) => n.level > 0).length;
    if (up + down === 0) {
      return el('p', { class: 'muted', 'data-testid': 'graph', 'data-nodes': 1 }, 'No dependencies and no dependents.');
    }
    const path = g.critical_path.flatMap((id, i) => (i ? [' → ', taskLink(id)] : [taskLink(id)]));
    return el('div', { class: 'graph-wrap', 'data-testid': 'graph', 'data-nodes': g.nodes.length },
      el('p', { class: 'small' },
        `${up} upstream, ${down} downstream within ${g.depth} levels${g.truncated ? ` (only the first ${g.nodes.length} tasks shown)` : ''}. `),
      el('p', { class: 'small critical', 'data-testid': 'critical-path' },
        el('strong', null, 'Critical path'), ` (${formatMs(g.critical_path_ms)}): `, ...path),
      el('div', { class: 'graph-scroll' }, SchedulerCharts.graph(g, select)));
  }

  // ---- the task table -------------------------------------------------------------------------

  function renderTasks(list) {
    const body = $('tasks').tBodies[0];
    if (!list.ok) {
      body.replaceChildren();
      $('tasks-note').textContent = problemText(list);
      $('tasks-empty').hidden = true;
      return;
    }
    // Following the newest, the page comes newest first and its Link leads to older tasks: show
    // it in submission order like every other page, with nothing newer after it.
    state.nextCursor = state.newest ? null : nextCursorOf(list.headers);
    const tasks = state.newest ? [...list.body].reverse() : list.body;
    body.replaceChildren(...tasks.map((t) => {
      const took = t.started_at && t.completed_at ? Date.parse(t.completed_at) - Date.parse(t.started_at)
        : t.started_at && t.status === 'RUNNING' ? since(t.started_at) : null;
      return el('tr', {
        'data-id': t.id, 'data-status': t.status, class: t.id === state.selected ? 'selected' : null,
        onclick: () => select(t.id),
      },
      el('td', { class: 'id' }, t.id), el('td', null, t.type), el('td', null, badge(t.status)),
      el('td', { class: 'num' }, String(t.priority)), el('td', { class: 'num' }, String(t.attempts)),
      el('td', { class: 'mono small', 'data-testid': 'task-worker' }, t.worker_id ?? '–'),
      el('td', null, time(t.created_at)), el('td', null, time(t.started_at)),
      el('td', { class: 'num nowrap' }, took === null ? '–' : formatMs(took) + (t.status === 'RUNNING' ? ' …' : '')));
    }));
    $('tasks-empty').hidden = list.body.length > 0;
    const count = filteredCount();
    $('tasks-note').textContent = `${list.body.length} shown${count !== null ? ` of ${count}` : ''}, in submission order`
      + (state.newest ? ' · following the newest' : '') + (state.nextCursor ? ' · more after these' : '');
    $('page-newer').disabled = !state.nextCursor;
    $('page-newest').setAttribute('aria-pressed', String(state.newest));
  }

  function setStatusFilter(status) {
    state.status = status;
    $('status-filter').value = status;
    resetPaging();
  }

  function resetPaging() {
    state.newest = true;
    state.cursor = null;
    refresh();
  }

  // ---- the task detail ------------------------------------------------------------------------

  function select(id) {
    if (id === null) {
      history.replaceState(null, '', location.pathname + location.search);
      showTask(null);
    } else {
      location.hash = 'task=' + encodeURIComponent(id);
    }
  }

  function showTask(id) {
    if (id !== state.selected) hideMessage();
    state.selected = id;
    $('detail').hidden = id === null;
    if (id !== null) {
      $('detail-id').textContent = id;
      $('detail-body').replaceChildren(el('p', { class: 'muted' }, 'loading…'));
    }
    for (const row of $('tasks').tBodies[0].rows) row.classList.toggle('selected', row.dataset.id === id);
    refresh();
  }

  function taskFromHash() {
    const match = /^#task=(.*)$/.exec(location.hash);
    if (!match) return null;
    try { return decodeURIComponent(match[1]); } catch { return match[1]; }
  }

  function field(name, ...value) {
    return [el('dt', null, name), el('dd', { 'data-field': name }, ...value)];
  }

  function renderDetail(id, task, events, graph) {
    const body = $('detail-body');
    if (!task.ok) {
      body.replaceChildren(el('p', { class: 'message error', 'data-testid': 'detail-problem' }, problemText(task)));
      $('cancel').disabled = true;
      $('retry').disabled = true;
      return;
    }
    const t = task.body;
    $('detail').dataset.status = t.status;
    $('cancel').disabled = FINAL.has(t.status);
    $('retry').disabled = !RETRYABLE.has(t.status);

    const parts = [];
    parts.push(el('dl', { class: 'fields' },
      field('status', badge(t.status)),
      field('type', t.type),
      field('attempts', `${t.attempts} of ${t.max_attempts}`),
      field('priority', String(t.priority)),
      field('worker', t.worker_id ?? '–'),
      field('duration', formatMs(t.duration_ms)),
      field('timeout', t.timeout_ms ? formatMs(t.timeout_ms) : 'none'),
      field('run at', t.run_at ? time(t.run_at) : 'now'),
      field('created', time(t.created_at)),
      field('started', time(t.started_at)),
      field('completed', time(t.completed_at)),
      field('dependencies', ...(t.dependencies.length ? t.dependencies.flatMap((d, i) => (i ? [', ', taskLink(d)] : [taskLink(d)])) : ['none']))));

    if (t.blocked_by) {
      const b = t.blocked_by;
      const extra = [];
      if (b.dependencies && b.dependencies.length) {
        extra.push(el('ul', null, b.dependencies.map((d) => el('li', null, taskLink(d.id), ' ', badge(d.status)))));
      }
      if (b.slot_holders && b.slot_holders.length) {
        extra.push(el('ul', null, b.slot_holders.map((h) => el('li', null, taskLink(h), ' holds a slot'))));
      }
      if (b.until) extra.push(el('div', null, 'ready at ', time(b.until)));
      parts.push(el('h3', null, 'Blocked by'), el('div', { class: 'blocked', 'data-testid': 'blocked-by', 'data-reason': b.reason },
        el('strong', null, b.reason), ': ', b.message, extra));
    }
    if (t.error) parts.push(el('h3', null, 'Error'), el('pre', { class: 'error', 'data-testid': 'error' }, t.error));
    if (t.result !== null && t.result !== undefined) {
      parts.push(el('h3', null, 'Result'), el('pre', { 'data-testid': 'result' }, JSON.stringify(t.result, null, 2)));
    }
    if (t.payload !== null && t.payload !== undefined) {
      parts.push(el('h3', null, 'Payload'), el('pre', { 'data-testid': 'payload' }, JSON.stringify(t.payload, null, 2)));
    }

    parts.push(el('h3', null, 'Dependencies and dependents'), renderGraph(graph));

    parts.push(el('h3', null, 'Events'));
    if (events && events.ok) {
      parts.push(el('table', { class: 'compact', 'data-testid': 'events' },
        el('thead', null, el('tr', null, ['time', 'transition', 'silo', 'attempt', 'reason'].map((h) => el('th', null, h)))),
        el('tbody', null, events.body.map((e) => el('tr', { 'data-to': e.to },
          el('td', null, time(e.at)),
          el('td', { class: 'nowrap' }, e.from ? [badge(e.from), ' → '] : [], badge(e.to)),
          el('td', { class: 'mono' }, e.silo_id ?? ''),
          el('td', { class: 'num' }, e.attempt === null || e.attempt === undefined ? '' : String(e.attempt)),
          el('td', null, e.reason ?? ''))))));
    } else {
      parts.push(el('p', { class: 'muted' }, events ? problemText(events) : 'no events'));
    }
    // The graph is redrawn each refresh: keep where the user scrolled it, or start on the task.
    const scrolled = body.dataset.task === id ? body.querySelector('.graph-scroll') : null;
    const at = scrolled ? [scrolled.scrollLeft, scrolled.scrollTop] : null;
    body.replaceChildren(...parts);
    body.dataset.task = id;
    const scroll = body.querySelector('.graph-scroll');
    if (scroll && at) [scroll.scrollLeft, scroll.scrollTop] = at;
    else if (scroll) scroll.scrollLeft = Number(scroll.firstChild.dataset.focusX) - scroll.clientWidth / 2;
  }

  function showMessage(kind, text) {
    const node = $('action-message');
    node.className = 'message ' + kind;
    node.textContent = text;
    node.hidden = false;
  }

  function hideMessage() {
    $('action-message').hidden = true;
  }

  async function act(action) {
    const id = state.selected;
    if (id === null) return;
    const buttons = [$('cancel'), $('retry')];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const result = await api(`/api/tasks/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
      if (result.ok) {
        showMessage('ok', `${action === 'cancel' ? 'Cancel' : 'Retry'} accepted: the task is now ${result.body.status}.`);
      } else {
        showMessage('error', `${action === 'cancel' ? 'Cancel' : 'Retry'} refused — ${problemText(result)}`);
      }
    } catch (error) {
      showMessage('error', `${action} failed: ${error.message}`);
    }
    await refresh();
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function init() {
    $('status-filter').addEventListener('change', (e) => setStatusFilter(e.target.value));
    let typing = null;
    $('type-filter').addEventListener('input', (e) => {
      clearTimeout(typing);
      typing = setTimeout(() => { state.type = e.target.value.trim(); resetPaging(); }, 300);
    });
    $('page-oldest').addEventListener('click', () => { state.newest = false; state.cursor = null; refresh(); });
    $('page-newer').addEventListener('click', () => {
      if (state.nextCursor) { state.newest = false; state.cursor = state.nextCursor; refresh(); }
    });
    $('page-newest').addEventListener('click', resetPaging);
    $('pause').addEventListener('click', () => {
      state.paused = !state.paused;
      $('pause').textContent = state.paused ? 'Resume updates' : 'Pause updates';
      $('pause').setAttribute('aria-pressed', String(state.paused));
      if (!state.paused) refresh();
      else setConnection('paused', 'not updating');
    });
    $('cancel').addEventListener('click', () => act('cancel'));
    $('retry').addEventListener('click', () => act('retry'));
    $('close').addEventListener('click', () => select(null));
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      useKey(key);
      $('key-form').hidden = true;
      refresh();
    });
    $('forget-key').addEventListener('click', () => {
      useKey(null);
      refresh();
    });
    useKey(storedKey());
    window.addEventListener('hashchange', () => showTask(taskFromHash()));
    showTask(taskFromHash()); // refreshes
    schedule();
  }

  init();
})();
