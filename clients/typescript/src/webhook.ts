/**
 * Verifying facegate's webhook deliveries (Standard Webhooks signatures) in a Next.js route handler.
 * Kept apart from the client so the client itself needs nothing beyond fetch.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";

import type { components } from "./schema.js";

export type WebhookEvent = components["schemas"]["WebhookEvent"];
export { WebhookVerificationError };

/**
 * The event of a delivery, once its `webhook-signature` matches `secret` and its `webhook-timestamp`
 * is within five minutes; throws WebhookVerificationError otherwise. A `whsec_...` secret is a base64
 * key, as the Standard Webhooks spec says; any other secret is used as its UTF-8 bytes, as facegate does.
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
  return webhook.verify(body, headers) as WebhookEvent;
}
