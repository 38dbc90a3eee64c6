export { freePort } from '../../support/ports.js';
export { TcpProxy } from '../../support/tcp-proxy.js';
