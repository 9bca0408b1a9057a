/*
 * DEMLE dashboard page. Plain JavaScript, no framework; it talks to its own server only (/events, /state) and loads
 * uPlot from it. State lives on the server: the page starts from the server's snapshot and applies its deltas, so a
 * reload shows the same thing.
 */
/* global uPlot, document, window, EventSource, fetch, requestAnimationFrame, ResizeObserver, setTimeout, clearTimeout */
"use strict";

(() => {
  const UNIT = 10n ** 18n;
  const FEED_SHOWN = 150;
  const JOBS_SHOWN = 100;
  const CHART_SERIES = 8;
  const POINTS_KEPT = 2000;
  /** x-axis tick steps: whole blocks only. */
  const BLOCK_STEPS = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7,
  ];
  const PALETTE = ["#2f6fed", "#1a8f4c", "#d9480f", "#9c36b5", "#0b7285", "#c2255c", "#5c940d", "#e67700"];

  const $ = (id) => document.getElementById(id);
  /** @type {any} */
  let snap = null;
  let resyncing = false;
  const seen = Object.create(null);
  const charts = { balances: null, supply: null, balanceKeys: "" };
  const colors = new Map();
  const cues = [];

  // For tests and curious users: the state the page shows, when each feed row was first painted (ms since the Unix
  // epoch), the charts, and the earning cues shown.
  window.demle = {
    get snapshot() {
      return snap;
    },
    seen,
    charts,
    cues,
  };

  // ---------- formatting ----------

  const intFmt = new Intl.NumberFormat("en-US");
  /** Exact decimal string of a token amount in the smallest unit ("0.4096", "12.0"), like ethers' formatUnits. */
  function formatUnits(value) {
    const v = BigInt(value);
    const neg = v < 0n;
    const a = neg ? -v : v;
    const frac = (a % UNIT).toString().padStart(18, "0").replace(/0+$/, "");
    return `${neg ? "-" : ""}${(a / UNIT).toString()}.${frac || "0"}`;
  }
  /** Rounded for display, with thousands separators. */
  function formatTokens(value, decimals = 4) {
    const v = BigInt(value);
    if (v === 0n) return "0";
    const scale = 10n ** BigInt(18 - decimals);
    const rounded = v / scale;
    if (rounded === 0n) return v > 0n ? `<${(1 / 10 ** decimals).toFixed(decimals)}` : "−tiny";
    const base = 10n ** BigInt(decimals);
    const neg = rounded < 0n;
    const a = neg ? -rounded : rounded;
    const frac = (a % base).toString().padStart(decimals, "0").replace(/0+$/, "");
    return `${neg ? "−" : ""}${intFmt.format(a / base)}${frac ? `.${frac}` : ""}`;
  }
  const formatInt = (value) => intFmt.format(BigInt(value));
  const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });
  const formatCompact = (value) => compactFmt.format(Number(value));
  const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;
  const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString("en-GB", { hour12: false });

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  }

  // ---------- connection status ----------

  function setConn(state, text) {
    const conn = $("conn");
    conn.dataset.state = state;
    conn.textContent = text;
    conn.title = text;
    document.body.classList.toggle("stale", state !== "connected");
  }

  function showStatus() {
    if (!snap) return;
    const s = snap.status;
    if (s.connected) {
      setConn("connected", `live · block ${snap.head ? intFmt.format(snap.head.block) : "?"}`);
    } else {
      const since = new Date(s.since).toLocaleTimeString("en-GB", { hour12: false });
      setConn(
        "disconnected",
        `disconnected: chain RPC unreachable since ${since} (${s.error ?? "no answer"}), retrying…`,
      );
    }
  }

  // ---------- rendering ----------

  function renderMeta() {
    const c = snap.chain;
    if (!c) {
      $("meta").textContent = "waiting for the chain…";
      return;
    }
    const head = snap.head;
    const epoch = head ? Math.floor(head.block / c.params.epochLength) : "?";
    const p = c.params;
    $("meta").textContent =
      `chain ${c.chainId} · block ${head ? intFmt.format(head.block) : "?"}` +
      (head ? ` (${clock(head.time)})` : "") +
      ` · epoch ${epoch} · DemleMining ${c.mining} · token ${c.token} · ` +
      `${c.layers.length} layer(s), ${p.proofsPerCommitment} proofs per commitment, ` +
      `${p.epochLength}-block epochs, proof window ${p.challengeDelay + 1}…${p.challengeDelay + p.proofWindow} blocks`;
  }

  function renderCards() {
    const t = snap.token;
    $("supply").textContent = formatTokens(t.supply);
    $("supply").title = `${formatUnits(t.supply)} DEMLE`;
    const cap = BigInt(t.cap);
    const ppm = cap > 0n ? Number((BigInt(t.supply) * 100_000_000n) / cap) / 1_000_000 : 0;
    $("supply-bar").style.width = `${Math.min(100, ppm)}%`;
    $("supply-cap").textContent =
      `${ppm < 0.01 && ppm > 0 ? ppm.toExponential(2) : ppm.toFixed(2)} % of the cap of ${formatTokens(t.cap, 0)} DEMLE` +
      (BigInt(t.burnedBonds) > 0n ? ` · ${formatTokens(t.burnedBonds)} ETH of bonds burned` : "");
    const c = snap.commitments;
    fillCounts($("commitments"), [
      ["total", c.total],
      ["pending", c.pending],
      ["proven", c.proven, "good"],
      ["expired (unproven)", c.expired, c.expired ? "bad" : ""],
      ["slashed", c.slashed, c.slashed ? "bad" : ""],
    ]);
    fillCounts($("proofs"), [
      ["accepted", snap.proofs.accepted, "good"],
      ["rejected / expired", c.expired + c.slashed, c.expired + c.slashed ? "bad" : ""],
      ["slashed", c.slashed, c.slashed ? "bad" : ""],
      ["tiles checked", formatInt(snap.proofs.tilesChecked)],
    ]);
    renderJobTotals();
    const macs = $("macs");
    macs.replaceChildren(
      ...Object.entries(snap.macs).map(([op, n]) =>
        el("tr", { "data-op": op }, el("td", { text: op }), el("td", { class: "num", text: formatInt(n), title: n })),
      ),
    );
  }

  function renderJobTotals() {
    const t = snap.jobTotals;
    if (!t) return;
    const eth = (wei) => ({ text: `${formatTokens(wei)} ETH`, title: `${formatUnits(wei)} ETH` });
    fillCounts($("job-totals"), [
      ["posted", t.posted],
      ["open", t.byStatus.open, t.byStatus.open ? "good" : ""],
      ["awaiting refund", t.byStatus.expired, t.byStatus.expired ? "bad" : ""],
      ["fees escrowed", eth(t.feesEscrowed)],
      ["fees paid to miners", eth(t.feesPaid), "good"],
      ["fees refunded", eth(t.feesRefunded)],
      ["slots proven / slashed", `${t.slots.proven} / ${t.slots.slashed}`],
      ["DEMLE minted for jobs", { text: formatTokens(t.rewards), title: `${formatUnits(t.rewards)} DEMLE` }],
    ]);
  }

  /** Rows of [label, value, class]; a value is a string, a number or { text, title }. */
  function fillCounts(dl, rows) {
    dl.replaceChildren(
      ...rows.flatMap(([label, value, cls]) => [
        el("dt", { text: label }),
        el("dd", {
          text: typeof value === "object" ? value.text : String(value),
          title: typeof value === "object" ? value.title : undefined,
          class: cls || undefined,
          "data-count": label,
        }),
      ]),
    );
  }

  function sortedAccounts() {
    return [...snap.accounts].sort((x, y) => {
      const d = BigInt(y.balance) - BigInt(x.balance);
      return d > 0n ? 1 : d < 0n ? -1 : x.address.localeCompare(y.address);
    });
  }

  function renderMiners(flash = new Set()) {
    const rows = sortedAccounts();
    snap.accounts = rows;
    const tbody = $("miners").tBodies[0];
    if (rows.length === 0) {
      tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 10, class: "empty", text: "no miners yet" })));
    } else {
      tbody.replaceChildren(
        ...rows.map((row, i) => {
          const color = colors.get(row.address);
          const last = row.lastEarn;
          return el(
            "tr",
            { "data-address": row.address, class: flash.has(row.address) ? "earned" : undefined },
            el("td", { class: "num", text: String(i + 1) }),
            el(
              "td",
              { class: "addr", title: row.address },
              color ? el("span", { class: "swatch", style: `background:${color}` }) : "",
              short(row.address),
              row.miner ? el("span", { class: "tag-miner", text: "miner" }) : "",
            ),
            el("td", {
              class: "num balance",
              "data-wei": row.balance,
              title: formatUnits(row.balance),
              text: formatTokens(row.balance),
            }),
            el("td", {
              class: "num",
              "data-wei": row.earned,
              title: formatUnits(row.earned),
              text: formatTokens(row.earned),
            }),
            el("td", { class: "num", text: String(row.commitments) }),
            el("td", { class: "num", text: String(row.proven) }),
            el("td", { class: "num", text: String(row.slashed) }),
            el("td", { class: "num", title: row.macs, text: formatCompact(row.macs) }),
            el("td", {
              class: "num job-fees",
              "data-wei": row.jobFees ?? "0",
              title:
                `${formatUnits(row.jobFees ?? "0")} ETH; job slots: ${row.jobSlots ?? 0} taken, ` +
                `${row.jobsProven ?? 0} proven, ${row.jobsSlashed ?? 0} slashed`,
              text: row.jobSlots ? formatTokens(row.jobFees) : "—",
            }),
            el("td", {
              text: last
                ? `+${formatTokens(last.amount)} at ${clock(last.time)} ` +
                  (last.job !== undefined ? `(job ${last.job})` : `(#${last.id})`)
                : "—",
            }),
          );
        }),
      );
    }
    const miners = rows.filter((r) => r.miner).length;
    $("miners-note").textContent =
      `${miners} miner${miners === 1 ? "" : "s"}, ${rows.length} account${rows.length === 1 ? "" : "s"}`;
  }

  function renderEpochs() {
    const tbody = $("epochs").tBodies[0];
    const rows = [...snap.epochs].sort((a, b) => b.epoch - a.epoch);
    if (rows.length === 0) {
      tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 7, class: "empty", text: "no epoch opened yet" })));
      return;
    }
    tbody.replaceChildren(
      ...rows.map((e) =>
        el(
          "tr",
          { "data-epoch": String(e.epoch) },
          el("td", { class: "num", text: String(e.epoch) }),
          el("td", { class: "num", text: intFmt.format(e.block) }),
          el("td", { text: clock(e.time) }),
          el("td", { class: "num", text: String(e.commitments) }),
          el("td", { class: "num", text: String(e.proven) }),
          el("td", { class: "num", text: String(e.slashed) }),
          el("td", { class: "num", title: e.macs, text: formatInt(e.macs) }),
        ),
      ),
    );
  }

  const STATUS_TEXT = {
    open: "open",
    full: "full",
    closed: "closed to commits",
    expired: "expired (refundable)",
    done: "done",
    refunded: "refunded",
  };

  /** Every string here comes from the chain (inputUri is the requester's free text): text nodes only, never HTML. */
  function jobRow(j) {
    const size = j.m !== null ? `${formatInt(j.m)}×${formatInt(j.n)}, K ${formatInt(j.k)}` : `shape ${j.shape}`;
    const slots = j.slots.map((s) => `#${s.assignmentId} ${s.miner}: ${s.status}`).join("\n");
    return el(
      "tr",
      { "data-job": j.id, "data-status": j.status },
      el("td", { class: "num", text: j.id }),
      el("td", { class: "addr", title: j.requester, text: short(j.requester) }),
      el("td", { class: "num", text: String(j.kind) }),
      el("td", { class: "size", title: `shape ${j.shape} (dr + 256·dc)`, text: size }),
      el("td", { class: "num fee", "data-wei": j.fee, title: `${formatUnits(j.fee)} ETH`, text: formatTokens(j.fee) }),
      el("td", { class: "num", text: String(j.redundancy) }),
      el("td", {
        class: "num slots",
        title: slots || "no commitment yet",
        text: `${j.committed} / ${j.proven}${j.slashed ? ` (${j.slashed} slashed)` : ""}`,
      }),
      el("td", { class: `status st-${j.status}`, text: STATUS_TEXT[j.status] ?? j.status }),
      el("td", {
        class: "num paid",
        "data-wei": j.feesPaid,
        title: `${formatUnits(j.feesPaid)} ETH`,
        text: formatTokens(j.feesPaid),
      }),
      el("td", {
        class: "num refunded",
        "data-wei": j.refunded,
        title: `${formatUnits(j.refunded)} ETH`,
        text: formatTokens(j.refunded),
      }),
      el("td", { class: "num", text: intFmt.format(j.deadline) }),
      el("td", { class: "uri", title: j.inputUri }, el("span", { text: j.inputUri })),
    );
  }

  function renderJobs() {
    const tbody = $("jobs").tBodies[0];
    const jobs = snap.jobs ?? [];
    const t = snap.jobTotals;
    $("jobs-note").textContent = t
      ? `${t.posted} posted${t.posted > jobs.length ? `; the newest ${jobs.length} shown` : ""}`
      : "";
    if (jobs.length === 0) {
      tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 12, class: "empty", text: "no jobs posted yet" })));
      return;
    }
    tbody.replaceChildren(...jobs.map(jobRow));
  }

  /** "257,3" (dr + 256·dc per layer) → "2^1×2^1 + 2^3×2^0". */
  function describeShapes(shapes) {
    return String(shapes)
      .split(",")
      .map((s) => `2^${Number(s) % 256}×2^${Math.floor(Number(s) / 256)}`)
      .join(" + ");
  }

  function describe(e) {
    const a = e.args;
    switch (e.name) {
      case "EpochOpened":
        return `epoch ${a.epoch} opened (seed ${a.seed.slice(0, 10)}…)`;
      case "Committed":
        return (
          `${short(a.miner)} committed #${a.id}: epoch ${a.epoch}, ${describeShapes(a.shapes)} tiles, ` +
          `${formatInt(a.macs)} MACs, bond ${formatTokens(a.bond)} ETH`
        );
      case "ProofAccepted":
        return `#${a.id} of ${short(a.miner)} proven: ${a.tilesChecked} tiles checked, ${formatInt(a.macs)} MACs verified`;
      case "RewardMinted":
        return `${short(a.miner)} earned ${formatUnits(a.amount)} DEMLE for #${a.id}`;
      case "BondReturned":
        return `bond of #${a.id} returned to ${short(a.miner)}: ${formatTokens(a.bond)} ETH`;
      case "Slashed":
        return (
          `#${a.id} of ${short(a.miner)} slashed by ${short(a.caller)}: bounty ${formatTokens(a.bounty)} ETH, ` +
          `${formatTokens(a.burned)} ETH burned`
        );
      case "Transfer":
        return `${short(a.from)} → ${short(a.to)}: ${formatUnits(a.value)} DEMLE`;
      case "JobPosted":
        return (
          `job ${a.jobId} posted by ${short(a.requester)}: kind ${a.kind}, shape ${a.shape}, ${a.redundancy} slot(s), ` +
          `fee ${formatTokens(a.fee)} ETH, deadline block ${a.deadline}`
        );
      case "JobCommitted":
        return `${short(a.miner)} took a slot of job ${a.jobId} (#${a.assignmentId}), bond ${formatTokens(a.bond)} ETH`;
      case "JobProofAccepted":
        return `job ${a.jobId} slot #${a.assignmentId} of ${short(a.miner)} proven: ${formatInt(a.macs)} MACs verified`;
      case "JobFeePaid":
        return `${short(a.miner)} received ${formatTokens(a.amount)} ETH of job ${a.jobId}'s fee`;
      case "JobRewardMinted":
        return `${short(a.miner)} earned ${formatUnits(a.amount)} DEMLE for job slot #${a.assignmentId}`;
      case "JobBondReturned":
        return `bond of job slot #${a.assignmentId} returned to ${short(a.miner)}: ${formatTokens(a.bond)} ETH`;
      case "JobSlashed":
        return (
          `job ${a.jobId} slot #${a.assignmentId} of ${short(a.miner)} slashed by ${short(a.slasher)}: bounty ` +
          `${formatTokens(a.bounty)} ETH, ${formatTokens(a.burned)} ETH burned`
        );
      case "JobRefunded":
        return `job ${a.jobId}: ${formatTokens(a.amount)} ETH refunded to ${short(a.requester)}`;
      default:
        return JSON.stringify(a);
    }
  }

  function feedRow(e, isNew) {
    return el(
      "li",
      { "data-key": e.key, "data-name": e.name, "data-id": e.args.id, class: isNew ? "new" : undefined },
      el("time", { text: clock(e.time) }),
      el("span", { class: "blk", text: `#${e.block}` }),
      el("span", { class: `tag tag-${e.name}`, text: e.name }),
      el("span", { class: "text", text: describe(e), title: `${describe(e)} · tx ${e.tx}` }),
    );
  }

  /** Records when rows were first painted (the next animation frame after insertion). */
  function markSeen(keys) {
    if (keys.length === 0) return;
    requestAnimationFrame(() => {
      const now = Date.now();
      for (const key of keys) if (!(key in seen)) seen[key] = now;
    });
  }

  function renderFeed() {
    const list = $("feed");
    const entries = snap.feed.slice(0, FEED_SHOWN);
    list.replaceChildren(...entries.map((e) => feedRow(e, false)));
    if (entries.length === 0) list.append(el("li", { class: "empty", text: "no events yet" }));
    markSeen(entries.map((e) => e.key));
  }

  function prependFeed(entries) {
    const list = $("feed");
    list.querySelector(".empty")?.remove();
    for (const e of entries) list.prepend(feedRow(e, true));
    while (list.children.length > FEED_SHOWN) list.lastElementChild.remove();
    markSeen(entries.map((e) => e.key));
  }

  // ---------- charts ----------

  function chartWidth(id) {
    return Math.max(280, $(id).clientWidth);
  }

  function stepped() {
    return uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
  }

  /** Step series aligned on the union of their blocks (uPlot wants one x array), extended to the head block. */
  function align(seriesList, head) {
    const xs = new Set();
    for (const s of seriesList) for (const [x] of s) xs.add(x);
    if (head !== undefined && xs.size > 0) xs.add(head);
    const x = [...xs].sort((a, b) => a - b);
    const ys = seriesList.map((s) => {
      const out = new Array(x.length);
      let j = 0;
      let value = 0;
      for (let i = 0; i < x.length; i++) {
        while (j < s.length && s[j][0] <= x[i]) value = s[j++][1];
        out[i] = value;
      }
      return out;
    });
    return [x, ...ys];
  }

  function renderCharts() {
    if (typeof uPlot === "undefined") return false;
    const head = snap.head ? snap.head.block : undefined;
    const top = sortedAccounts()
      .filter((a) => (snap.series.balances[a.address] || []).length > 0)
      .slice(0, CHART_SERIES);
    const keys = top.map((a) => a.address).join(",");
    colors.clear();
    top.forEach((a, i) => colors.set(a.address, PALETTE[i % PALETTE.length]));
    const data = align(
      top.map((a) => snap.series.balances[a.address]),
      head,
    );
    const others = snap.accounts.length - top.length;
    $("chart-note").textContent =
      top.length === 0
        ? "(no balances yet)"
        : `(the ${top.length} largest holders${others > 0 ? `; ${others} more in the table` : ""}; x: block)`;
    const changed = !charts.balances || charts.balanceKeys !== keys;
    if (changed) {
      charts.balances?.destroy();
      charts.balanceKeys = keys;
      charts.balances = new uPlot(
        {
          width: chartWidth("chart-balances"),
          height: 280,
          scales: { x: { time: false } },
          axes: [
            { label: "block", incrs: BLOCK_STEPS },
            { label: "DEMLE", size: 70 },
          ],
          series: [
            { label: "block" },
            ...top.map((a, i) => ({
              label: short(a.address),
              stroke: PALETTE[i % PALETTE.length],
              width: 2,
              paths: stepped(),
              points: { show: false },
            })),
          ],
        },
        data,
        $("chart-balances"),
      );
    } else {
      charts.balances.setData(data);
    }
    charts.balanceAccounts = top.map((a) => a.address);
    const supply = align([snap.series.supply], head);
    if (!charts.supply) {
      charts.supply = new uPlot(
        {
          width: chartWidth("chart-supply"),
          height: 220,
          scales: { x: { time: false } },
          axes: [
            { label: "block", incrs: BLOCK_STEPS },
            { label: "DEMLE", size: 70 },
          ],
          series: [
            { label: "block" },
            {
              label: "supply",
              stroke: "#2f6fed",
              fill: "rgba(47,111,237,0.12)",
              width: 2,
              paths: stepped(),
              points: { show: false },
            },
          ],
        },
        supply,
        $("chart-supply"),
      );
    } else {
      charts.supply.setData(supply);
    }
    return changed;
  }

  let chartFrame = 0;
  function scheduleCharts() {
    if (chartFrame) return;
    chartFrame = requestAnimationFrame(() => {
      chartFrame = 0;
      if (renderCharts()) renderMiners(); // colour swatches follow the chart's series
    });
  }

  new ResizeObserver(() => {
    if (charts.balances) charts.balances.setSize({ width: chartWidth("chart-balances"), height: 280 });
    if (charts.supply) charts.supply.setSize({ width: chartWidth("chart-supply"), height: 220 });
  }).observe(document.body);

  // ---------- earning cue ----------

  function toast(text) {
    const box = $("toasts");
    const node = el("div", { class: "toast", role: "status", text });
    box.append(node);
    while (box.children.length > 4) box.firstElementChild.remove();
    setTimeout(() => node.remove(), 6000);
  }

  // ---------- state ----------

  function renderAll() {
    showStatus();
    renderMeta();
    renderCards();
    renderMiners();
    renderEpochs();
    renderJobs();
    renderFeed();
    scheduleCharts();
  }

  function mergePoints(series, points) {
    for (const p of points) {
      const last = series[series.length - 1];
      if (last && last[0] === p[0]) series[series.length - 1] = p;
      else series.push(p);
    }
    if (series.length > POINTS_KEPT) series.splice(0, series.length - POINTS_KEPT);
  }

  function applyDelta(d) {
    if (!snap || resyncing) return;
    if (d.version <= snap.version) return;
    if (d.prev !== snap.version) {
      resync();
      return;
    }
    snap.version = d.version;
    snap.head = d.head;
    snap.token = d.token;
    snap.commitments = d.commitments;
    snap.proofs = d.proofs;
    snap.macs = d.macs;
    for (const e of d.epochs) {
      const i = snap.epochs.findIndex((x) => x.epoch === e.epoch);
      if (i >= 0) snap.epochs[i] = e;
      else snap.epochs.push(e);
    }
    snap.epochs.sort((a, b) => b.epoch - a.epoch);
    snap.epochs.splice(50);
    snap.jobTotals = d.jobTotals;
    for (const j of d.jobs) {
      const i = snap.jobs.findIndex((x) => x.id === j.id);
      if (i >= 0) snap.jobs[i] = j;
      else snap.jobs.push(j);
    }
    snap.jobs.sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : BigInt(b.id) < BigInt(a.id) ? -1 : 0));
    snap.jobs.splice(JOBS_SHOWN);
    const byAddress = new Map(snap.accounts.map((a, i) => [a.address, i]));
    for (const a of d.accounts) {
      const i = byAddress.get(a.address);
      if (i === undefined) snap.accounts.push(a);
      else snap.accounts[i] = a;
    }
    snap.feed = [...[...d.feed].reverse(), ...snap.feed].slice(0, 200);
    mergePoints(snap.series.supply, d.series.supply);
    for (const [address, points] of Object.entries(d.series.balances)) {
      mergePoints((snap.series.balances[address] ??= []), points);
    }
    const earners = new Set();
    for (const e of d.feed) {
      if (e.name === "RewardMinted") {
        earners.add(e.args.miner);
        cues.push({ miner: e.args.miner, amount: e.args.amount, id: e.args.id, at: Date.now() });
        toast(`⛏ ${short(e.args.miner)} earned +${formatUnits(e.args.amount)} DEMLE (commitment #${e.args.id})`);
      } else if (e.name === "JobFeePaid") {
        earners.add(e.args.miner);
        cues.push({ miner: e.args.miner, fee: e.args.amount, job: e.args.jobId, at: Date.now() });
        toast(`⛏ ${short(e.args.miner)} earned ${formatUnits(e.args.amount)} ETH of job ${e.args.jobId}'s fee`);
      }
    }
    if (snap.status.connected) showStatus();
    renderMeta();
    renderCards();
    if (d.accounts.length > 0) renderMiners(earners);
    if (d.epochs.length > 0) renderEpochs();
    if (d.jobs.length > 0) renderJobs();
    if (d.feed.length > 0) prependFeed(d.feed);
    if (d.accounts.length > 0 || d.series.supply.length > 0) scheduleCharts();
  }

  function replace(snapshot) {
    snap = snapshot;
    renderAll();
  }

  async function resync() {
    resyncing = true;
    try {
      const response = await fetch("/state", { cache: "no-store" });
      if (response.ok) replace(await response.json());
    } catch {
      // the event stream's error handler reports the disconnection
    } finally {
      resyncing = false;
    }
  }

  // ---------- the event stream ----------

  let source = null;
  let retryTimer = 0;
  function connect() {
    clearTimeout(retryTimer);
    source?.close();
    source = new EventSource("/events");
    source.addEventListener("snapshot", (m) => replace(JSON.parse(m.data)));
    source.addEventListener("delta", (m) => applyDelta(JSON.parse(m.data)));
    source.addEventListener("status", (m) => {
      if (!snap) return;
      snap.status = JSON.parse(m.data);
      showStatus();
    });
    source.onerror = () => {
      setConn("disconnected", "disconnected: dashboard server unreachable, retrying…");
      // EventSource retries by itself unless the server answered with an error; then retry here.
      if (source.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 2000);
    };
  }
  connect();
})();
