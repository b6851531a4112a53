// Preloaded (NODE_OPTIONS=--require) into a child process that must work offline, such as
// `cdk synth` of infra/: every outbound connection and DNS lookup is refused and recorded in
// $BLOCK_NETWORK_LOG, so a test can assert that nothing tried to reach the network. With
// BLOCK_NETWORK_ALLOW_LOOPBACK=1, connections to 127.0.0.1 are recorded but let through, so a
// test can count the attempts a CLI makes against a local endpoint (moto, a closed port).
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns');

function record(what) {
  const log = process.env.BLOCK_NETWORK_LOG;
  if (log) fs.appendFileSync(log, `${process.pid} ${what}\n`);
  return new Error(`network blocked: ${what}`);
}
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect(options) and the normalized form Node's http agent passes ([[options, cb]]).
  const o = Array.isArray(args[0]) ? args[0][0] : args[0];
  const target =
    typeof o === 'object' && o !== null ? (o.path ?? `${o.host}:${o.port}`) : String(o);
  // IPC over a Unix socket path (e.g. a parent's pipe) is not the network.
  if (typeof o === 'object' && o !== null && o.path) return connect.apply(this, args);
  if (
    process.env.BLOCK_NETWORK_ALLOW_LOOPBACK === '1' &&
    typeof o === 'object' &&
    o !== null &&
    o.host === '127.0.0.1'
  ) {
    record(`connect ${target}`);
    return connect.apply(this, args);
  }
  const err = record(`connect ${target}`);
  process.nextTick(() => this.destroy(err));
  return this;
};
for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6']) {
  const orig = dns[name];
  dns[name] = function (host, ...rest) {
    const cb = rest.find((x) => typeof x === 'function');
    const err = record(`dns ${name} ${host}`);
    if (cb) process.nextTick(() => cb(err));
    else if (orig) throw err;
  };
}
dns.promises.lookup = async (host) => {
  throw record(`dns lookup ${host}`);
};
