import { ConfigError, loadConfig } from './config.js';
import { DEMO_PASSWORD, seedDemo } from './demo-seed.js';
import { createGateway } from './server.js';
import { exitOnSignals } from './shutdown.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const gw = await createGateway(config);
  const seeded = !config.databaseUrl && config.demoSeed ? await seedDemo(gw) : false;
  const address = await gw.app.listen({ port: config.port, host: config.host });
  gw.logger.info(
    { address, database: config.databaseUrl ? 'postgres' : `embedded (${config.dataDir})`, cache: config.redisUrl ? 'redis' : 'memory' },
    'chatgate listening',
  );
  if (seeded) {
    const base = address.replace('0.0.0.0', '127.0.0.1');
    process.stdout.write(
      `\nDemo data created. Try:\n` +
        `  TOKEN=$(curl -s ${base}/api/v1/auth/login -H 'content-type: application/json' ` +
        `-d '{"username":"alice","password":"${DEMO_PASSWORD}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.token')\n` +
        `  curl -si ${base}/api/v1/conversations -H "authorization: Bearer $TOKEN"\n` +
        `  API docs: ${base}/docs\n` +
        `  Demo client: ${base}/app/ (log in as alice, bob or carol)\n\n`,
    );
  }
  exitOnSignals(gw);
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
