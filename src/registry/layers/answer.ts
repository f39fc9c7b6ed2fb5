import {registryErrorFromResponse} from '../errors.js'
import {readLimited, type Layer} from './exchange.js'
import {attemptFailure} from './retry.js'

/**
 * Above auth: a status the request expects is its answer; any other is this attempt's failure,
 * typed from the registry's error body (read up to the error body limit).
 */
export function expectedAnswers(): Layer {
  return (next) => async (outgoing) => {
    const answer = await next(outgoing)
    const {request} = outgoing
    if (request.expect.includes(answer.status)) return answer
    const body = await readLimited(answer.body)
    throw attemptFailure(registryErrorFromResponse(answer.status, answer.headers, body, request.what))
  }
}
