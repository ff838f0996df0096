// The VS Code side, and the only module that imports `vscode`: it wires the pure modules to
// VS Code's debug, tree view, status bar, terminal and command APIs.

import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TetherClient } from './api/client';
import { messageOf } from './api/errors';
import { loadServices, SCHEMA_FILE, type Services } from './api/schema';
import type { Event, Forward, Session } from './api/types';
import { Connection } from './connection';
import type { Policy } from './debug/block';
import type { Decision } from './debug/reattach';
import { Reattacher, type Tracked } from './debug/reattacher';
import { hasTetherBlock, markerOf, resolveTether } from './debug/resolve';
import type { DebugConfig } from './debug/rewrite';
import { EventFeed, type EventStreamLike } from './events';
import { ForwardStore } from './forwards/store';
import { browserUrl, forwardItem, statusBar, type ItemModel } from './forwards/view';
import { AttachBridge, type AttachStreamLike } from './sessions/bridge';
import { sessionItem } from './sessions/view';
import { socketPath } from './socket';

/** What `activate` returns: for other extensions and for the tests that drive the bundle. */
export interface TetherApi {
  /** The schema file this bundle loads. */
  schemaFile: string;
  socket(): string;
  store: ForwardStore;
  /** Called with every final re-attach decision. */
  onDecision(listener: (session: Tracked, decision: Decision) => void): vscode.Disposable;
}

type Node = { kind: 'item'; model: ItemModel; name: string } | { kind: 'detail'; label: string; description: string };

/** What the parts of the extension share. */
interface Ctx {
  context: vscode.ExtensionContext;
  log: vscode.OutputChannel;
  settings(): vscode.WorkspaceConfiguration;
  conn: Connection;
  store: ForwardStore;
  /** Daemon-owned sessions, as last listed. */
  sessions: Session[];
  sessionsChanged: vscode.EventEmitter<void>;
  feed?: EventFeed<Event>;
}

export function activate(context: vscode.ExtensionContext): TetherApi {
  const log = vscode.window.createOutputChannel('Tether');
  const settings = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('tether');
  const schemaFile = path.join(__dirname, SCHEMA_FILE);
  let services: Services | undefined;
  const socket = (): string =>
    socketPath({ setting: settings().get<string>('socketPath', ''), env: process.env, uid: uid(), home: os.homedir(), tmpdir: os.tmpdir() });
  const conn = new Connection({
    socket,
    cli: () => settings().get<string>('cliPath', 'tether') || 'tether',
    services: () => (services ??= loadServices(schemaFile)),
    clientVersion: String(context.extension?.packageJSON?.version ?? '0.0.0'),
    uid: uid(),
    log: (m) => log.appendLine(m),
  });
  const ctx: Ctx = {
    context,
    log,
    settings,
    conn,
    store: new ForwardStore(),
    sessions: [],
    sessionsChanged: new vscode.EventEmitter<void>(),
  };
  context.subscriptions.push(log, ctx.sessionsChanged, { dispose: () => conn.dispose() });
  const decisionListeners = new Set<(s: Tracked, d: Decision) => void>();
  const reattacher = debugging(ctx, (s, d) => decisionListeners.forEach((l) => l(s, d)));
  views(ctx);
  ctx.feed = follow(ctx, reattacher);
  commands(ctx);
  return {
    schemaFile,
    socket,
    store: ctx.store,
    onDecision(listener) {
      decisionListeners.add(listener);
      return { dispose: () => decisionListeners.delete(listener) };
    },
  };
}

export function deactivate(): void {
  // Subscriptions are disposed by VS Code; forwards and sessions live on in the daemon.
}

