// The shape of a `change` push as backbone.realtime.js applies it (docs/PROTOCOL.md,
// "Pushes"), so that the Inject panel builds pushes the adapter does not silently drop
// and says, before sending, why a hand-written one would be dropped.
import type { JsonValue } from './bindings/serde_json/JsonValue';
import type { ModelInfo } from './bindings/ModelInfo';

export const OPS = ['create', 'update', 'patch', 'delete'] as const;

type Obj = { [k: string]: JsonValue | undefined };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A new todo-like model pushed as created on `collection`. No `seq`: the adapter only
 * uses it to skip changes it already has, and a made-up one would make it skip the
 * next real change instead.
 */
export function createTemplate(collection: string, id: string): Obj {
  return {
    url: collection,
    op: 'create',
    id,
    data: { id, title: 'pushed from Syncscope', completed: false },
    version: 1,
  };
}

/**
 * An update of a stored model, at its stored version: the client's next save of it
 * carries that version and is not refused as a conflict. No `seq`, as above.
 */
export function modelTemplate(collection: string, m: ModelInfo): Obj {
  const data = isObj(m.data) ? m.data : { value: m.data };
  return { url: collection, op: 'update', id: m.id, data, version: m.version };
}

/** A real push of the channel, made re-sendable: the same shape without its `seq`. */
export function fromPush(change: JsonValue): Obj | null {
  if (!isObj(change)) return null;
  const copy: Obj = { ...change };
  delete copy.seq;
  return copy;
}

export interface ShapeCheck {
  /** Why backbone.realtime would drop it (nothing sent is applied). */
  problems: string[];
  /** What it would do that may not be wanted. */
  warnings: string[];
}

/**
 * Why backbone.realtime would ignore `payload` sent as `change` on `channel` (the
 * channel target's url, when the target is a channel), and what else to know.
 * `storeSeq` is the store's last change seq, when known.
 */
export function checkChange(payload: JsonValue | undefined, channel: string | null, storeSeq: number | null): ShapeCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!isObj(payload)) {
    problems.push('the payload must be an object {url, op, id, data, version}');
    return { problems, warnings };
  }
  const { url, op, id, data, version, seq } = payload;
  if (typeof url !== 'string' || !url) {
    problems.push('no "url": the adapter routes a change by its collection url, e.g. "/todos"');
  } else if (channel && url.replace(/\/+$/, '') !== channel) {
    if (url.startsWith(`${channel}/`)) {
      problems.push(`"url" is a model url: the adapter routes a change by its collection url "${channel}" and finds the model by "id"`);
    } else {
      problems.push(`"url" is ${url} but it goes to the channel ${channel}: its subscribers listen for "${channel}" only`);
    }
  }
  if (typeof id !== 'string' && typeof id !== 'number') {
    problems.push('no "id": the adapter finds (or adds) the model by the change\'s top-level "id"');
  } else if (isObj(data) && data.id !== undefined && String(data.id) !== String(id)) {
    warnings.push(`"id" is ${id} but data.id is ${String(data.id)}: the model is found by "id"`);
  }
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    problems.push(`"op" must be one of ${OPS.join(', ')}`);
  }
  if (op !== 'delete' && !isObj(data)) problems.push('"data" must be the model\'s attributes (an object)');
  if (version !== undefined && typeof version !== 'number') problems.push('"version" must be a number (or left out)');
  if (typeof seq === 'number') {
    if (storeSeq !== null && seq <= storeSeq) {
      warnings.push(`"seq" ${seq} is not newer than the store's last change (${storeSeq}): a client that has a change of this model up to that seq skips it. Leave "seq" out.`);
    } else {
      warnings.push('"seq" is ahead of the store: clients that apply this will skip real changes of this model until the store passes it. Leave "seq" out.');
    }
  }
  return { problems, warnings };
}
