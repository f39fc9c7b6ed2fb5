/**
 * The private-address guard: a registry may send ferry elsewhere (a blob redirect to storage, an
 * upload Location, a token realm), and a hostile one would send it into the network ferry runs in
 * (a cloud metadata service, an admin port on loopback). Names are resolved and every address is
 * checked, so a name that resolves to 127.0.0.1 is caught as the address itself would be.
 *
 * The rule: another host may be contacted when every address it resolves to is public, or of a
 * kind the configured registry itself has. A registry on loopback (a test or a port-forward) may
 * send ferry to another loopback port; a registry on a private network to its storage on the same
 * network; a public registry to neither.
 */
import {lookup} from 'node:dns/promises'
import net from 'node:net'

import {FerryError} from '../errors.js'
import {notFound, reservedInvalid} from './reserved-names.js'

export type AddressKind = 'loopback' | 'private' | 'link-local' | 'public'

/** What kind of network an IP address (v4 or v6, brackets allowed) belongs to; undefined for a name. Pure. */
export function addressKind(address: string): AddressKind | undefined {
  const host = address.replace(/^\[|\]$/g, '')
  if (net.isIPv4(host)) return ipv4Kind(host.split('.').map(Number))
  if (!net.isIPv6(host)) return undefined
  const groups = ipv6Groups(host)
  const embedded = [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff]
  const zeros = (n: number) => groups.slice(0, n).every((g) => g === 0)
  // IPv4-mapped (::ffff:a.b.c.d, in any spelling), IPv4-compatible and NAT64 reach the IPv4 address inside.
  if (zeros(5) && groups[5] === 0xffff) return ipv4Kind(embedded)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) return ipv4Kind(embedded)
  if (zeros(7) && (groups[7] === 0 || groups[7] === 1)) return 'loopback'
  if (zeros(6) && groups[6] !== 0) return ipv4Kind(embedded)
  const first = groups[0]!
  if ((first & 0xffc0) === 0xfe80) return 'link-local'
  // Unique-local, the old site-local, multicast: none of them is the public internet.
  if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00) return 'private'
  return 'public'
}

function ipv4Kind([a, b]: number[]): AddressKind {
  // 0.0.0.0/8 reaches this machine on Linux, as loopback does.
  if (a === 127 || a === 0) return 'loopback'
  if (a === 169 && b === 254) return 'link-local'
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168) || (a === 100 && b! >= 64 && b! <= 127) || a! >= 224) {
    return 'private'
  }
  return 'public'
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted IPv4 part included). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '')
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number)
    text = `${text.slice(0, dotted.index)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : [])
  const front = parse(head)
  const back = parse(tail)
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back]
}

/**
 * May ferry contact a host whose addresses are of `target` kinds, for a registry whose own
 * addresses are of `registry` kinds? Pure.
 */
export function hopAllowed(registry: readonly AddressKind[], target: readonly AddressKind[]): boolean {
  return target.length > 0 && target.every((kind) => kind === 'public' || registry.includes(kind))
}

/** Every address a name resolves to (as the connection would look it up). */
export type ResolveAll = (hostname: string) => Promise<string[]>

const resolveAll: ResolveAll = async (hostname) => {
  if (reservedInvalid(hostname)) throw notFound(hostname)
  return (await lookup(hostname, {all: true, verbatim: true})).map((entry) => entry.address)
}

/** Lookups are remembered this long: a registry redirecting every blob to one storage host asks once. */
const REMEMBER_MS = 60_000

/** The guard for one configured registry. */
export class AddressGuard {
  private own?: Promise<AddressKind[]>
  private readonly known = new Map<string, {kinds: Promise<AddressKind[]>; at: number}>()

  constructor(
    /** The configured registry's host name (or address), as in its URL. */
    private readonly registryHost: string,
    private readonly resolve: ResolveAll = resolveAll,
  ) {}

  /**
   * Throws UNSAFE_REDIRECT when `url` (named by the registry as `what`) leads to a host the rule
   * refuses. With `resolve` false (the request goes through a proxy, which resolves names
   * itself) only addresses written in the URL are checked.
   */
  async check(url: URL, what: string, options: {resolve: boolean; registry: string}): Promise<void> {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    // The name the user configured is trusted whatever it resolves to.
    if (host === this.registryHost.replace(/^\[|\]$/g, '').toLowerCase()) return
    const literal = addressKind(host) ?? (isLocalhostName(host) ? 'loopback' : undefined)
    if (literal === undefined && !options.resolve) return
    const kinds = literal ? [literal] : await this.kindsOf(host, options.registry)
    if (hopAllowed(await this.registryKinds(), kinds)) return
    const kind = kinds.find((k) => k !== 'public')
    throw new FerryError(
      'UNSAFE_REDIRECT',
      `registry ${options.registry} sent ferry to ${what} on a ${kind} address (${host}) that the registry itself is not on; refused`,
    )
  }

  private registryKinds(): Promise<AddressKind[]> {
    if (!this.own) {
      const host = this.registryHost.replace(/^\[|\]$/g, '')
      const literal = addressKind(host) ?? (isLocalhostName(host) ? 'loopback' : undefined)
      // A registry name that does not resolve here gets nothing beyond the public internet.
      this.own = literal ? Promise.resolve([literal]) : this.lookupKinds(host).catch(() => [])
    }
    return this.own
  }

  private async kindsOf(host: string, registry: string): Promise<AddressKind[]> {
    const now = Date.now()
    let entry = this.known.get(host)
    if (!entry || now - entry.at > REMEMBER_MS) {
      entry = {kinds: this.lookupKinds(host), at: now}
      this.known.set(host, entry)
      entry.kinds.catch(() => this.known.delete(host))
    }
    try {
      return await entry.kinds
    } catch (error) {
      const code = (error as {code?: string}).code ?? 'lookup failed'
      throw new FerryError('NETWORK', `registry ${registry} sent ferry to ${host}, which does not resolve (${code})`, {retryable: true, cause: error})
    }
  }

  private async lookupKinds(host: string): Promise<AddressKind[]> {
    const addresses = await this.resolve(host)
    return addresses.map((address) => addressKind(address) ?? 'private')
  }
}

/** `localhost` and its subdomains are loopback by definition (RFC 6761), whatever DNS says. */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost')
}
