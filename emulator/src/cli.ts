/**
 * `npx stripe-emulator [--port 12111 --data state.json --forward-to URL --webhook-secret whsec_…]` (or `npm run emulator -- …` at the root)
 * Env: STRIPE_EMULATOR_PORT, STRIPE_EMULATOR_HOST, STRIPE_EMULATOR_DATA,
 * STRIPE_EMULATOR_FORWARD_TO, STRIPE_EMULATOR_WEBHOOK_SECRET. Flags win over env.
 */
import { startEmulator } from './index';

interface CliOptions {
  port: number;
  host: string;
  dataFile?: string;
  forwardTo?: string;
  webhookSecret?: string;
  verbose: boolean;
}

const HELP = `Stripe API emulator
  --port N               (STRIPE_EMULATOR_PORT, default 12111)
  --host H               (STRIPE_EMULATOR_HOST, default 127.0.0.1)
  --data FILE            (STRIPE_EMULATOR_DATA) load state from / save state to FILE
  --forward-to URL       (STRIPE_EMULATOR_FORWARD_TO) deliver every event to URL, like stripe listen
  --webhook-secret S     (STRIPE_EMULATOR_WEBHOOK_SECRET) whsec_… that signs forwarded events
  --verbose              log requests, webhook failures and handler errors`;

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  const options: CliOptions = {
    port: Number(env.STRIPE_EMULATOR_PORT ?? 12111),
    host: env.STRIPE_EMULATOR_HOST ?? '127.0.0.1',
    dataFile: env.STRIPE_EMULATOR_DATA || undefined,
    forwardTo: env.STRIPE_EMULATOR_FORWARD_TO || undefined,
    webhookSecret: env.STRIPE_EMULATOR_WEBHOOK_SECRET || undefined,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port':
        options.port = Number(value());
        break;
      case '--host':
        options.host = value();
        break;
      case '--data':
        options.dataFile = value();
        break;
      case '--forward-to':
        options.forwardTo = value();
        break;
      case '--webhook-secret':
        options.webhookSecret = value();
        break;
      case '--verbose':
        options.verbose = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${flag}\n${HELP}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new Error('invalid --port');
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2), process.env);
  const log = (m: string): void => {
    process.stderr.write(`${m}\n`);
  };
  const running = await startEmulator({ ...options, log: options.verbose ? log : undefined });
  process.stdout.write(`Stripe emulator listening on ${running.url}\n`);
  if (options.dataFile) process.stdout.write(`  state file: ${options.dataFile}\n`);
  if (options.forwardTo) {
    process.stdout.write(`  forwarding events to ${options.forwardTo} (secret ${running.forwardSecret})\n`);
  }
  const stop = (): void => {
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Runs the command line (`bin/stripe-emulator.js`): a bad flag or a taken port ends the process with its message. */
export function runCli(): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

if (require.main === module) runCli();
