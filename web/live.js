// Live updates: the agent's Server-Sent Events (/api/v1/events) read with fetch() and a stream
// reader, because EventSource cannot send the token. Reconnects after a drop, resuming from the
// last event id, and reports whether the stream is up.
import { headers } from './api.js';

const RETRY_MS = 2000;
const MAX_RETRY_MS = 15000;

// Splits "id: 4\nevent: x\ndata: {...}" blocks; comments (": keep-alive") are skipped.
export function parseBlock(block) {
  const event = { id: null, type: 'message', data: '' };
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') event.id = value;
    else if (field === 'event') event.type = value;
    else if (field === 'data') data.push(value);
  }
  event.data = data.join('\n');
  return data.length ? event : null;
}

export function startLive({ onEvent, onState }) {
  let stopped = false;
  let controller = null;
  let lastId = null;
  let wait = RETRY_MS;

  async function readStream() {
    controller = new AbortController();
    const extra = { Accept: 'text/event-stream' };
    if (lastId) extra['Last-Event-ID'] = lastId;
    const response = await fetch('/api/v1/events', { headers: headers(extra), signal: controller.signal, cache: 'no-store' });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    onState(true);
    wait = RETRY_MS;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = parseBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (!event) continue;
        if (event.id) lastId = event.id;
        let data = null;
        try { data = JSON.parse(event.data); } catch { continue; }
        onEvent(event.type, data);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try { await readStream(); } catch { /* reported below, then retried */ }
      if (stopped) return;
      onState(false);
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, MAX_RETRY_MS);
    }
  })();

  return { stop() { stopped = true; controller?.abort(); } };
}
