// One import for tests: `import {startRegistry, pushImage, skopeoDigest} from '../harness/index.js'`.
export * from './registry.js'
export * from './token-server.js'
export * from './images.js'
export * from './skopeo.js'
export {RegistryClient, clientFor, rawRequest, type Endpoint, type HttpResponse} from './http.js'
export {RequestLog, type RequestLogEntry} from './request-log.js'
export {freePort} from './free-port.js'
export {startRedis, type TestRedis} from './redis.js'