/** The debug provider for every type, the `tether` type, and re-attach. */
function debugging(ctx: Ctx, decided: (s: Tracked, d: Decision) => void): Reattacher {
  const { conn, store, settings, log } = ctx;
  const originals = new Map<string, { config: DebugConfig; folder: vscode.WorkspaceFolder | undefined }>();
  const reattacher = new Reattacher(
    {
      now: Date.now,
      setTimer: timer,
      waitReady: (name, since, ms) => store.waitReady(name, since, ms),
      start: async (t) => {
        const folder = t.folder as vscode.WorkspaceFolder | undefined;
        if (!(await vscode.debug.startDebugging(folder, t.config as vscode.DebugConfiguration))) {
          throw new Error('VS Code did not start the debug session');
        }
      },
      ask: async (message) => (await vscode.window.showInformationMessage(message, 'Re-attach')) === 'Re-attach',
      error: (message) => void vscode.window.showErrorMessage(message),
      log: (m) => log.appendLine(m),
      decided,
    },
    settings().get<number>('reattachWindowSeconds', 5) * 1000,
  );
  const provider: vscode.DebugConfigurationProvider = {
    async resolveDebugConfigurationWithSubstitutedVariables(folder, config) {
      if (!hasTetherBlock(config)) {
        return config;
      }
      const original = structuredClone(config) as DebugConfig;
      try {
        const client = await conn.ensure();
        const target = String((config.tether as { target?: unknown }).target);
        const { config: resolved, marker } = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: `Tether: forwarding to ${target}` },
          () =>
            resolveTether(config, client, {
              policy: settings().get<Policy>('reattach', 'auto'),
              envKubeconfig: process.env.KUBECONFIG ?? '',
              cwd: folder?.uri.fsPath ?? process.cwd(),
              waitMs: settings().get<number>('readyTimeoutSeconds', 60) * 1000,
            }),
        );
        originals.set(marker.id, { config: original, folder });
        log.appendLine(`${config.name ?? config.type}: ${marker.forward} Ready on pod ${marker.pod}, attaching to ${marker.local}`);
        return resolved as vscode.DebugConfiguration;
      } catch (err) {
        void vscode.window.showErrorMessage(`Tether: cannot start "${config.name ?? config.type}": ${messageOf(err)}`);
        return undefined;
      }
    },
  };
  const tetherType: vscode.DebugConfigurationProvider = {
    resolveDebugConfiguration(_folder, config) {
      if (typeof config.debugType === 'string' && config.debugType) {
        const { debugType, ...rest } = config;
        return { ...rest, type: debugType } as vscode.DebugConfiguration;
      }
      void vscode.window.showInformationMessage(
        'Tether: add an attach configuration with a "tether" block (launch.json → Add Configuration → Tether)',
      );
      return undefined;
    },
  };
  ctx.context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider('*', provider),
    vscode.debug.registerDebugConfigurationProvider('tether', tetherType),
    vscode.debug.registerDebugAdapterTrackerFactory('*', { createDebugAdapterTracker: (s) => tracker(s, reattacher) }),
    vscode.debug.onDidStartDebugSession((session) => {
      const marker = markerOf(session.configuration);
      const original = marker && originals.get(marker.id);
      if (marker && original) {
        reattacher.track({ sessionId: session.id, forward: marker.forward, policy: marker.reattach, pod: marker.pod, ...original });
      }
    }),
    vscode.debug.onDidTerminateDebugSession((session) => reattacher.sessionEnded(session.id)),
  );
  return reattacher;
}

/** Tells a user's stop (VS Code asks the adapter to disconnect before it reported its end) from a lost target. */
function tracker(session: vscode.DebugSession, reattacher: Reattacher): vscode.DebugAdapterTracker | undefined {
  if (!markerOf(session.configuration)) {
    return undefined;
  }
  let adapterEnded = false;
  return {
    onDidSendMessage(m: { type?: string; event?: string }) {
      if (m.type === 'event' && (m.event === 'terminated' || m.event === 'exited')) {
        adapterEnded = true;
      }
    },
    onWillReceiveMessage(m: { type?: string; command?: string }) {
      if (!adapterEnded && m.type === 'request' && (m.command === 'disconnect' || m.command === 'terminate')) {
        reattacher.userStopping(session.id);
      }
    },
  };
}

/** The Forwards and Sessions views and the status bar, redrawn from the store. */
function views(ctx: Ctx): void {
  const { store } = ctx;
  const forwardsChanged = new vscode.EventEmitter<void>();
  const details = (m: ItemModel): Node[] => m.details.map((d) => ({ kind: 'detail', ...d }));
  const children = (node: Node | undefined, top: () => Node[]): Node[] =>
    node?.kind === 'item' ? details(node.model) : node ? [] : top();
  const forwardsView = vscode.window.createTreeView<Node>('tether.forwards', {
    treeDataProvider: {
      onDidChangeTreeData: forwardsChanged.event,
      getTreeItem: treeItem,
      getChildren: (node) =>
        children(node, () => store.list().map((f) => ({ kind: 'item', model: forwardItem(f), name: f.spec.name }))),
    },
  });
  const sessionsView = vscode.window.createTreeView<Node>('tether.sessions', {
    treeDataProvider: {
      onDidChangeTreeData: ctx.sessionsChanged.event,
      getTreeItem: treeItem,
      getChildren: (node) => children(node, () => ctx.sessions.map((s) => ({ kind: 'item', model: sessionItem(s), name: s.id }))),
    },
  });
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  status.command = 'tether.forwards.focus';
  const render = (): void => {
    const model = statusBar(store.list(), store.connected);
    status.text = model.text;
    status.tooltip = model.tooltip;
    status.backgroundColor = model.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    status.show();
    forwardsChanged.fire();
    void vscode.commands.executeCommand('setContext', 'tether.connected', store.connected);
  };
  ctx.context.subscriptions.push(forwardsView, sessionsView, status, forwardsChanged, { dispose: store.onChange(render) });
  render();
}

