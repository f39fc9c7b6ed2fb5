/**
 * Ref names: the `org.opencontainers.image.ref.name` of an index.json entry. ferry writes the
 * full source reference (`registry/namespace/repository:tag`). Pure.
 */
import {FerryError} from '../errors.js'
import {parseReference, type ImageReference} from '../reference.js'

// The OCI annotation grammar skopeo (containers/image) enforces for `oci:DIR:REF`: components of
// letters and digits joined by one of - . _ : @ + or by "--". Docker's grammar is wider ("__",
// runs of dashes, a tag starting with '_'), so some valid references cannot be named to skopeo.
const ALPHANUM = '[A-Za-z0-9]+'
const SEPARATOR = '(?:[-._:@+]|--)'
const COMPONENT = `${ALPHANUM}(?:${SEPARATOR}${ALPHANUM})*`
const SKOPEO_REF = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`)

/** Why skopeo would refuse `ref` as an OCI layout reference, or undefined when it accepts it. */
export function skopeoRefProblem(ref: string): string | undefined {
  if (SKOPEO_REF.test(ref)) return undefined
  return `${JSON.stringify(ref)} does not follow the OCI ref.name grammar skopeo checks (letters and digits joined by one of - . _ : @ + or "--"), so \`skopeo copy oci:DIR:REF\` cannot name it; ferry saves and loads it all the same`
}

/** The ref name ferry gives an image saved from `registry/repository` with a tag or digest. */
export function refNameFor(repositoryPath: string, reference: {tag?: string; digest?: string}): string {
  if (reference.tag !== undefined) return `${repositoryPath}:${reference.tag}`
  if (reference.digest !== undefined) return `${repositoryPath}@${reference.digest}`
  throw new FerryError('INVALID_RULE', `${repositoryPath}: an image in a layout needs a tag or a digest`)
}

export type SavedReference = ImageReference & {refName: string}

/**
 * What a ref name names. A full reference is read the way docker reads it. A bare tag (what
 * `skopeo copy … oci:DIR:v1` writes) has no repository: `repository` (--repository) names it,
 * and without one the entry cannot be placed.
 */
export function readRefName(refName: string, repository: string | undefined): SavedReference {
  const bare = !/[/:@]/.test(refName)
  if (bare) {
    if (!repository) {
      throw new FerryError('INVALID_RULE', `index.json entry ${JSON.stringify(refName)} is a bare tag with no repository; give --repository NAME to name it`)
    }
    return {...parseReference(`${repository}:${refName}`), refName}
  }
  return {...parseReference(refName), refName}
}
