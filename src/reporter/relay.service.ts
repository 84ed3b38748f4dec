// Owns accepting one relayed call: validate its shape as Customer.io would, then hand the event and its
// outbox row to the event store, which commits them with the delivery's row in one statement shared by
// concurrent calls (group commit), checking there that the metric suits the delivery's channel. The
// caller answers only after the commit; then the sender is kicked.
import type { JsonObject } from "../events/event.js";
import type { EventSink } from "../events/event-store.js";
import { normalizeRelay } from "../events/relay-event.js";
import { channelError, channelsRefusing, outboundBody, validateRelayBody, type RelayKind } from "./relay-body.js";

export type RelayOutcome = { ok: true; duplicate: boolean } | { ok: false; errors: string[] };

export class RelayService {
  constructor(
    private readonly store: EventSink,
    private readonly onQueued: () => void,
  ) {}

  async accept(kind: RelayKind, body: JsonObject): Promise<RelayOutcome> {
    const errors = validateRelayBody(kind, body);
    if (errors.length > 0) return { ok: false, errors };
    const event = normalizeRelay(kind, body);
    const outcome = await this.store.store({
      event,
      outbox: [{ eventId: event.eventId, kind, deliveryId: event.deliveryId, payload: outboundBody(kind, body, event) }],
      notForChannels: channelsRefusing(kind, body),
    });
    if (outcome.status === "refused") return { ok: false, errors: [channelError(kind, body, outcome.channel)] };
    if (outcome.status === "stored") this.onQueued();
    return { ok: true, duplicate: outcome.status === "duplicate" };
  }
}