function treeItem(node: Node): vscode.TreeItem {
  if (node.kind === 'detail') {
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.description = node.description;
    return item;
  }
  const item = new vscode.TreeItem(node.model.label, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = node.model.id;
  item.description = node.model.description;
  item.tooltip = node.model.tooltip;
  item.contextValue = node.model.contextValue;
  item.iconPath = new vscode.ThemeIcon(node.model.icon);
  return item;
}

/** The event feed: list, then WatchEvents, reconnecting with backoff when the daemon restarts. */
function follow(ctx: Ctx, reattacher: Reattacher): EventFeed<Event> {
  const { conn, store, log } = ctx;
  const feed = new EventFeed<Event>({
    open: async () => {
      const client = await conn.connect();
      store.reset(await client.listForwards());
      refreshSessions(ctx);
      return client.watchEvents() as unknown as EventStreamLike<Event>;
    },
    onEvent: (e) => {
      if (store.apply(e) || e.kind === 'tunnel_up') {
        refreshForwards(ctx);
      }
      if (e.kind === 'session') {
        refreshSessions(ctx);
      }
      reattacher.event(e);
    },
    onUp: () => log.appendLine('following tetherd events'),
    onDown: (err, retryMs) => {
      if (store.connected) {
        log.appendLine(`lost tetherd's event stream (${messageOf(err)}); retrying in ${retryMs} ms`);
      }
      conn.drop();
      store.disconnect();
      ctx.sessions = [];
      ctx.sessionsChanged.fire();
    },
    setTimer: timer,
  });
  feed.start();
  ctx.context.subscriptions.push({ dispose: () => feed.stop() });
  return feed;
}

const later = debounce(400);

function refreshForwards(ctx: Ctx): void {
  later('forwards', async () => {
    const client = ctx.conn.current;
    if (client) {
      ctx.store.reset(await client.listForwards());
    }
  });
}

function refreshSessions(ctx: Ctx): void {
  later('sessions', async () => {
    const client = ctx.conn.current;
    ctx.sessions = client ? await client.listSessions() : [];
    ctx.sessionsChanged.fire();
  });
}

/** The commands of the views and the palette. */
function commands(ctx: Ctx): void {
  const { conn, store } = ctx;
  const withClient = async (what: string, fn: (c: TetherClient) => Promise<unknown>): Promise<void> => {
    try {
      await fn(await conn.ensure());
      ctx.feed?.retryNow();
    } catch (err) {
      void vscode.window.showErrorMessage(`Tether: ${what}: ${messageOf(err)}`);
    }
  };
  const forwardOf = (node?: Node): Forward | undefined => (node?.kind === 'item' ? store.get(node.name) : undefined);
  const command = (id: string, fn: (node?: Node) => unknown): void => {
    ctx.context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };
  command('tether.startDaemon', () => withClient('failed to start tetherd', async () => undefined));
  command('tether.refresh', () => {
    ctx.feed?.retryNow();
    refreshForwards(ctx);
    refreshSessions(ctx);
  });
  command('tether.showLog', () => ctx.log.show());
  command('tether.createForward', () => createForward(withClient));
  command('tether.pauseForward', (node) => withClient('pause', (c) => c.pauseForward(nameOf(node))));
  command('tether.resumeForward', (node) => withClient('resume', (c) => c.resumeForward(nameOf(node))));
  command('tether.removeForward', async (node) => {
    const name = nameOf(node);
    const yes = await vscode.window.showWarningMessage(`Remove forward ${name} and free its local ports?`, { modal: true }, 'Remove');
    if (yes === 'Remove') {
      await withClient('remove', (c) => c.deleteForward(name));
    }
  });
  command('tether.copyAddress', async (node) => {
    const address = forwardOf(node)?.status.local_addresses[0];
    if (address) {
      await vscode.env.clipboard.writeText(address);
      vscode.window.setStatusBarMessage(`Copied ${address}`, 3000);
    }
  });
  command('tether.openInBrowser', async (node) => {
    const forward = forwardOf(node);
    const url = forward && browserUrl(forward);
    if (url) {
      await vscode.env.openExternal(vscode.Uri.parse(url));
    }
  });
  command('tether.attachSession', (node) => attach(ctx, nameOf(node)));
  command('tether.killSession', (node) =>
    withClient('kill session', async (c) => {
      await c.killSession(nameOf(node));
      refreshSessions(ctx);
    }),
  );
}

/** A terminal bridged to AttachSession; closing it detaches. */
function attach(ctx: Ctx, id: string): void {
  const write = new vscode.EventEmitter<string>();
  const closed = new vscode.EventEmitter<number | void>();
  const bridge = new AttachBridge(
    id,
    () => {
      const client = ctx.conn.current;
      if (!client) {
        throw new Error('tetherd is not connected');
      }
      return client.attachSession() as unknown as AttachStreamLike;
    },
    { write: (text) => write.fire(text), close: (code) => closed.fire(code) },
  );
  const pty: vscode.Pseudoterminal = {
    onDidWrite: write.event,
    onDidClose: closed.event,
    open: (dims) => bridge.open(dims),
    close: () => bridge.close(),
    handleInput: (data) => bridge.handleInput(data),
    setDimensions: (dims) => bridge.setDimensions(dims),
  };
  vscode.window.createTerminal({ name: `tether ${id}`, pty }).show();
}

/** Asks for a target and ports, then creates the forward and waits for Ready. */
async function createForward(withClient: (what: string, fn: (c: TetherClient) => Promise<unknown>) => Promise<void>): Promise<void> {
  const target = await vscode.window.showInputBox({
    title: 'Tether: new forward (1/3)',
    prompt: 'Target: TYPE/NAME or a pod name',
    placeHolder: 'deploy/web, svc/db, pod/api-0, sts/redis',
    validateInput: (v) => (v.trim() && !/\s/.test(v.trim()) ? undefined : 'one target, such as svc/db'),
  });
  if (!target) {
    return;
  }
  const ports = await vscode.window.showInputBox({
    title: 'Tether: new forward (2/3)',
    prompt: 'Ports: LOCAL:REMOTE, :REMOTE (any free local port) or PORT, separated by spaces',
    placeHolder: '8080:80 :9090',
    validateInput: (v) => (v.trim() ? undefined : 'at least one port'),
  });
  if (!ports) {
    return;
  }
  const namespace = await vscode.window.showInputBox({
    title: 'Tether: new forward (3/3)',
    prompt: "Namespace (empty: the context's namespace)",
  });
  if (namespace === undefined) {
    return;
  }
  await withClient(`failed to forward ${target}`, async (c) => {
    const spec = {
      name: '',
      target: target.trim(),
      namespace: namespace.trim(),
      context: '',
      kubeconfig: process.env.KUBECONFIG ?? '',
      ports: ports.trim().split(/\s+/),
      address: '',
    };
    const { forward, existed } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Tether: forwarding ${spec.target}` },
      () => c.createForward(spec, true, 30_000),
    );
    const where = forward.status.local_addresses.join(', ');
    const state = forward.status.phase === 'PHASE_READY' ? `Ready at ${where}` : `${forward.status.phase}: ${forward.status.reason}`;
    void vscode.window.showInformationMessage(`Tether: forward ${forward.spec.name}${existed ? ' (existed)' : ''}: ${state}`);
  });
}

function nameOf(node?: Node): string {
  if (node?.kind !== 'item') {
    throw new Error('run this command from the Tether view');
  }
  return node.name;
}

/** Runs `fn` after `ms` (at once when `ms` is not positive); returns a cancel function. */
function timer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** Runs the last `fn` given per key, `ms` after the last call. */
function debounce(ms: number): (key: string, fn: () => Promise<void>) => void {
  const timers = new Map<string, NodeJS.Timeout>();
  return (key, fn) => {
    clearTimeout(timers.get(key));
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        fn().catch(() => undefined);
      }, ms),
    );
  };
}
