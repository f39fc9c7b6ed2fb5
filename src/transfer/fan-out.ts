import {PassThrough, type Readable} from 'node:stream'

import type {ManifestHead} from '../registry/manifests.js'
import type {Descriptor} from '../registry/media-types.js'
import type {BlobHomes} from './blob-flight.js'
import type {BlobBody, BlobWriteOptions, ImageDestination} from './endpoints.js'

export interface MemberTally {
  bytes: number
  blobs: {uploaded: number; mounted: number; existing: number}
  blobBytes: {uploaded: number; mounted: number; existing: number}
}

/**
 * Several destinations of one source image seen as one: each blob is read from the source once
 * and its verified stream is split to every destination that lacks it. Mounts and presence are
 * decided per destination; a destination that already holds a blob or a child manifest is not
 * written again.
 */
export class FanOutDestination implements ImageDestination {
  readonly name: string
  readonly repository: string
  readonly scope: string
  readonly flightKey: string
  readonly tallies: MemberTally[]
  /**
   * Members that failed, with their error: they drop out and the others go on, so one broken
   * destination does not stop the copy to the healthy ones (the job retries just the failed).
   */
  readonly failures = new Map<ImageDestination, unknown>()
  /** Per digest, the members that still lack it after the last presence check. */
  private readonly lacking = new Map<string, ImageDestination[]>()
  /** Blob sizes by digest, for the tallies: a presence check is asked by digest only. */
  private readonly sizes = new Map<string, number>()

  constructor(
    private readonly members: readonly ImageDestination[],
    private readonly homes: BlobHomes,
  ) {
    this.name = members.map((member) => member.name).join(', ')
    this.repository = members[0]!.repository
    // Unique per combination, so no mount decision of the copier applies to the group as a whole.
    this.scope = `fan-out\u0000${members.map((member) => member.scope).join('\u0000')}`
    this.flightKey = `fan-out\u0000${members.map((member) => member.flightKey).join('\u0000')}`
    this.tallies = members.map(() => ({bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, blobBytes: {uploaded: 0, mounted: 0, existing: 0}}))
  }

  /** The sizes of blobs about to be checked, so a blob found present or mounted counts its bytes. */
  learnSizes(descriptors: readonly Descriptor[]): void {
    for (const descriptor of descriptors) this.sizes.set(descriptor.digest, descriptor.size)
  }

  /** The members still in the copy. */
  get active(): ImageDestination[] {
    return this.members.filter((member) => !this.failures.has(member))
  }

  /** Present only when every member has the same manifest. */
  async headManifest(reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    const heads = await this.eachMember((member) => member.headManifest(reference, signal))
    const first = heads[0]
    return first && heads.every((head) => head?.digest === first.digest) ? first : undefined
  }

  /** Checks (and mounts, where a member knows a home for the digest) member by member. */
  async hasBlob(digest: string, signal?: AbortSignal): Promise<boolean> {
    const lacking: ImageDestination[] = []
    await this.eachMember(async (member) => {
      const tally = this.tallies[this.members.indexOf(member)]!
      if (await member.hasBlob(digest, signal)) {
        tally.blobs.existing++
        tally.blobBytes.existing += this.sizes.get(digest) ?? 0
        this.homes.remember(member.scope, digest, member.repository)
        return
      }
      const home = this.homes.find(member.scope, digest)
      if (home && home !== member.repository && member.mountBlob) {
        const mount = await member.mountBlob(digest, home, signal).catch(() => ({mounted: false as const}))
        if (mount.mounted) {
          tally.blobs.mounted++
          tally.blobBytes.mounted += this.sizes.get(digest) ?? 0
          this.homes.remember(member.scope, digest, member.repository)
          return
        }
      }
      lacking.push(member)
    })
    this.lacking.set(
      digest,
      lacking.filter((member) => !this.failures.has(member)),
    )
    return lacking.length === 0
  }

  /** One verified stream split to every member that lacks the blob; one member failing fails the write. */
  async writeBlob(descriptor: Descriptor, body: BlobBody, options: BlobWriteOptions): Promise<void> {
    const targets = (this.lacking.get(descriptor.digest) ?? this.active).filter((member) => !this.failures.has(member))
    const source = await body()
    const branches = targets.map(() => new PassThrough({highWaterMark: 1024 * 1024}))
    const writes = targets.map((member, index) => {
      const branch = branches[index]!
      // A member opening the bytes again (its registry refused them whole, or takes them from where
      // a cut left its session) reads the source on its own.
      let opened = false
      const share: BlobBody = async (offset = 0) => (opened || offset > 0 ? body(offset) : ((opened = true), branch))
      return member.writeBlob(descriptor, share, {signal: options.signal, chunkSize: options.chunkSize}).catch((error: unknown) => {
        // This member stops taking data; the others keep the stream going.
        branch.destroy()
        throw error
      })
    })
    split(source, branches, options.signal)
    const settled = await Promise.allSettled(writes)
    const failed = settled.flatMap((result, index) => (result.status === 'rejected' ? [{member: targets[index]!, error: result.reason}] : []))
    // All failing is the source's failure (or the network's): the copier retries or fails the blob.
    if (failed.length === targets.length && failed[0]) throw failed[0].error
    for (const {member, error} of failed) this.failures.set(member, error)
    for (const member of targets) {
      if (this.failures.has(member)) continue
      const tally = this.tallies[this.members.indexOf(member)]!
      tally.blobs.uploaded++
      tally.bytes += descriptor.size
      tally.blobBytes.uploaded += descriptor.size
      this.homes.remember(member.scope, descriptor.digest, member.repository)
    }
    this.lacking.delete(descriptor.digest)
  }

  /** Child manifests (by digest) go to every member. */
  async putManifest(reference: string, manifest: Parameters<ImageDestination['putManifest']>[1], signal?: AbortSignal): Promise<string> {
    const digests = await this.eachMember((member) => member.putManifest(reference, manifest, signal))
    return digests[0]!
  }

  /**
   * Runs a step on every active member; a member whose step fails drops out. Throws only when
   * no member is left, with the first error.
   */
  private async eachMember<T>(step: (member: ImageDestination) => Promise<T>): Promise<T[]> {
    const members = this.active
    const settled = await Promise.allSettled(members.map(step))
    const values: T[] = []
    settled.forEach((result, index) => {
      if (result.status === 'fulfilled') values.push(result.value)
      else this.failures.set(members[index]!, result.reason)
    })
    if (this.active.length === 0) throw settled.find((result) => result.status === 'rejected')!.reason
    return values
  }
}

/**
 * Copies `body` into every branch, as fast as the slowest live one takes it. A branch that is
 * destroyed (its member failed) is left out from then on. An error of the body (a failed digest
 * check) ends every branch with that error, so no member commits the blob.
 */
function split(body: Readable, branches: PassThrough[], signal: AbortSignal): void {
  const blocked = new Set<PassThrough>()
  const unblock = (branch: PassThrough) => {
    if (blocked.delete(branch) && blocked.size === 0) body.resume()
  }
  for (const branch of branches) {
    branch.on('drain', () => unblock(branch))
    branch.once('close', () => unblock(branch))
  }
  body.on('data', (chunk: Buffer) => {
    for (const branch of branches) {
      if (branch.destroyed) continue
      if (!branch.write(chunk)) blocked.add(branch)
    }
    if (blocked.size > 0) body.pause()
  })
  body.once('end', () => {
    for (const branch of branches) if (!branch.destroyed) branch.end()
  })
  body.once('error', (error) => {
    for (const branch of branches) branch.destroy(error)
  })
  signal.addEventListener('abort', () => body.destroy(), {once: true})
}
