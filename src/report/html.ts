import {escapeControl} from '../control-chars.js'
import {failuresByReason, registryFigures, repositoryFigures, type GroupFigures} from './figures.js'
import type {ReportJob, ReportMode, RunReport} from './run-report.js'
import {formatBytes} from './summary.js'
import {throughputSeries, type ThroughputSeries} from './throughput.js'

/** Text made safe for HTML element content and quoted attribute values, control characters shown escaped. Pure. */
export function escapeHtml(text: string): string {
  return escapeControl(text).replace(/[&<>"'`]/g, (char) => `&#${char.charCodeAt(0)};`)
}

const STATUSES: ReadonlyArray<ReportJob['status']> = ['copied', 'skipped', 'failed', 'interrupted', 'planned', 'verified']

/** What the page calls the run: a dry run planned, a verify checked; neither copied. */
const MODE_TITLE: Record<ReportMode, string> = {copy: 'copy report', 'dry run': 'dry-run plan', verify: 'verify report'}

/** The page's title: what ran, between which registries, when. Pure. */
export function reportTitle(report: RunReport): string {
  const shown = report.registries.slice(0, 3).join(', ')
  const more = report.registries.length > 3 ? ` and ${report.registries.length - 3} more` : ''
  return `ferry ${MODE_TITLE[report.mode]}${shown ? `: ${shown}${more}` : ''}, ${report.startedAt}`
}

/** The jobs line in the words of the run's mode: a dry run's jobs are planned, a verify's verified. Pure. */
export function jobsLine(report: RunReport): string {
  const s = report.summary
  if (report.mode === 'dry run') {
    return `${s.jobs} jobs planned, nothing written: ${s.planned} would be copied, ${s.skipped} would be skipped, ${s.failed} failed while planning`
  }
  if (report.mode === 'verify') {
    return `${s.jobs} destinations checked, nothing written: ${s.verified} verified complete, ${s.failed} incomplete or failed, ${s.skipped} skipped`
  }
  return `${s.jobs} jobs: ${s.copied} copied, ${s.skipped} skipped, ${s.failed} failed`
}

/**
 * The report as one page that needs nothing else: styles and the filter script are inline, the
 * chart is inline SVG, and the page's policy forbids loading anything from anywhere.
 */
export function renderHtmlReport(report: RunReport): string {
  const series = throughputSeries(report.jobs, {startMs: Date.parse(report.startedAt), endMs: Date.parse(report.finishedAt)})
  const s = report.summary
  const title = reportTitle(report)
  // Failures first: they are what a reader opens the page for.
  const jobs = [...report.jobs.filter((job) => job.status === 'failed'), ...report.jobs.filter((job) => job.status !== 'failed')]
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
code{font-size:12px;word-break:break-all}
tr.failed td.status,#failures h3{color:#b00020;font-weight:600}
tr.skipped td.status{color:#666}
tr.copied td.status,tr.verified td.status{color:#1b5e20}
.filters{display:flex;gap:1em;align-items:center;margin-top:1em}
svg text{font-size:11px;fill:#444}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<dl id="context">
<dt>Command</dt><dd><code>${escapeHtml(report.command ?? 'unknown')}</code></dd>
<dt>ferry</dt><dd>${escapeHtml(report.ferryVersion ?? 'unknown')}</dd>
<dt>Registries</dt><dd>${report.registries.map((registry) => `<code>${escapeHtml(registry)}</code>`).join(', ') || 'none'}</dd>
<dt>Started</dt><dd>${escapeHtml(report.startedAt)}</dd>
<dt>Finished</dt><dd>${escapeHtml(report.finishedAt)} (${(s.durationMs / 1000).toFixed(1)}s)</dd>
</dl>
<dl id="summary">
<dt>Jobs</dt><dd>${escapeHtml(jobsLine(report))}</dd>
<dt>Rules that generated no jobs</dt><dd>${s.generateFailed}</dd>
${report.interrupted ? `<dt>Interrupted</dt><dd>${report.unfinishedRules.length} rules did not finish${report.allRulesRead ? '' : ', and the rules were not read to the end'}</dd>` : ''}
${s.referrers.copied + s.referrers.present > 0 ? `<dt>Referrers</dt><dd>${s.referrers.copied} copied, ${s.referrers.present} already present</dd>` : ''}
<dt>Requests</dt><dd>${s.requests}</dd>
</dl>
${renderFailures(report)}
${renderGenerateFailures(report)}
${renderUnfinished(report)}
${report.mode === 'copy' ? renderBytes(report) : ''}
${renderFigures('By registry', 'registries', 'Registry', registryFigures(report.jobs))}
${renderFigures('By destination repository', 'repositories', 'Repository', repositoryFigures(report.jobs))}
<h2>Throughput</h2>
${throughputSvg(series)}
<h2>Jobs</h2>
<div class="filters">
<label>Status <select id="status-filter"><option value="">all</option>${STATUSES.map((status) => `<option value="${status}">${status}</option>`).join('')}</select></label>
<label>Text <input id="text-filter" type="search" placeholder="reference, digest, error"></label>
<span id="shown"></span>
</div>
<table id="jobs">
<thead><tr><th>Status</th><th>Source</th><th>Destination</th><th>Digests</th><th>Bytes</th><th>Duration</th><th>Retries</th><th>Detail</th></tr></thead>
<tbody>
${jobs.map(renderJobRow).join('\n')}
</tbody>
</table>
<script>
(function () {
  var status = document.getElementById('status-filter');
  var text = document.getElementById('text-filter');
  var shown = document.getElementById('shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#jobs tbody tr'));
  function apply() {
    var want = status.value;
    var needle = text.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var visible = (!want || row.getAttribute('data-status') === want) && (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0);
      row.hidden = !visible;
      if (visible) count++;
    });
    shown.textContent = count + ' of ' + rows.length + ' jobs';
  }
  // A link can carry a filter: report.html#status=failed&q=team/app
  var initial = new URLSearchParams(location.hash.slice(1));
  if (initial.has('status')) status.value = initial.get('status');
  if (initial.has('q')) text.value = initial.get('q');
  status.addEventListener('change', apply);
  text.addEventListener('input', apply);
  apply();
})();
</script>
</body>
</html>
`
}

function renderJobRow(job: ReportJob): string {
  const same = job.sourceDigest !== null && job.sourceDigest === job.destinationDigest
  const digests = [
    job.sourceDigest ? `${same ? 'source = destination' : 'source'} <code>${escapeHtml(job.sourceDigest)}</code>` : '',
    job.destinationDigest && !same ? `destination <code>${escapeHtml(job.destinationDigest)}</code>` : '',
  ].filter(Boolean)
  const detail = job.error
    ? `${escapeHtml(job.error.code)}: ${escapeHtml(job.error.message)}`
    : job.skipReason
      ? escapeHtml(job.note ? `${job.skipReason}: ${job.note}` : job.skipReason)
      : job.status === 'planned'
        ? escapeHtml(job.note ?? 'would be copied')
        : job.status === 'verified'
          ? 'complete at the destination'
          : `blobs: ${job.blobs.uploaded} uploaded, ${job.blobs.mounted} mounted, ${job.blobs.existing} present`
  return (
    `<tr class="${escapeHtml(job.status)}" data-status="${escapeHtml(job.status)}">` +
    `<td class="status">${escapeHtml(job.status)}</td>` +
    `<td class="source"><code>${escapeHtml(job.source)}</code></td>` +
    `<td class="destination"><code>${escapeHtml(job.destination)}</code></td>` +
    `<td>${digests.join('<br>')}</td>` +
    `<td class="num">${escapeHtml(formatBytes(job.bytes))}</td>` +
    `<td class="num">${(job.durationMs / 1000).toFixed(2)}s</td>` +
    `<td class="num">${job.retries}</td>` +
    `<td>${detail}</td></tr>`
  )
}

/** Failed jobs by reason (error code), the largest group first, each job with its own message. */
function renderFailures(report: RunReport): string {
  const groups = failuresByReason(report.jobs)
  if (groups.length === 0) return ''
  const sections = groups.map(
    (group) =>
      `<section class="reason" data-code="${escapeHtml(group.code)}"><h3>${escapeHtml(group.code)} (${group.jobs.length})</h3><ul>` +
      group.jobs
        .map((job) => `<li><code>${escapeHtml(job.source)}</code> → <code>${escapeHtml(job.destination)}</code>: ${escapeHtml(job.error?.message ?? '')}</li>`)
        .join('') +
      '</ul></section>',
  )
  return `<div id="failures"><h2>Failed jobs by reason (${report.summary.failed})</h2>\n${sections.join('\n')}</div>`
}

/** The blob bytes by how they got there: uploads cost the link, mounts and blobs already present did not. */
function renderBytes(report: RunReport): string {
  const s = report.summary
  const count = (kind: keyof ReportJob['blobs']) => report.jobs.reduce((total, job) => total + job.blobs[kind], 0)
  const row = (label: string, bytes: number, blobs: number) => `<dt>${label}</dt><dd>${escapeHtml(formatBytes(bytes))} (${blobs} blobs)</dd>`
  return `<h2>Bytes</h2>
<dl id="bytes">
${row('Uploaded', s.blobBytes.uploaded, count('uploaded'))}
${row('Mounted', s.blobBytes.mounted, count('mounted'))}
${row('Already present', s.blobBytes.existing, count('existing'))}
<dt>Skipped</dt><dd>${s.skipped} images already at the destination (not read: a skip costs one HEAD at each side)</dd>
<dt>Saved</dt><dd>${escapeHtml(formatBytes(s.blobBytes.mounted + s.blobBytes.existing))} not uploaded</dd>
</dl>`
}

function renderFigures(heading: string, id: string, label: string, rows: readonly GroupFigures[]): string {
  if (rows.length === 0) return ''
  const cells = rows.map(
    (row) =>
      `<tr><td><code>${escapeHtml(row.name)}</code></td><td class="num">${row.jobs}</td><td class="num">${row.failed}</td>` +
      `<td class="num uploaded">${escapeHtml(formatBytes(row.uploaded))}</td><td class="num mounted">${escapeHtml(formatBytes(row.mounted))}</td>` +
      `<td class="num existing">${escapeHtml(formatBytes(row.existing))}</td><td class="num">${(row.busyMs / 1000).toFixed(1)}s</td>` +
      `<td class="num rate">${escapeHtml(formatBytes(row.bytesPerSecond))}/s</td></tr>`,
  )
  return `<h2>${heading}</h2>
<table id="${id}">
<thead><tr><th>${label}</th><th>Jobs</th><th>Failed</th><th>Uploaded</th><th>Mounted</th><th>Already present</th><th>Busy</th><th>Throughput</th></tr></thead>
<tbody>
${cells.join('\n')}
</tbody>
</table>`
}

function renderGenerateFailures(report: RunReport): string {
  if (report.generateFailures.length === 0) return ''
  const items = report.generateFailures.map((failure) => `<li><code>${escapeHtml(failure.rule)}</code>: ${escapeHtml(failure.message)}</li>`)
  return `<h2>Rules that generated no jobs</h2>\n<ul id="generate-failures">${items.join('')}</ul>`
}

function renderUnfinished(report: RunReport): string {
  if (report.unfinishedRules.length === 0) return ''
  const items = report.unfinishedRules.map((rule) => `<li><code>${escapeHtml(rule)}</code></li>`)
  return `<h2>Rules that did not finish</h2>\n<ul id="unfinished-rules">${items.join('')}</ul>`
}

/** A line chart of the series as inline SVG, with the peak rate and the run's length as labels. Pure. */
export function throughputSvg(series: ThroughputSeries, size = {width: 720, height: 180}): string {
  const pad = {left: 70, right: 10, top: 10, bottom: 24}
  const plotWidth = size.width - pad.left - pad.right
  const plotHeight = size.height - pad.top - pad.bottom
  const peak = Math.max(0, ...series.points.map((point) => point.bytesPerSecond))
  const spanMs = series.points.length * series.bucketMs
  const x = (offsetMs: number) => pad.left + (spanMs === 0 ? 0 : (offsetMs / spanMs) * plotWidth)
  const y = (rate: number) => pad.top + plotHeight - (peak === 0 ? 0 : (rate / peak) * plotHeight)
  // Each bucket is a flat step: the rate held over that stretch.
  const steps = series.points.flatMap((point) => [
    `${x(point.offsetMs).toFixed(1)},${y(point.bytesPerSecond).toFixed(1)}`,
    `${x(point.offsetMs + series.bucketMs).toFixed(1)},${y(point.bytesPerSecond).toFixed(1)}`,
  ])
  const baseline = pad.top + plotHeight
  const label = `throughput over time: peak ${formatBytes(Math.round(peak))}/s over ${(spanMs / 1000).toFixed(1)}s`
  return (
    `<svg id="throughput" xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}" role="img" aria-label="${escapeHtml(label)}">` +
    `<line x1="${pad.left}" y1="${baseline}" x2="${size.width - pad.right}" y2="${baseline}" stroke="#999"/>` +
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${baseline}" stroke="#999"/>` +
    (steps.length > 0 ? `<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="${steps.join(' ')}"/>` : '') +
    `<text x="${pad.left - 4}" y="${pad.top + 10}" text-anchor="end">${escapeHtml(formatBytes(Math.round(peak)))}/s</text>` +
    `<text x="${pad.left - 4}" y="${baseline}" text-anchor="end">0</text>` +
    `<text x="${pad.left}" y="${size.height - 6}">0s</text>` +
    `<text x="${size.width - pad.right}" y="${size.height - 6}" text-anchor="end">${(spanMs / 1000).toFixed(1)}s</text>` +
    `</svg>`
  )
}
