import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { type LocalServer, type SeenRequest, startLocalServer } from './local-http.js';

/** One message as a receiver saw it, checked with the Standard Webhooks reference verifier. */
export interface ReceivedMessage {
  id: string;
  timestamp: number;
  /** Each `v1,<base64>` of `webhook-signature`. */
  signatures: string[];
  body: string;
  payload: { id: string; type: string; timestamp: string; subject: string; data: Record<string, unknown> } & Record<string, unknown>;
  /** The secrets (of those the receiver knows) whose signature the reference verifier accepted. */
  verifiedWith: string[];
  receivedAt: number;
}

/** What the receiver answers a request: a status, headers and a body. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string };

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks` */
  url: string;
  messages: ReceivedMessage[];
  /** The secrets the receiver verifies with; a message none of them verifies is answered 401 and recorded. */
  secrets: string[];
  /** Messages whose signature no secret verified. */
  unverified: SeenRequest[];
  /** How to answer the next requests (by index since start); 204 by default. */
  answer: (message: ReceivedMessage, index: number) => Answer | Promise<Answer>;
  /** Stops listening: connections are refused until `start` again, on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A receiver on a loopback port that verifies every delivery with the `standardwebhooks` reference library. */
export async function startWebhookReceiver(secrets: string[] = []): Promise<WebhookReceiver> {
  let server: LocalServer | null = null;
  let port = 0;
  const receiver: WebhookReceiver = {
    url: '',
    messages: [],
    secrets,
    unverified: [],
    answer: () => ({ status: 204 }),
    async stop() {
      await server?.close();
      server = null;
    },
    async start() {
      server = await startLocalServer(handle, '127.0.0.1', port);
      port = server.port;
      receiver.url = `${server.origin}/hooks`;
    },
  };
  const handle = async (request: SeenRequest, response: ServerResponse) => {
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const verifiedWith = receiver.secrets.filter((secret) => {
      try {
        new Webhook(secret).verify(request.body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (verifiedWith.length === 0) {
      receiver.unverified.push(request);
      response.writeHead(401).end('signature not verified');
      return;
    }
    const message: ReceivedMessage = {
      id: headers['webhook-id'] as string,
      timestamp: Number(headers['webhook-timestamp']),
      signatures: (headers['webhook-signature'] as string).split(' '),
      body: request.body,
      payload: JSON.parse(request.body),
      verifiedWith,
      receivedAt: Date.now(),
    };
    receiver.messages.push(message);
    const answer = await receiver.answer(message, receiver.messages.length - 1);
    response.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
  };
  await receiver.start();
  return receiver;
}
