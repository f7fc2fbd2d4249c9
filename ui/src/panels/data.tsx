import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api';
import type { ModelInfo } from '../bindings/ModelInfo';
import type { JsonValue } from '../bindings/serde_json/JsonValue';
import type { StoreSnapshot } from '../bindings/StoreSnapshot';
import { Empty, useFlash } from '../components';
import { shortId, shortJson, titleOf } from '../records';
import { store } from '../store';

export function DataPanel(): JSX.Element {
  const [snap, setSnap] = useState<StoreSnapshot | null>(null);
  const [collection, setCollection] = useState<string>('');
  const [selected, setSelected] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [creating, setCreating] = useState(false);
  const [flash, say] = useFlash();

  const reload = async (url = collection) => {
    try {
      const s = await get<StoreSnapshot>('store', url ? { url } : {});
      setSnap(s);
      if (!url && s.collections[0]) setCollection(s.collections[0].url);
    } catch (e) {
      say('error', (e as Error).message);
    }
  };
  useEffect(() => {
    void reload(collection);
  }, [collection]);

  const model: ModelInfo | undefined = snap?.models?.find((m) => m.id === selected);
  useEffect(() => {
    if (model && !creating) setDraft(JSON.stringify(model.data, null, 2));
  }, [model?.id, model?.version]);

  let parsed: JsonValue | undefined;
  let parseError = '';
  try {
    parsed = JSON.parse(draft) as JsonValue;
  } catch (e) {
    parseError = draft ? (e as Error).message : '';
  }

  const save = async () => {
    if (parsed === undefined) return;
    const r = creating
      ? await store.control.command({ command: 'model', op: 'create', url: collection, data: parsed })
      : model
        ? await store.control.command({ command: 'model', op: 'update', url: `${collection}/${encodeURIComponent(model.id)}`, data: parsed, version: model.version })
        : null;
    if (!r) return;
    if (r.result === 'ok') {
      const v = r.value as { data?: { id?: unknown }; version?: number };
      say('ok', creating ? `Created ${collection}/${String(v.data?.id)}; subscribers got the change.` : `Saved v${v.version}; subscribers got the change.`);
      if (creating && v.data?.id !== undefined) setSelected(String(v.data.id));
      setCreating(false);
    } else {
      say('error', `${r.code}: ${r.message}`);
    }
    await reload();
  };

  const remove = async () => {
    if (!model) return;
    const r = await store.control.command({ command: 'model', op: 'delete', url: `${collection}/${encodeURIComponent(model.id)}`, version: model.version });
    if (r.result === 'ok') {
      say('ok', `Deleted ${collection}/${model.id}.`);
      setSelected(null);
    } else say('error', `${r.code}: ${r.message}`);
    await reload();
  };

  return (
    <div class="data-panel">
      <div class="toolbar">
        <h2>Data</h2>
        <span class="muted">The store's collections. An edit here is a write like any client's: subscribers get the change.</span>
        <button onClick={() => void reload()}>Reload</button>
      </div>
      <div class="data-body">
        <nav class="collections" data-testid="data-collections">
          {snap?.collections.length === 0 && <div class="muted pad">The store is empty.</div>}
          {snap?.collections.map((c) => (
            <a
              key={c.url}
              href="#/data"
              class={c.url === collection ? 'active' : ''}
              onClick={(e) => {
                e.preventDefault();
                setCollection(c.url);
                setSelected(null);
                setCreating(false);
              }}
              data-testid="data-collection"
            >
              <span class="mono">{c.url}</span> <span class="count">{c.models}</span>
            </a>
          ))}
        </nav>
        <div class="models table" data-testid="data-models">
          <div class="row head model-row">
            <span>id</span>
            <span>title</span>
            <span>v</span>
            <span>data</span>
          </div>
          {!snap?.models?.length && <Empty>{collection ? 'No model in this collection.' : 'Choose a collection.'}</Empty>}
          {snap?.models?.map((m) => (
            <div
              key={m.id}
              class={`row model-row ${m.id === selected && !creating ? 'selected' : ''}`}
              onClick={() => {
                setSelected(m.id);
                setCreating(false);
              }}
              data-testid="data-model"
              data-id={m.id}
            >
              <span class="mono" title={m.id}>
                {shortId(m.id, 18)}
              </span>
              <span class="ellipsis" data-testid="data-model-title">
                {titleOf(m.data) ?? ''}
              </span>
              <span>{m.version}</span>
              <span class="mono ellipsis">{shortJson(m.data, 200)}</span>
            </div>
          ))}
        </div>
        <section class="editor">
          <div class="toolbar">
            <h3 class="mono">{creating ? `new in ${collection}` : model ? `${collection}/${model.id} · v${model.version}` : 'No model selected'}</h3>
            <button
              disabled={!collection}
              onClick={() => {
                setCreating(true);
                setSelected(null);
                setDraft('{\n  \n}');
              }}
            >
              New model
            </button>
          </div>
          {(model || creating) && (
            <>
              <textarea value={draft} onInput={(e) => setDraft(e.currentTarget.value)} spellcheck={false} class={parseError ? 'invalid' : ''} data-testid="data-editor" />
              <div class={parseError ? 'hint err' : 'hint'}>{parseError || 'JSON attributes of the model.'}</div>
              <div class="actions">
                <button class="primary" disabled={!!parseError} onClick={() => void save()} data-testid="data-save">
                  {creating ? 'Create' : 'Save'}
                </button>
                {model && !creating && (
                  <button class="danger" onClick={() => void remove()} data-testid="data-delete">
                    Delete
                  </button>
                )}
              </div>
            </>
          )}
          {flash}
        </section>
      </div>
    </div>
  );
}
