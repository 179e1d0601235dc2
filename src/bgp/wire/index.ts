// The codec's surface: pure functions over Buffers, no I/O.
export * from './constants.js';
export * from './errors.js';
export * from './prefix.js';
export * from './header.js';
export * from './capabilities.js';
export * from './open.js';
export * from './update.js';
export * from './update-encode.js';
export * from './notification.js';
export * from './message.js';
export * from './attrs/types.js';
export * from './attrs/as-path.js';
export * from './attrs/communities.js';
export * from './attrs/path-attrs.js';
