import type { Gateway } from './server.js';

/**
 * SIGTERM and SIGINT stop the instance gracefully (Gateway.shutdown) and exit 0. The shutdown is
 * bounded: when it has not finished SHUTDOWN_GRACE_MS after the delay, or when a second signal
 * comes, the process exits 1 at once (logged), whatever is still in flight.
 */
export function exitOnSignals(gw: Pick<Gateway, 'shutdown' | 'logger' | 'config'>, exit: (code: number) => void = (c) => process.exit(c)): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      gw.logger.error({ signal }, 'second signal during shutdown: forcing exit');
      exit(1);
      return;
    }
    started = true;
    const { delayMs, graceMs } = gw.config.shutdown;
    gw.logger.info({ signal, delayMs, graceMs }, 'shutting down: draining');
    const grace = setTimeout(() => {
      gw.logger.error({ graceMs }, 'shutdown grace elapsed with work still in flight: forcing exit');
      exit(1);
    }, delayMs + graceMs);
    gw.shutdown().then(
      () => {
        clearTimeout(grace);
        gw.logger.info('shut down');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(grace);
        gw.logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
