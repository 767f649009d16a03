// An agency system for Tsunagu with the official `nats` client: send a つなぐシート
// (submit_referral) with a command id and retries, then read the agency's own feed with its
// durable consumer. Same settings as examples/python (TSUNAGU_* from `tsunagu up --secure`).
// Build and run: npm ci && npx tsc -p . && node dist/agency.js. See docs/INTEGRATING.md.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { connect, headers, nkeyAuthenticator, ErrorCode, NatsError, type NatsConnection }
  from 'nats';

const env = process.env;
const AGENCY = env.TSUNAGU_AGENCY!;
const PREFIX = env.TSUNAGU_PREFIX ?? 'tsunagu';
const out = (line: object): void => console.log(JSON.stringify(line));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply { ok: boolean; command_id?: string; ids?: Record<string, unknown>;
  error?: { code: string; message: string; details?: { retry_after_ms?: number } } }

async function open(): Promise<NatsConnection> {
  const seed = env.TSUNAGU_NATS_NKEY_SEED;
  return connect({
    servers: env.TSUNAGU_NATS_URL!.split(','),
    authenticator: seed ? nkeyAuthenticator(new TextEncoder().encode(
      readFileSync(seed, 'utf8').trim())) : undefined,
    tls: env.TSUNAGU_NATS_TLS_CA ? { caFile: env.TSUNAGU_NATS_TLS_CA,
      certFile: env.TSUNAGU_NATS_TLS_CERT, keyFile: env.TSUNAGU_NATS_TLS_KEY } : undefined,
    // Our user may subscribe only to its own inbox prefix: replies come back there.
    inboxPrefix: `_INBOX.agency.${AGENCY}`,
  });
}

// One command, at most once: the command id and the exact bytes are fixed before the first
// attempt, so a retry after a lost reply gets the original reply (replayed: true).
async function send(nc: NatsConnection, command: string, payload: object,
                    attempts = 5): Promise<Reply> {
  const body = new TextEncoder().encode(JSON.stringify({ command_id: randomUUID(), ...payload }));
  for (let attempt = 0; attempt < attempts; attempt++) {
    // Not worth starting after we stop waiting: ms since the epoch (UTC).
    const h = headers();
    h.set('Tsunagu-Deadline', String(Date.now() + 5000));
    try {
      const msg = await nc.request(`${PREFIX}.cmd.${AGENCY}.${command}`, body,
        { timeout: 5000, headers: h });
      const reply = msg.json<Reply>();
      if (!reply.ok && reply.error!.code === 'busy') {
        // Not started, nothing stored: the same bytes again after the wait it names.
        await sleep((reply.error!.details?.retry_after_ms ?? 100) * (1 + Math.random() / 2));
        continue;
      }
      // A refusal is final: fix the input and send a NEW command (new command id).
      if (!reply.ok) throw new Error(`${command} refused: ${reply.error!.code}: ${reply.error!.message}`);
      return reply;
    } catch (err) {
      const transient = err instanceof NatsError &&
        (err.code === ErrorCode.Timeout || err.code === ErrorCode.NoResponders);
      if (!transient) throw err;
      await sleep(Math.min(200 * 2 ** attempt, 5000)); // the service may be restarting
    }
  }
  throw new Error(`${command}: no reply after ${attempts} attempts`);
}

async function readFeed(nc: NatsConnection, waitMs: number): Promise<void> {
  // Agencies reach JetStream through the API the platform exports to their account.
  const js = nc.jetstream({ apiPrefix: `${PREFIX}.jsapi` });
  const stream = `${PREFIX.toUpperCase().replaceAll('-', '_')}_FEED`;
  const feed = await js.consumers.get(stream, `feed-${AGENCY}`);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    let got = 0;
    for await (const msg of await feed.fetch({ max_messages: 10, expires: 2000 })) {
      const body = msg.json<{ seq?: number; kind?: string; view?: { redacted?: boolean } }>();
      // <prefix>.feed.<agency>.<case, referral or meeting id>.<kind>[.<id>...]
      const tokens = msg.subject.split('.');
      const kind = msg.headers?.get('Tsunagu-Kind') || body.kind || tokens[4];
      // One current message per subject: store it, replacing what that subject said.
      out({ feed: msg.subject, kind, about: tokens[3], seq: body.seq,
            redacted: body.view?.redacted });
      msg.ack(); // not acked within ack_wait: delivered again
      got++;
    }
    if (got) return;
  }
}

const nc = await open();
try {
  const reply = await send(nc, 'submit_referral', {
    occurred_at: new Date().toISOString(), contact_route: 'phone', concerns: ['income'],
    personal: { summary: '家計の相談(例)', phone: '090-0000-0000' },
  });
  out({ submitted: reply.ids, command_id: reply.command_id });
  try {
    await send(nc, 'triage_referral', { referral_id: 'no-such', outcome: 'complex' });
  } catch (err) {
    out({ refused: String((err as Error).message) });
  }
  await readFeed(nc, Number(env.EXAMPLE_WAIT ?? '30') * 1000);
} finally {
  await nc.drain();
}
