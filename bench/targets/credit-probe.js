/**
 * BENCH_PROBE=/tmp/prefix (issue 17's p99): where a credit request's time goes in the service, one JSON line a
 * second appended to `<prefix>-<before|after>-<pid>.jsonl`: the wait for a group (submitted → its group starts),
 * the group's time (its flush: BEGIN + lock + reads, the work, save + COMMIT), submitted → answered, how many
 * groups were in flight at once, the event loop's delay (`monitorEventLoopDelay`, 1 ms resolution) and GC pauses.
 * It wraps `CreditGroups.prototype.run` and `flush` of the build it runs (plain JavaScript: the compiled service
 * loads it without a compiler). `node bench/targets/credit-probe.js FILE [ACCESS_LOG]` summarizes the seconds with credit
 * requests (the paced model call's rounds; the no-op's rounds make none).
 */
const { monitorEventLoopDelay, PerformanceObserver, performance } = require('node:perf_hooks');
const { appendFileSync, readFileSync } = require('node:fs');
const { resolve } = require('node:path');

function emptySecond() {
  return { laneWait: [], group: [], total: [], sizes: [], overlapped: 0, gc: [] };
}

function probeCreditGroups(root, prefix) {
  const { CreditGroups } = require(resolve(root, 'dist/src/services/credits/credit-groups'));
  const label = root === resolve(__dirname, '../..') ? 'after' : 'before';
  const file = `${prefix}-${label}-${process.pid}.jsonl`;
  const submittedAt = new WeakMap();
  let second = emptySecond();
  let groupsInFlight = 0;
  const { run, flush } = CreditGroups.prototype;
  CreditGroups.prototype.run = function probedRun(accountId, work, reads) {
    const submitted = performance.now();
    const probed = (account) => work(account);
    submittedAt.set(probed, submitted);
    const answer = run.call(this, accountId, probed, reads);
    const done = () => second.total.push(performance.now() - submitted);
    answer.then(done, done);
    return answer;
  };
  CreditGroups.prototype.flush = async function probedFlush(group) {
    const start = performance.now();
    for (const request of group) {
      const submitted = submittedAt.get(request.work);
      if (submitted !== undefined) second.laneWait.push(start - submitted);
    }
    second.sizes.push(group.length);
    if (groupsInFlight > 0) second.overlapped++;
    groupsInFlight++;
    try {
      return await flush.call(this, group);
    } finally {
      groupsInFlight--;
      second.group.push(performance.now() - start);
    }
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  new PerformanceObserver((list) => {
    // The kind: 1 a scavenge (the young generation), 2 a mark-compact, 4 incremental marking, 8 weak callbacks.
    for (const entry of list.getEntries()) second.gc.push({ kind: entry.detail?.kind, ms: entry.duration });
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    const line = {
      at: Date.now(),
      credit: second.total.length,
      groups: second.group.length,
      overlapped: second.overlapped,
      meanSize: mean(second.sizes),
      laneWait: rounded(second.laneWait),
      group: rounded(second.group),
      total: rounded(second.total),
      loopDelay: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      gc: gcFigures(second.gc),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    second = emptySecond();
    delay.reset();
  }, 1000).unref();
}

/** The second's GC pauses: how many, their total, the longest scavenge and the longest of the other kinds. */
function gcFigures(pauses) {
  const longest = (kept) => Math.max(0, ...pauses.filter(kept).map((pause) => pause.ms));
  return {
    count: pauses.length,
    sum: sum(pauses.map((pause) => pause.ms)),
    max: longest(() => true),
    scavengeMax: longest((pause) => pause.kind === 1),
    otherMax: longest((pause) => pause.kind !== 1),
  };
}

const rounded = (values) => values.map((value) => Math.round(value * 10) / 10);
const sum = (values) => values.reduce((total, value) => total + value, 0);
const mean = (values) => (values.length ? sum(values) / values.length : 0);

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0;
}

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value) => Math.round(value * 10) / 10;
  return {
    p50: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? 0),
  };
}

/**
 * Over the busy seconds (≥ 100 credit requests): the pooled quantiles of the wait, the group and the whole, the
 * median of the seconds' event-loop p99, the GC pauses; with the service's access log, its `responseTime`s of the
 * same seconds (the whole request in the service, HTTP and GraphQL included).
 */
function summarize(file, accessLog) {
  const seconds = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((line) => line.credit >= 100);
  const median = (pick) =>
    quantile(
      [...seconds.map(pick)].sort((a, b) => a - b),
      0.5,
    );
  const pooled = (pick) => quantiles(seconds.flatMap(pick));
  const busy = (time) => seconds.some((second) => time >= second.at - 1000 && time < second.at);
  const figures = {
    seconds: seconds.length,
    groupsPerSecond: median((s) => s.groups),
    overlappedShare: sum(seconds.map((s) => s.overlapped)) / Math.max(1, sum(seconds.map((s) => s.groups))),
    meanSize: median((s) => s.meanSize),
    laneWait: pooled((s) => s.laneWait),
    group: pooled((s) => s.group),
    submittedToAnswered: pooled((s) => s.total),
    ...(accessLog ? { responseTime: quantiles(responseTimes(accessLog, busy)) } : {}),
    loopDelayP99Median: median((s) => s.loopDelay.p99),
    loopDelayMax: Math.max(...seconds.map((s) => s.loopDelay.max)),
    gcPerSecond: { count: median((s) => s.gc.count), ms: median((s) => s.gc.sum) },
    gcMax: Math.max(...seconds.map((s) => s.gc.max)),
    gcScavengeMax: Math.max(...seconds.map((s) => s.gc.scavengeMax ?? 0)),
    gcOtherMax: Math.max(...seconds.map((s) => s.gc.otherMax ?? 0)),
    secondsWithPauseOver10: seconds.filter((s) => s.gc.max > 10).length,
  };
  console.log(file, JSON.stringify(figures));
}

/** The gateway's requests' `responseTime` (ms) in the access log, of the moments `busy` keeps. */
function responseTimes(accessLog, busy) {
  return readFileSync(accessLog, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"ai-gateway"') && line.includes('"responseTime"'))
    .map((line) => JSON.parse(line))
    .filter((entry) => busy(entry.time))
    .map((entry) => entry.responseTime);
}

// `node bench/targets/credit-probe.js PROBE.jsonl [ACCESS.log]`
if (require.main === module) summarize(process.argv[2], process.argv[3]);

module.exports = { probeCreditGroups };
