import http from 'node:http';
import https from 'node:https';

export interface SinkAgents {
  http: http.Agent;
  https: https.Agent;
}

/**
 * Keep-alive agents for talking to a sink; with `ca` (PEM), an https sink's certificate must
 * chain to it instead of the system roots. destroy() both when done, or the process stays up.
 */
export function sinkAgents(ca?: Buffer): SinkAgents {
  return {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) }),
  };
}
