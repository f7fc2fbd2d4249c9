// ES module entry for Node and bundlers: the UMD file is CommonJS there, and
// importing it installs `Backbone.realtime` on the same Backbone the app
// imports. In a browser without a bundler, load backbone.realtime.js with a
// script tag (or `import '/backbone.realtime.js'` for its side effect) and
// use the global `Backbone.realtime`.
import realtime from './backbone.realtime.js';

export default realtime;
export const sync = realtime.sync;
export const socketSync = realtime.socketSync;
export const ajaxSync = realtime.ajaxSync;
export const connect = realtime.connect;
export const version = realtime.version;
export const pending = realtime.pending;
