import type { JSX } from 'preact';

export function FaultsPanel(): JSX.Element {
  return (
    <div class="form-panel" data-testid="faults-unavailable">
      <div class="toolbar">
        <h2>Faults</h2>
        <span class="tag">not available</span>
      </div>
      <div class="note">
        <p>
          This server has no fault injection yet: there is no way to make the next request fail, add latency or take a socket
          offline through the control API, so this panel shows nothing rather than pretend.
        </p>
        <p class="muted">
          What you can do today: cut a socket off (Sockets → Disconnect) and push any event, including fake changes, to a
          socket, a channel or everyone (Inject).
        </p>
      </div>
    </div>
  );
}
