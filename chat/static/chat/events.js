// The one switch from a room event's type to the feature that applies it. Each event is
// applied in its own try: one that cannot be applied is logged and the rest go on.

/**
 * @param {object} features
 * @param {(message: object) => void} features.created   a message was stored
 * @param {(message: object) => void} features.changed   a message's newer state (edit, delete)
 * @param {(event: object) => void} features.reaction    who reacts with an emoji now
 * @param {(event: object) => void} features.room        the room's name or privacy now
 */
export function eventApplier(features) {
  const handlers = {
    "message.created": (event) => features.created(event.message),
    "message.edited": (event) => features.changed(event.message),
    "message.deleted": (event) => features.changed(event.message),
    "reaction.changed": (event) => features.reaction(event),
    "room.changed": (event) => features.room(event),
  };
  return (events) => {
    for (const event of events) {
      const handler = handlers[event.type];
      if (!handler) continue; // a kind from a newer server: its number still counts
      try {
        handler(event);
      } catch (error) {
        console.error("could not apply a room event", event, error);
      }
    }
  };
}

/**
 * The room's ephemera (not numbered, may be dropped; each is the whole current state).
 * @param {{typing: (people: object[]) => void, presence: (people: object[]) => void}} features
 */
export function ephemeraApplier(features) {
  return (frame) => {
    try {
      if (frame.type === "typing") features.typing(frame.people);
      else if (frame.type === "presence") features.presence(frame.people);
    } catch (error) {
      console.error("could not show a room update", frame, error);
    }
  };
}
