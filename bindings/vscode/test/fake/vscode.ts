// A fake `vscode` module: just enough of the API for activate(), the debug provider, the views
// and the terminal, recording what the extension shows and starts.

type Listener<T> = (value: T) => unknown;

export class EventEmitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): { dispose(): void } => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(value: T): void {
    this.listeners.forEach((l) => l(value));
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export interface FakeSession {
  id: string;
  type: string;
  name: string;
  configuration: Record<string, unknown>;
}

/** What the extension did, for assertions. */
export interface Recorded {
  errors: string[];
  infos: string[];
  warnings: string[];
  started: { folder: unknown; config: Record<string, unknown>; at: number }[];
  providers: Map<string, Record<string, (...args: unknown[]) => unknown>>;
  trackerFactories: Map<string, { createDebugAdapterTracker(s: FakeSession): Record<string, (m: unknown) => void> | undefined }>;
  commands: Map<string, (...args: unknown[]) => unknown>;
  terminals: { name: string; pty: Record<string, unknown> }[];
  status: { text: string; tooltip: string; backgroundColor: unknown };
  clipboard: string[];
  opened: string[];
  log: string[];
  context: Map<string, unknown>;
}

export interface Fake {
  module: Record<string, unknown>;
  recorded: Recorded;
  settings: Record<string, unknown>;
  /** Resolves `config` as VS Code would before a session: through the provider for every type. */
  resolve(config: object, folder?: unknown): Promise<Record<string, unknown> | undefined>;
  /** Tells the extension a debug session started or ended, as VS Code would. */
  sessionStarted(s: FakeSession): void;
  sessionEnded(s: FakeSession): void;
  /** Waits (with a deadline) until `pred` holds, polling the recorded state. */
  until<T>(what: string, pred: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** Answers for showInformationMessage with items (the user's click). */
  answers: (string | undefined)[];
}

export function createFakeVscode(settings: Record<string, unknown> = {}): Fake {
  const started = new EventEmitter<FakeSession>();
  const ended = new EventEmitter<FakeSession>();
  const answers: (string | undefined)[] = [];
  const recorded: Recorded = {
    errors: [],
    infos: [],
    warnings: [],
    started: [],
    providers: new Map(),
    trackerFactories: new Map(),
    commands: new Map(),
    terminals: [],
    status: { text: '', tooltip: '', backgroundColor: undefined },
    clipboard: [],
    opened: [],
    log: [],
    context: new Map(),
  };
  const disposable = { dispose: () => undefined };
  class TreeItem {
    id?: string;
    description?: string;
    tooltip?: string;
    contextValue?: string;
    iconPath?: unknown;
    constructor(
      public label: string,
      public collapsibleState?: number,
    ) {}
  }
  const module = {
    EventEmitter,
    TreeItem,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    ThemeIcon: class {
      constructor(public id: string) {}
    },
    ThemeColor: class {
      constructor(public id: string) {}
    },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    Uri: { parse: (s: string) => ({ toString: () => s, fsPath: s }) },
    window: {
      createOutputChannel: () => ({ appendLine: (l: string) => recorded.log.push(l), show: () => undefined, dispose: () => undefined }),
      showErrorMessage: async (m: string) => void recorded.errors.push(m),
      showWarningMessage: async (m: string) => {
        recorded.warnings.push(m);
        return answers.shift();
      },
      showInformationMessage: async (m: string, ...items: string[]) => {
        recorded.infos.push(m);
        return items.length > 0 ? answers.shift() : undefined;
      },
      setStatusBarMessage: () => disposable,
      withProgress: (_o: unknown, fn: (p: unknown) => unknown) => fn({ report: () => undefined }),
      createTreeView: (_id: string, opts: unknown) => ({ ...disposable, options: opts }),
      createStatusBarItem: () => {
        const item = recorded.status as Record<string, unknown>;
        Object.assign(item, { show: () => undefined, hide: () => undefined, dispose: () => undefined });
        return item;
      },
      showInputBox: async () => answers.shift(),
      createTerminal: (opts: { name: string; pty: Record<string, unknown> }) => {
        recorded.terminals.push(opts);
        return { show: () => undefined, dispose: () => undefined };
      },
    },
    workspace: {
      getConfiguration: () => ({
        get: (key: string, def: unknown) => (key in settings ? settings[key] : def),
      }),
    },
    debug: {
      registerDebugConfigurationProvider: (type: string, p: Record<string, (...a: unknown[]) => unknown>) => {
        recorded.providers.set(type, p);
        return disposable;
      },
      registerDebugAdapterTrackerFactory: (type: string, f: Recorded['trackerFactories'] extends Map<string, infer F> ? F : never) => {
        recorded.trackerFactories.set(type, f);
        return disposable;
      },
      onDidStartDebugSession: started.event,
      onDidTerminateDebugSession: ended.event,
      startDebugging: async (folder: unknown, config: Record<string, unknown>) => {
        recorded.started.push({ folder, config, at: Date.now() });
        return true;
      },
    },
    commands: {
      registerCommand: (id: string, fn: (...a: unknown[]) => unknown) => {
        recorded.commands.set(id, fn);
        return disposable;
      },
      executeCommand: async (id: string, ...args: unknown[]) => {
        if (id === 'setContext') {
          recorded.context.set(String(args[0]), args[1]);
          return undefined;
        }
        return recorded.commands.get(id)?.(...args);
      },
    },
    env: {
      clipboard: { writeText: async (t: string) => void recorded.clipboard.push(t) },
      openExternal: async (u: { toString(): string }) => {
        recorded.opened.push(u.toString());
        return true;
      },
    },
  };
  const fake: Fake = {
    module,
    recorded,
    settings,
    answers,
    resolve: async (config, folder) => {
      const provider = recorded.providers.get('*');
      if (!provider) {
        throw new Error('activate() registered no provider for every debug type');
      }
      return (await provider.resolveDebugConfigurationWithSubstitutedVariables!(folder, config)) as Record<string, unknown> | undefined;
    },
    sessionStarted: (s) => started.fire(s),
    sessionEnded: (s) => ended.fire(s),
    until: (what, pred, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const tick = (): void => {
          const v = pred();
          if (v) {
            resolve(v);
          } else if (Date.now() > deadline) {
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
          } else {
            setTimeout(tick, 20);
          }
        };
        tick();
      }),
  };
  return fake;
}

/** An ExtensionContext with what activate() reads. */
export function fakeContext(): { subscriptions: { dispose(): unknown }[]; extension: { packageJSON: { version: string } } } {
  return { subscriptions: [], extension: { packageJSON: { version: '0.1.0' } } };
}

/** Disposes what activate() registered. */
export function dispose(context: { subscriptions: { dispose(): unknown }[] }): void {
  for (const s of context.subscriptions.splice(0)) {
    s.dispose();
  }
}

