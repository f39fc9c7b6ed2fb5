import {stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {ConfigError} from '../errors.js'
import {renderHtmlReport} from './html.js'
import type {RunReport} from './run-report.js'

export type ReportFormat = 'json' | 'html'

/** The format a --report path asks for, by its extension. Pure. */
export function reportFormat(file: string): ReportFormat {
  const extension = path.extname(file).toLowerCase()
  if (extension === '.json') return 'json'
  if (extension === '.html') return 'html'
  throw new ConfigError(`--report ${file}: the file name must end in .json or .html (the extension picks the format)`)
}

/** Checked before any copying, so a run never ends with nowhere to put its report. */
export async function checkReportTarget(file: string): Promise<ReportFormat> {
  const format = reportFormat(file)
  const directory = path.dirname(path.resolve(file))
  const found = await stat(directory).catch(() => undefined)
  if (!found?.isDirectory()) throw new ConfigError(`--report ${file}: directory ${directory} does not exist`)
  return format
}

export function renderRunReport(report: RunReport, format: ReportFormat): string {
  return format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderHtmlReport(report)
}

export async function writeRunReport(file: string, report: RunReport): Promise<void> {
  await writeFile(file, renderRunReport(report, reportFormat(file)))
}
