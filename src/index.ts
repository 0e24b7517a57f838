/**
 * corral: run a Node.js realtime server on every core, with sticky sessions.
 *
 * In the app: `attach(io)` for Socket.IO; nothing at all for plain HTTP.
 * To start a cluster from code: `start({ app: 'server.js' })`.
 */
export { attach, type SocketIOServerLike, type EngineLike } from './attach';
export { CorralError, type CorralErrorCode } from './errors';
export type { CorralOptions, Config } from './options';
export type { Strategy } from './routing';
export { start, type Cluster } from './start';
export { isWorker, ready, workerSlot } from './worker/info';
