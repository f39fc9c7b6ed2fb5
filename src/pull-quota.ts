/** What a run knows of one registry's pull limit: kept by the registry layer, shown by the report. */
export interface PullQuota {
  registry: string
  /** Pulls per window, when the registry said. */
  limit?: number
  /** Pulls left at the registry's last answer. */
  remaining: number
  windowSeconds?: number
  /** When pulls stopped (ISO 8601): the pulls left reached --pull-reserve, or a 429 came with none left. */
  stoppedAt?: string
  /** By when the window has passed since pulls stopped (ISO 8601): every pull counted then has aged out. */
  resetsBy?: string
}
