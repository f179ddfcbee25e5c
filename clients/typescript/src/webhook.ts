/**
 * Verifying facegate's webhook deliveries (Standard Webhooks signatures) in a Next.js route handler.
 * Kept apart from the client so the client itself needs nothing beyond fetch.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";

import type { components } from "./schema.js";

export type WebhookEvent = components["schemas"]["WebhookEvent"];
export { WebhookVerificationError };

let warnedForgeable = false;

/**
 * The event of a delivery, once its `webhook-signature` matches `secret` and its `webhook-timestamp`
 * is within five minutes; throws WebhookVerificationError otherwise. `secret` is the receiver's copy of
 * facegate's `FACEGATE_WEBHOOK_SIGNING_SECRET`, which keys the signature and never travels. A `whsec_...`
 * secret is a base64 key, as the Standard Webhooks spec says; any other secret is used as its UTF-8
 * bytes, as facegate does. A delivery whose `Authorization: Bearer` header carries `secret` itself was
 * signed with the Bearer secret (facegate had no signing secret): it still verifies, but anyone who read
 * one request could forge it, so this warns once (console.warn) until a signing secret is set.
 * The request body is read here: pass the request untouched.
 */
export async function verifyWebhook(request: Request, secret: string): Promise<WebhookEvent> {
  const webhook = secret.startsWith("whsec_") ? new Webhook(secret) : new Webhook(secret, { format: "raw" });
  const body = await request.text();
  const headers = {
    "webhook-id": request.headers.get("webhook-id") ?? "",
    "webhook-timestamp": request.headers.get("webhook-timestamp") ?? "",
    "webhook-signature": request.headers.get("webhook-signature") ?? "",
  };
  const event = webhook.verify(body, headers) as WebhookEvent;
  if (!warnedForgeable && request.headers.get("authorization") === `Bearer ${secret}`) {
    warnedForgeable = true;
    console.warn("facegate webhooks: the signature is keyed with the secret every delivery carries in its " +
      "Authorization header, so anyone who reads one request can forge events. Set " +
      "FACEGATE_WEBHOOK_SIGNING_SECRET=whsec_... on facegate and verify with it here.");
  }
  return event;
}
